//! `/webrtc`: a direct WebRTC connection to a peer that cannot be dialed (a browser, a node
//! behind a NAT), set up over a relayed connection (libp2p/specs `webrtc/webrtc.md`).
//!
//! A listener reserves on a circuit relay and listens on `/webrtc`: it is then reachable at
//! `<relay address>/p2p/RELAY/p2p-circuit/webrtc/p2p/SELF` ([`Stack`](crate::Stack) derives
//! that address from each relay reservation). A dialer connects to the relay's circuit, opens
//! a `/webrtc-signaling/0.0.1` stream over it and signals a WebRTC connection
//! (`signalling.rs`); the connection's streams are its data channels, framed as WebRTC-direct's
//! (libp2p-webrtc-utils). There is no noise on it: the peer is who the relayed connection
//! authenticated, and DTLS checks the certificate fingerprints the SDPs carried.
//!
//! The WebRTC stack is the browser's `RTCPeerConnection` in a page (`websys.rs`), and str0m
//! natively (`native.rs`), driven on the node's runtime: tokio, smol or async-std.

mod circuits;
#[cfg(not(wasm_browser))]
mod native;
pub(crate) mod signalling;
#[cfg(wasm_browser)]
mod websys;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use switchboard_runtime::Handle;

pub use circuits::Circuits;
pub use signalling::SignallingError;

use crate::{BuildError, Built, Companion, Context, Environment, Kind, Transport, Unsupported};

/// How long a dialer's signalling may take once its stream is open: js-libp2p's budget for
/// one address.
const DIAL_SIGNALLING: Duration = Duration::from_secs(6);
/// How long an inbound signalling exchange may take: js-libp2p's inbound upgrade budget.
const ANSWER_SIGNALLING: Duration = Duration::from_secs(10);
/// Signalling exchanges being answered at once, in all and from one peer; more are dropped.
const MAX_ANSWERING: u32 = 32;
const MAX_ANSWERING_PER_PEER: u32 = 2;

/// `/webrtc` (browser to browser, and to and from browsers), signalled through relays.
///
/// Listen on `/webrtc` next to a relay reservation; dial
/// `<relay address>/p2p/RELAY/p2p-circuit/webrtc/p2p/PEER`. Needs the relay client
/// ([`Relay`](crate::Relay)) and the node's streams ([`Context::with_streams`]) to signal over.
#[derive(Debug, Clone, Default)]
pub struct WebRtc {
    addresses: Option<Vec<std::net::IpAddr>>,
}

impl WebRtc {
    /// The `/webrtc` transport.
    ///
    /// Natively it offers a host candidate on every non-loopback interface address (on
    /// loopback when there is none); see [`WebRtc::with_local_addresses`]. In a page the
    /// browser gathers its candidates.
    pub fn new() -> Self {
        Self::default()
    }

    /// Natively, offers candidates on these addresses only (127.0.0.1 for peers on one host,
    /// say). A page's browser picks its own.
    pub fn with_local_addresses(
        mut self,
        addresses: impl IntoIterator<Item = std::net::IpAddr>,
    ) -> Self {
        self.addresses = Some(addresses.into_iter().collect());
        self
    }
}

/// The relay circuit and the peer a `/webrtc` address names: `…/p2p-circuit/webrtc/p2p/PEER`
/// gives `(…/p2p-circuit/p2p/PEER, PEER)`.
fn split(addr: &Multiaddr) -> Option<(Multiaddr, PeerId)> {
    let protocols: Vec<_> = addr.iter().collect();
    match protocols.as_slice() {
        [
            relay @ ..,
            Protocol::P2p(_),
            Protocol::P2pCircuit,
            Protocol::WebRTC,
            Protocol::P2p(peer),
        ] if !relay.is_empty() => {
            let circuit: Multiaddr = protocols[..protocols.len() - 2]
                .iter()
                .cloned()
                .chain([Protocol::P2p(*peer)])
                .collect();
            Some((circuit, *peer))
        }
        _ => None,
    }
}

impl Transport for WebRtc {
    fn kind(&self) -> Kind {
        Kind::WebRtc
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Native, Environment::Browser]
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        addr.iter().eq([Protocol::WebRTC])
    }

    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
        split(addr)
            .map(drop)
            .ok_or_else(|| Unsupported::Address(addr.clone()))
    }

    fn listens_through(&self, relayed: &Multiaddr) -> Option<Multiaddr> {
        let mut addr = relayed.clone();
        // The relay client reports its reservations with the node's own id last.
        if let Some(Protocol::P2p(_)) = addr.iter().last() {
            addr.pop();
        }
        matches!(addr.iter().last(), Some(Protocol::P2pCircuit))
            .then(|| addr.with(Protocol::WebRTC))
    }

    fn build(&self, ctx: &Context) -> Result<Built, BuildError> {
        let control = ctx
            .streams()
            .cloned()
            .ok_or(BuildError::NeedsStreams { kind: Kind::WebRtc })?;
        let stack = stack(ctx, self.addresses.clone())?;
        let (circuits, requests) = Circuits::new();
        // Within the node's upgrade deadline when that is shorter.
        let deadlines = (
            DIAL_SIGNALLING.min(ctx.upgrade_timeout()),
            ANSWER_SIGNALLING.min(ctx.upgrade_timeout()),
        );
        let transport = Signalled {
            control,
            stack,
            deadlines,
            rt: ctx.runtime().clone(),
            circuits: requests,
            listener: None,
            answering: Arc::new(Mutex::new(Answering::default())),
        };
        Ok(Built::new(libp2p::Transport::boxed(transport))
            .with_companion(Companion::WebRtc(circuits)))
    }
}

/// Makes the peer connections of one WebRTC stack.
pub(crate) trait Stack: Send + Sync + 'static {
    /// Signals a connection as the dialer over `stream`; the connection, as a muxer.
    fn dial(
        &self,
        stream: libp2p::Stream,
    ) -> BoxFuture<'static, Result<StreamMuxerBox, SignallingError>>;
    /// Signals a connection as the listener over `stream`.
    fn answer(
        &self,
        stream: libp2p::Stream,
    ) -> BoxFuture<'static, Result<StreamMuxerBox, SignallingError>>;
}

#[cfg(wasm_browser)]
fn stack(ctx: &Context, _: Option<Vec<std::net::IpAddr>>) -> Result<Arc<dyn Stack>, BuildError> {
    websys::stack(ctx)
}

#[cfg(not(wasm_browser))]
fn stack(
    ctx: &Context,
    addresses: Option<Vec<std::net::IpAddr>>,
) -> Result<Arc<dyn Stack>, BuildError> {
    native::stack(ctx, addresses)
}

/// How many signalling exchanges are being answered, in all and per peer.
#[derive(Debug, Default)]
struct Answering {
    total: u32,
    per_peer: HashMap<PeerId, u32>,
}

impl Answering {
    fn take(&mut self, peer: PeerId) -> bool {
        let of_peer = self.per_peer.entry(peer).or_default();
        if self.total >= MAX_ANSWERING || *of_peer >= MAX_ANSWERING_PER_PEER {
            return false;
        }
        *of_peer += 1;
        self.total += 1;
        true
    }

    fn give_back(&mut self, peer: PeerId) {
        self.total = self.total.saturating_sub(1);
        if let Some(of_peer) = self.per_peer.get_mut(&peer) {
            *of_peer -= 1;
            if *of_peer == 0 {
                self.per_peer.remove(&peer);
            }
        }
    }
}

/// The libp2p transport: dials by signalling over a relayed connection, listens by answering
/// signalling streams.
struct Signalled {
    control: libp2p_stream::Control,
    stack: Arc<dyn Stack>,
    /// How long a dial's and an answer's signalling may take.
    deadlines: (Duration, Duration),
    rt: Handle,
    circuits: circuits::Requests,
    listener: Option<(ListenerId, libp2p_stream::IncomingStreams)>,
    answering: Arc<Mutex<Answering>>,
}

type Output = (PeerId, StreamMuxerBox);

fn io_error(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(e)
}

impl libp2p::Transport for Signalled {
    type Output = Output;
    type Error = std::io::Error;
    type ListenerUpgrade = BoxFuture<'static, Result<Output, std::io::Error>>;
    type Dial = BoxFuture<'static, Result<Output, std::io::Error>>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        if !addr.iter().eq([Protocol::WebRTC]) {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        if self.listener.is_some() {
            return Err(TransportError::Other(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "the node listens on /webrtc already",
            )));
        }
        let incoming = self
            .control
            .accept(signalling::PROTOCOL)
            .map_err(|e| TransportError::Other(io_error(e)))?;
        self.listener = Some((id, incoming));
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        match &self.listener {
            Some((listening, _)) if *listening == id => {
                self.listener = None;
                true
            }
            _ => false,
        }
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        let Some((circuit, peer)) = split(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        let (mut control, stack, rt) = (self.control.clone(), self.stack.clone(), self.rt.clone());
        let mut circuits = self.circuits.clone();
        let deadline = self.deadlines.0;
        Ok(async move {
            // The relayed connection first (this dial is one to the peer, which libp2p-stream
            // would wait for), then the signalling stream on it.
            let (reply, dialed) = futures::channel::oneshot::channel();
            futures::SinkExt::send(
                &mut circuits,
                circuits::Request {
                    peer,
                    circuit,
                    reply,
                },
            )
            .await
            .map_err(|_| std::io::Error::other("the node is shutting down"))?;
            dialed
                .await
                .map_err(|_| std::io::Error::other("the node is shutting down"))?
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::NotConnected, e))?;
            let stream = control
                .open_stream(peer, signalling::PROTOCOL)
                .await
                .map_err(io_error)?;
            let connection = rt
                .timeout(deadline, stack.dial(stream))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
                .map_err(io_error)?;
            Ok((peer, connection))
        }
        .boxed())
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        loop {
            let Some((listener_id, incoming)) = &mut self.listener else {
                return Poll::Pending;
            };
            let listener_id = *listener_id;
            let Some((peer, stream)) = futures::ready!(incoming.poll_next_unpin(cx)) else {
                self.listener = None;
                return Poll::Ready(TransportEvent::ListenerClosed {
                    listener_id,
                    reason: Ok(()),
                });
            };
            if !self
                .answering
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(peer)
            {
                tracing::debug!(%peer, "dropping a signalling stream: too many being answered");
                continue;
            }
            let (stack, rt, answering) =
                (self.stack.clone(), self.rt.clone(), self.answering.clone());
            let deadline = self.deadlines.1;
            let upgrade = async move {
                let answered = rt.timeout(deadline, stack.answer(stream)).await;
                answering
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .give_back(peer);
                let connection = answered
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
                    .map_err(io_error)?;
                Ok((peer, connection))
            }
            .boxed();
            return Poll::Ready(TransportEvent::Incoming {
                listener_id,
                upgrade,
                local_addr: Multiaddr::empty().with(Protocol::WebRTC),
                send_back_addr: Multiaddr::empty()
                    .with(Protocol::WebRTC)
                    .with(Protocol::P2p(peer)),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webrtc_address_names_its_circuit_and_peer() {
        let addr: Multiaddr = "/ip4/198.18.0.1/tcp/4002/ws/p2p/12D3KooWAp4gEGVEqqJi2NFdYZSQkDdaAcmA7SqKf9DSAXDbSN3C/p2p-circuit/webrtc/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA".parse().expect("addr");
        let (circuit, peer) = split(&addr).expect("a /webrtc address");
        assert_eq!(
            circuit.to_string(),
            "/ip4/198.18.0.1/tcp/4002/ws/p2p/12D3KooWAp4gEGVEqqJi2NFdYZSQkDdaAcmA7SqKf9DSAXDbSN3C/p2p-circuit/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        );
        assert_eq!(
            peer.to_string(),
            "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        );
        for not in [
            "/webrtc",
            "/p2p-circuit/webrtc/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
            "/ip4/1.2.3.4/udp/1/webrtc-direct",
        ] {
            assert!(split(&not.parse().expect("addr")).is_none(), "{not}");
        }
    }

    #[test]
    fn answering_is_bounded_in_all_and_per_peer() {
        let mut answering = Answering::default();
        let peer = PeerId::random();
        assert!(answering.take(peer) && answering.take(peer));
        assert!(!answering.take(peer), "a third from one peer");
        for _ in 2..MAX_ANSWERING {
            assert!(answering.take(PeerId::random()));
        }
        assert!(!answering.take(PeerId::random()), "over the total");
        answering.give_back(peer);
        assert!(answering.take(PeerId::random()));
    }
}
