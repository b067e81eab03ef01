//! The relay circuits `/webrtc` signals over: a behaviour that dials them for the transport.
//!
//! A `/webrtc` dial is itself a dial to its peer, so it cannot leave the circuit to
//! libp2p-stream (which dials a peer only when no dial to it is under way); it asks this
//! behaviour to dial the circuit the address names, whatever else is under way, and waits for
//! the relayed connection before it opens its signalling stream on it. A peer already
//! connected is not dialed again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::task::{Context, Poll};

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::swarm::behaviour::ConnectionEstablished;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, DialFailure, FromSwarm, NetworkBehaviour,
    THandler, THandlerInEvent, THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};

/// Dials asked for and not yet taken by the swarm; askers wait for room.
const QUEUE: usize = 32;

/// What a circuit dial came to: connected, or why not.
pub(crate) type Dialed = Result<(), String>;

/// A request for a circuit to a peer.
pub(crate) struct Request {
    pub(crate) peer: PeerId,
    pub(crate) circuit: Multiaddr,
    pub(crate) reply: oneshot::Sender<Dialed>,
}

/// The transport's end: where it asks for circuits.
pub(crate) type Requests = mpsc::Sender<Request>;

/// The behaviour: dials circuits and reports when they connect.
pub struct Circuits {
    requests: mpsc::Receiver<Request>,
    /// Dials made, by connection, and who waits for them.
    dialing: HashMap<ConnectionId, oneshot::Sender<Dialed>>,
    /// Dials to hand the swarm.
    to_dial: VecDeque<DialOpts>,
    /// Peers with a connection, and how many.
    connected: HashMap<PeerId, usize>,
    /// Connections counted in `connected`.
    connections: HashSet<ConnectionId>,
}

impl std::fmt::Debug for Circuits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Circuits")
            .field("dialing", &self.dialing.len())
            .finish_non_exhaustive()
    }
}

impl Circuits {
    /// The behaviour, and the transport's end of it.
    pub(crate) fn new() -> (Self, Requests) {
        let (tx, requests) = mpsc::channel(QUEUE);
        let circuits = Self {
            requests,
            dialing: HashMap::new(),
            to_dial: VecDeque::new(),
            connected: HashMap::new(),
            connections: HashSet::new(),
        };
        (circuits, tx)
    }

    fn request(&mut self, request: Request) {
        if self.connected.contains_key(&request.peer) {
            let _ = request.reply.send(Ok(()));
            return;
        }
        let opts = DialOpts::peer_id(request.peer)
            .addresses(vec![request.circuit])
            .condition(PeerCondition::Always)
            .build();
        self.dialing.insert(opts.connection_id(), request.reply);
        self.to_dial.push_back(opts);
    }
}

impl NetworkBehaviour for Circuits {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                ..
            }) => {
                *self.connected.entry(peer_id).or_default() += 1;
                self.connections.insert(connection_id);
                if let Some(reply) = self.dialing.remove(&connection_id) {
                    let _ = reply.send(Ok(()));
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                if self.connections.remove(&connection_id)
                    && let Some(count) = self.connected.get_mut(&peer_id)
                {
                    *count -= 1;
                    if *count == 0 {
                        self.connected.remove(&peer_id);
                    }
                }
            }
            FromSwarm::DialFailure(DialFailure {
                connection_id,
                error,
                ..
            }) => {
                if let Some(reply) = self.dialing.remove(&connection_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        libp2p::core::util::unreachable(event)
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        while let Poll::Ready(Some(request)) = self.requests.poll_next_unpin(cx) {
            self.request(request);
        }
        // Waiters that gave up take no room.
        self.dialing.retain(|_, reply| !reply.is_canceled());
        match self.to_dial.pop_front() {
            Some(opts) => Poll::Ready(ToSwarm::Dial { opts }),
            None => Poll::Pending,
        }
    }
}
