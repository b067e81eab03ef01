//! `/ipfs/ping/1.0.0` over `libp2p-stream`: on-demand pings out, an echo service in.
//!
//! libp2p-ping's behaviour pings on a timer and keeps a single inbound stream per connection,
//! so a second ping stream from the same peer (an on-demand `switchboard ping` next to the
//! timer's) would cut the first. The protocol is 32 random bytes echoed back, so the node
//! speaks it directly and serves concurrent streams like Kubo.

use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{PeerId, StreamProtocol};

use crate::PingError;
use crate::rt::{Instant, Rt};

/// The ping protocol.
pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfs/ping/1.0.0");

/// How long one ping waits for its echo, and an inbound stream for its next ping.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Inbound ping streams served at once, in all and per peer (Kubo's ping service allows two
/// per peer); more are dropped.
const MAX_INBOUND: u32 = 32;
const MAX_INBOUND_PER_PEER: u32 = 2;

/// The ping service's stream slots.
pub(crate) fn slots() -> crate::inbound::Slots {
    crate::inbound::Slots::new("ping", MAX_INBOUND, MAX_INBOUND_PER_PEER)
}

/// Echoes every inbound ping stream until the node stops.
pub(crate) async fn serve(
    rt: Rt,
    incoming: libp2p_stream::IncomingStreams,
    slots: crate::inbound::Slots,
) {
    crate::inbound::serve(rt, incoming, slots, |rt, peer, mut stream| {
        async move {
            let mut payload = [0u8; 32];
            loop {
                match rt.timeout(TIMEOUT, stream.read_exact(&mut payload)).await {
                    Ok(Ok(())) => {}
                    // EOF, a reset or an idle peer: the stream is done either way.
                    Ok(Err(_)) | Err(_) => break,
                }
                if stream.write_all(&payload).await.is_err() || stream.flush().await.is_err() {
                    break;
                }
            }
            tracing::trace!(%peer, "inbound ping stream done");
        }
    })
    .await
}

/// An open `/ipfs/ping/1.0.0` stream to a peer: each [`Pinger::ping`] is one round trip.
/// Made by [`Node::pinger`](crate::Node::pinger); as many pings as the caller likes cost one
/// stream and no memory.
#[derive(Debug)]
pub struct Pinger {
    rt: Rt,
    peer: PeerId,
    stream: libp2p::Stream,
}

impl Pinger {
    /// Opens a ping stream to a connected `peer`.
    pub(crate) async fn open(
        rt: Rt,
        mut control: libp2p_stream::Control,
        peer: PeerId,
    ) -> Result<Self, PingError> {
        match control.open_stream(peer, PROTOCOL).await {
            Ok(stream) => Ok(Self { rt, peer, stream }),
            Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_)) => {
                Err(PingError::Unsupported(peer))
            }
            Err(e) => Err(PingError::Failed {
                peer,
                source: Arc::new(e),
            }),
        }
    }

    /// The peer pinged.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// One round trip: 32 random bytes out, the same 32 back within 10 s.
    pub async fn ping(&mut self) -> Result<Duration, PingError> {
        let peer = self.peer;
        let payload: [u8; 32] = rand::random();
        let mut echo = [0u8; 32];
        let started = Instant::now();
        let stream = &mut self.stream;
        let exchange = async {
            stream.write_all(&payload).await?;
            stream.flush().await?;
            stream.read_exact(&mut echo).await
        };
        match self.rt.timeout(TIMEOUT, exchange).await {
            Err(_) => Err(PingError::Timeout {
                peer,
                after: TIMEOUT,
            }),
            Ok(Err(e)) => Err(PingError::Failed {
                peer,
                source: Arc::new(e),
            }),
            Ok(Ok(())) if echo != payload => Err(PingError::WrongEcho { peer }),
            Ok(Ok(())) => Ok(started.elapsed()),
        }
    }

    /// Closes the stream (the peer may already have closed its side).
    pub async fn close(mut self) {
        let _ = self.stream.close().await;
    }
}
