//! One writer task per peer: messages go out on one long-lived stream, as boxo sends them,
//! each within a write deadline.

use std::time::Duration;

use async_channel::{Receiver, Sender};
use futures::future::{Either, select};
use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncReadExt, AsyncWriteExt, FutureExt};
use libp2p::{PeerId, StreamProtocol};
use switchboard_exchange::{Message, PROTOCOLS, Version, write_message};

use super::{Input, Outgoing, Sent};
use crate::rt::{Elapsed, Rt};

/// How long a writer keeps an idle stream open.
const WRITER_IDLE: Duration = Duration::from_secs(5);
/// Further attempts to open a stream before a batch of messages is given up.
const OPEN_RETRIES: u32 = 3;
/// The wait before the first retry, growing linearly.
const OPEN_BACKOFF: Duration = Duration::from_millis(100);

/// Opens a Bitswap stream to `peer` with the newest protocol it accepts (older ones are tried
/// once each, and the engine told of the downgrade), retrying briefly when the open fails.
async fn open(
    rt: &Rt,
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    versions: &mut &'static [(&'static str, Version)],
    done: &Sender<Input>,
) -> Option<(libp2p::Stream, Version)> {
    let mut attempts = 0;
    loop {
        let ((name, version), rest) = versions.split_first()?;
        match control.open_stream(peer, StreamProtocol::new(name)).await {
            Ok(stream) => return Some((stream, *version)),
            Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_)) => {
                *versions = rest;
                let _ = done
                    .send(Input::Downgrade(peer, rest.first().map(|(_, v)| *v)))
                    .await;
            }
            // A connection going away mid-open: try again shortly, as boxo does (3 tries).
            Err(e) if attempts < OPEN_RETRIES => {
                attempts += 1;
                tracing::debug!(%peer, error = %e, attempts, "cannot open a bitswap stream; retrying");
                rt.sleep(OPEN_BACKOFF * attempts).await;
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "cannot open a bitswap stream");
                return None;
            }
        }
    }
}

/// One peer's writer. Messages go out on one long-lived stream, as boxo sends them: every new
/// stream is a chance for libp2p-stream to drop it on the receiving side when that side is
/// busy, and a dropped stream loses its messages without an error. The stream is closed after
/// [`WRITER_IDLE`] without messages (Helia drops idle ones after 10 s), and a message whose
/// write fails is written once more on a fresh stream. A write that takes longer than
/// `write_timeout` (the peer stopped reading) fails: its stream is dropped. Each message's block bytes are reported
/// when written (or given up), so the engine's flow control moves on.
pub(super) async fn write_to(
    rt: Rt,
    peer: PeerId,
    mut control: libp2p_stream::Control,
    mut queue: Receiver<Outgoing>,
    done: Sender<Input>,
    write_timeout: Duration,
) {
    let mut versions: &'static [(&'static str, Version)] = &PROTOCOLS;
    let mut current: Option<Outbound> = None;
    loop {
        let next = match &mut current {
            Some(outbound) => match outbound.idle(&rt, &mut queue).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "bitswap stream broke while idle");
                    current = None;
                    continue;
                }
            },
            None => Ok(queue.recv().await.ok()),
        };
        let Outgoing {
            message, planned, ..
        } = match next {
            Ok(Some(outgoing)) => outgoing,
            Ok(None) => break,
            Err(Elapsed) => {
                if let Some(outbound) = current.take() {
                    outbound.close().await;
                }
                continue;
            }
        };
        let mut written = false;
        for _ in 0..2 {
            if current.is_none() {
                current = open(&rt, &mut control, peer, &mut versions, &done)
                    .await
                    .map(|(stream, version)| Outbound::new(stream, version));
            }
            let Some(outbound) = &mut current else {
                break;
            };
            match rt.timeout(write_timeout, outbound.write(&message)).await {
                Ok(Ok(())) => {
                    written = true;
                    break;
                }
                // A broken stream: once more on a fresh one.
                Ok(Err(_)) => current = None,
                // A peer that stopped reading would not read a fresh stream either.
                Err(Elapsed) => {
                    tracing::debug!(%peer, after = ?write_timeout, "bitswap write timed out");
                    current = None;
                    break;
                }
            }
        }
        let sent = Sent {
            peer,
            blocks: message.blocks.len(),
            bytes: message.block_bytes(),
            planned,
            written,
        };
        if done.send(Input::Sent(sent)).await.is_err() || versions.is_empty() {
            break;
        }
    }
    if let Some(outbound) = current {
        outbound.close().await;
    }
}

/// A writer's stream, read while it is written to and while it idles.
///
/// A Bitswap peer writes nothing on a stream it accepted, but it may close its side, and Helia
/// does so at once: over WebRTC that close waits for our acknowledgement, which only a read
/// produces, and until it has it Helia reads nothing (and gives up on the stream once 4 MiB
/// are waiting). Reading also notices a stream the peer reset, before the next write fails.
struct Outbound {
    writer: WriteHalf<libp2p::Stream>,
    /// `None` once the peer closed its side: nothing more to read.
    reader: Option<ReadHalf<libp2p::Stream>>,
    version: Version,
}

impl Outbound {
    fn new(stream: libp2p::Stream, version: Version) -> Self {
        let (reader, writer) = stream.split();
        Self {
            writer,
            reader: Some(reader),
            version,
        }
    }

    /// Writes `message`.
    async fn write(&mut self, message: &Message) -> std::io::Result<()> {
        let Self {
            writer,
            reader,
            version,
        } = self;
        watching(
            reader,
            std::pin::pin!(write_message(writer, message, *version)),
        )
        .await?
    }

    /// Waits for the next message, for at most [`WRITER_IDLE`].
    async fn idle(
        &mut self,
        rt: &Rt,
        queue: &mut Receiver<Outgoing>,
    ) -> std::io::Result<Result<Option<Outgoing>, Elapsed>> {
        watching(
            &mut self.reader,
            std::pin::pin!(rt.timeout(WRITER_IDLE, queue.recv().map(Result::ok))),
        )
        .await
    }

    async fn close(mut self) {
        let _ = self.writer.close().await;
    }
}

/// Runs `work` to its end while reading what the peer sends on `reader` (discarded): the peer
/// closing its side empties `reader`, the stream breaking is the error.
async fn watching<F: Future + Unpin>(
    reader: &mut Option<ReadHalf<libp2p::Stream>>,
    mut work: F,
) -> std::io::Result<F::Output> {
    while let Some(half) = reader.as_mut() {
        let closed = {
            let read = std::pin::pin!(async {
                let mut discard = [0; 256];
                while half.read(&mut discard).await? != 0 {}
                Ok::<_, std::io::Error>(())
            });
            match select(&mut work, read).await {
                Either::Left((output, _)) => return Ok(output),
                Either::Right((closed, _)) => closed,
            }
        };
        closed?;
        *reader = None;
    }
    Ok(work.await)
}
