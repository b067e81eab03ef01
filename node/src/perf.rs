//! The libp2p perf protocol, `/perf/1.0.0`: raw stream throughput over the node's own
//! transport stack, for operators and for comparing the exchange with the wire it runs on.
//!
//! The client sends the number of bytes it wants back (u64, big-endian), then its upload, then
//! closes its write side; the server drains the upload and answers with that many bytes.

use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{PeerId, StreamProtocol};

use crate::rt::{Instant, Rt};

/// The perf protocol.
pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new("/perf/1.0.0");

/// Inbound perf streams served at once, in all and per peer; more are dropped. Perf is served
/// only when the node is built to (Kubo serves none): each stream can move gigabytes.
const MAX_INBOUND: u32 = 8;
const MAX_INBOUND_PER_PEER: u32 = 1;

/// The perf service's stream slots.
pub(crate) fn slots() -> crate::inbound::Slots {
    crate::inbound::Slots::new("perf", MAX_INBOUND, MAX_INBOUND_PER_PEER)
}
/// The most a client may ask to download in one stream: 16 GiB.
const MAX_DOWNLOAD: u64 = 16 << 30;
/// How long a perf stream may stall before it is dropped.
const STALL: Duration = Duration::from_secs(30);
/// Write and read in chunks of this size.
const CHUNK: usize = 64 * 1024;

/// What one perf run measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PerfReport {
    /// Bytes sent.
    pub upload_bytes: u64,
    /// Time to send them (until the write side closed).
    pub upload_time: Duration,
    /// Bytes received.
    pub download_bytes: u64,
    /// Time to receive them (after the upload, until the end of the stream).
    pub download_time: Duration,
}

/// Why a perf run failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PerfError {
    /// The peer could not be reached.
    #[error(transparent)]
    Dial(#[from] crate::DialError),
    /// The peer does not speak `/perf/1.0.0`.
    #[error("{0} does not support /perf/1.0.0")]
    Unsupported(PeerId),
    /// The stream could not be opened, or failed.
    #[error("perf with {peer} failed")]
    Failed {
        /// The peer.
        peer: PeerId,
        /// What went wrong.
        #[source]
        source: crate::error::Cause,
    },
    /// No progress for too long.
    #[error("perf with {peer}: the {phase} stalled")]
    Stalled {
        /// The peer.
        peer: PeerId,
        /// `upload` or `download`.
        phase: &'static str,
    },
    /// The peer closed its stream before sending all that was asked.
    #[error("perf with {peer}: received {received} of {expected} bytes")]
    Incomplete {
        /// The peer.
        peer: PeerId,
        /// Bytes received.
        received: u64,
        /// Bytes asked for.
        expected: u64,
    },
}

/// Sends `n` zero bytes.
async fn send(stream: &mut libp2p::Stream, n: u64) -> std::io::Result<()> {
    let chunk = [0u8; CHUNK];
    let mut left = n;
    while left > 0 {
        let len = left.min(CHUNK as u64) as usize;
        stream.write_all(&chunk[..len]).await?;
        left -= len as u64;
    }
    Ok(())
}

/// Reads until the end of the stream; how many bytes came.
async fn drain(stream: &mut libp2p::Stream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut received = 0;
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(received),
            n => received += n as u64,
        }
    }
}

/// Serves perf streams until the node stops.
pub(crate) async fn serve(
    rt: Rt,
    incoming: libp2p_stream::IncomingStreams,
    slots: crate::inbound::Slots,
) {
    crate::inbound::serve(rt, incoming, slots, |rt, peer, mut stream| async move {
        let result = rt
            .timeout(STALL * 4, async {
                let mut header = [0u8; 8];
                stream.read_exact(&mut header).await?;
                let wanted = u64::from_be_bytes(header).min(MAX_DOWNLOAD);
                drain(&mut stream).await?;
                send(&mut stream, wanted).await?;
                stream.close().await
            })
            .await;
        if let Ok(Err(e)) = result {
            tracing::debug!(%peer, error = %e, "perf stream failed");
        }
    })
    .await
}

/// Runs one perf stream against a connected `peer`.
pub(crate) async fn run(
    rt: &Rt,
    mut control: libp2p_stream::Control,
    peer: PeerId,
    upload: u64,
    download: u64,
) -> Result<PerfReport, PerfError> {
    let failed = |source: crate::error::Cause| PerfError::Failed { peer, source };
    let stalled = |phase| PerfError::Stalled { peer, phase };
    let mut stream = match control.open_stream(peer, PROTOCOL).await {
        Ok(stream) => stream,
        Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_)) => {
            return Err(PerfError::Unsupported(peer));
        }
        Err(e) => return Err(failed(Arc::new(e))),
    };
    let started = Instant::now();
    let upload_phase = async {
        stream.write_all(&download.to_be_bytes()).await?;
        send(&mut stream, upload).await?;
        stream.close().await
    };
    rt.timeout(STALL + Duration::from_secs(upload >> 20), upload_phase)
        .await
        .map_err(|_| stalled("upload"))?
        .map_err(|e| failed(Arc::new(e)))?;
    let upload_time = started.elapsed();
    let started = Instant::now();
    let download_bytes = rt
        .timeout(
            STALL + Duration::from_secs(download >> 20),
            drain(&mut stream),
        )
        .await
        .map_err(|_| stalled("download"))?
        .map_err(|e| failed(Arc::new(e)))?;
    if download_bytes != download {
        return Err(PerfError::Incomplete {
            peer,
            received: download_bytes,
            expected: download,
        });
    }
    Ok(PerfReport {
        upload_bytes: upload,
        upload_time,
        download_bytes,
        download_time: started.elapsed(),
    })
}
