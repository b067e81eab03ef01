//! [`Node`]: the handle applications hold to a running node.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use libp2p::identity::PublicKey;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{Builder, DialError, PingError, Profile};

/// Something that happened on the node, for [`Node::subscribe`]rs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A listener has a new address.
    ListenAddr(Multiaddr),
    /// A connection to a peer is up (the first one, or another).
    Connected {
        /// The peer.
        peer: PeerId,
        /// Its address on this connection.
        addr: Multiaddr,
    },
    /// The last connection to a peer closed.
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
    /// mDNS found a peer on the local network.
    Discovered {
        /// The peer.
        peer: PeerId,
        /// The address it announced.
        addr: Multiaddr,
    },
    /// A peer told us who it is.
    Identified {
        /// The peer.
        peer: PeerId,
        /// Its agent version, such as `kubo/0.38.0` or `switchboard/0.1.0`.
        agent_version: String,
        /// The protocols it answers.
        protocols: Vec<String>,
        /// The addresses it advertises.
        listen_addrs: Vec<Multiaddr>,
    },
}

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We dialed.
    Outbound,
    /// They dialed.
    Inbound,
}

/// A connected peer, as `swarm peers` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The peer.
    pub peer: PeerId,
    /// Its address on the connection.
    pub addr: Multiaddr,
    /// Who dialed.
    pub direction: Direction,
}

/// What `id` reports about the node, shaped like Kubo's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The peer id.
    pub peer_id: PeerId,
    /// The public key.
    pub public_key: PublicKey,
    /// The addresses the node advertises, each ending in `/p2p/<peer id>`.
    pub addresses: Vec<Multiaddr>,
    /// The agent version.
    pub agent_version: String,
    /// The protocols the node answers.
    pub protocols: Vec<String>,
}

pub(crate) type Reply<T> = oneshot::Sender<T>;

/// What the handle asks of the swarm task.
#[derive(Debug)]
pub(crate) enum Command {
    Connect {
        addr: Multiaddr,
        reply: Reply<Result<PeerId, DialError>>,
    },
    DialPeer {
        peer: PeerId,
        reply: Reply<Result<PeerId, DialError>>,
    },
    ListenAddrs(Reply<Vec<Multiaddr>>),
    Advertised(Reply<Vec<Multiaddr>>),
    Peers(Reply<Vec<PeerInfo>>),
    Shutdown(Reply<()>),
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("peer_id", &self.public_key.to_peer_id())
            .finish_non_exhaustive()
    }
}

/// A running node. Cheap to clone; every clone drives the same swarm. The swarm stops on
/// [`Node::shutdown`] or when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    public_key: PublicKey,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    control: libp2p_stream::Control,
}

impl Node {
    /// A builder for a node of `profile`.
    pub fn builder(profile: impl Profile) -> Builder {
        Builder::new(&profile)
    }

    pub(crate) fn new(
        public_key: PublicKey,
        commands: mpsc::Sender<Command>,
        events: broadcast::Sender<Event>,
        control: libp2p_stream::Control,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                public_key,
                commands,
                events,
                control,
            }),
        }
    }

    /// The node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.public_key.to_peer_id()
    }

    /// Events from now on. A subscriber that falls more than 256 events behind misses the
    /// oldest (and is told so by the receiver).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.inner.commands.send(command(reply)).await.ok()?;
        answer.await.ok()
    }

    /// The addresses the node listens on (empty once stopped).
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.ask(Command::ListenAddrs).await.unwrap_or_default()
    }

    /// Who the node is and where it can be reached, as Kubo's `id`.
    pub async fn identity(&self) -> Identity {
        let peer_id = self.peer_id();
        let addresses = self.ask(Command::Advertised).await.unwrap_or_default();
        Identity {
            peer_id,
            public_key: self.inner.public_key.clone(),
            addresses: addresses
                .into_iter()
                .map(|a| a.with_p2p(peer_id).unwrap_or_else(|a| a))
                .collect(),
            agent_version: crate::behaviour::AGENT_VERSION.to_owned(),
            protocols: crate::behaviour::PROTOCOLS
                .iter()
                .map(|p| p.to_string())
                .collect(),
        }
    }

    /// Connects to the peer at `addr`. With a trailing `/p2p/<id>`, the peer must be that one.
    /// Returns at once when already connected to that peer.
    pub async fn connect(&self, addr: Multiaddr) -> Result<PeerId, DialError> {
        self.ask(|reply| Command::Connect { addr, reply })
            .await
            .unwrap_or(Err(DialError::Stopped))
    }

    /// The connected peers, one entry each.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.ask(Command::Peers).await.unwrap_or_default()
    }

    /// Pings `target` (a peer id, or an address to connect to first) `count` times over one
    /// `/ipfs/ping/1.0.0` stream; the round-trip times, in order.
    pub async fn ping(
        &self,
        target: &Multiaddr,
        count: NonZeroU32,
    ) -> Result<Vec<Duration>, PingError> {
        let peer = match target.iter().collect::<Vec<_>>().as_slice() {
            [Protocol::P2p(peer)] => {
                let peer = *peer;
                self.ask(|reply| Command::DialPeer { peer, reply })
                    .await
                    .unwrap_or(Err(DialError::Stopped))?
            }
            _ => self.connect(target.clone()).await?,
        };
        crate::ping::ping(self.inner.control.clone(), peer, count.get()).await
    }

    /// Stops the swarm: closes listeners and connections. Returns once it has stopped.
    pub async fn shutdown(&self) {
        self.ask(Command::Shutdown).await;
    }
}
