//! `/ipfs/ping/1.0.0` over `libp2p-stream`: on-demand pings out, an echo service in.
//!
//! libp2p-ping's behaviour pings on a timer and keeps a single inbound stream per connection,
//! so a second ping stream from the same peer (an on-demand `switchboard ping` next to the
//! timer's) would cut the first. The protocol is 32 random bytes echoed back, so the node
//! speaks it directly and serves concurrent streams like Kubo.

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{PeerId, StreamProtocol};

use crate::PingError;
use crate::rt::Instant;

/// The ping protocol.
pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfs/ping/1.0.0");

/// How long one ping waits for its echo, and an inbound stream for its next ping.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Inbound ping streams served at once; more are dropped.
const MAX_INBOUND: usize = 32;

/// Echoes every inbound ping stream until the node stops.
pub(crate) async fn serve(incoming: libp2p_stream::IncomingStreams) {
    crate::inbound::serve(
        incoming,
        MAX_INBOUND,
        "ping",
        |peer, mut stream| async move {
            let mut payload = [0u8; 32];
            loop {
                match crate::rt::timeout(TIMEOUT, stream.read_exact(&mut payload)).await {
                    Ok(Ok(())) => {}
                    // EOF, a reset or an idle peer: the stream is done either way.
                    Ok(Err(_)) | Err(_) => break,
                }
                if stream.write_all(&payload).await.is_err() || stream.flush().await.is_err() {
                    break;
                }
            }
            tracing::trace!(%peer, "inbound ping stream done");
        },
    )
    .await
}

/// Pings a connected `peer` `count` times over one stream.
pub(crate) async fn ping(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    count: u32,
) -> Result<Vec<Duration>, PingError> {
    let failed = |reason: String| PingError::Failed { peer, reason };
    let mut stream = match control.open_stream(peer, PROTOCOL).await {
        Ok(stream) => stream,
        Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_)) => {
            return Err(PingError::Unsupported(peer));
        }
        Err(e) => return Err(failed(e.to_string())),
    };
    let mut rtts = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let payload: [u8; 32] = rand::random();
        let mut echo = [0u8; 32];
        let started = Instant::now();
        let exchange = async {
            stream.write_all(&payload).await?;
            stream.flush().await?;
            stream.read_exact(&mut echo).await
        };
        match crate::rt::timeout(TIMEOUT, exchange).await {
            Err(_) => {
                return Err(PingError::Timeout {
                    peer,
                    after: TIMEOUT,
                });
            }
            Ok(Err(e)) => return Err(failed(e.to_string())),
            Ok(Ok(())) if echo != payload => {
                return Err(failed("the echo differs from what was sent".into()));
            }
            Ok(Ok(())) => rtts.push(started.elapsed()),
        }
    }
    // The pings above are what count; the peer may already have closed its side.
    let _ = stream.close().await;
    Ok(rtts)
}
