//! [`Node`]: the handle applications hold to a running node.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::identity::PublicKey;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::behaviour::PING_PROTOCOL;
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

/// How long one ping waits for its echo.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

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
        let failed = |reason: String| PingError::Failed { peer, reason };
        let mut stream = match self
            .inner
            .control
            .clone()
            .open_stream(peer, PING_PROTOCOL)
            .await
        {
            Ok(stream) => stream,
            Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_)) => {
                return Err(PingError::Unsupported(peer));
            }
            Err(e) => return Err(failed(e.to_string())),
        };
        let mut rtts = Vec::with_capacity(count.get() as usize);
        for _ in 0..count.get() {
            let payload: [u8; 32] = rand::random();
            let mut echo = [0u8; 32];
            let started = Instant::now();
            let exchange = async {
                stream.write_all(&payload).await?;
                stream.flush().await?;
                stream.read_exact(&mut echo).await
            };
            match tokio::time::timeout(PING_TIMEOUT, exchange).await {
                Err(_) => {
                    return Err(PingError::Timeout {
                        peer,
                        after: PING_TIMEOUT,
                    });
                }
                Ok(Err(e)) => return Err(failed(e.to_string())),
                Ok(Ok(())) if echo != payload => {
                    return Err(failed("the echo differs from what was sent".into()));
                }
                Ok(Ok(())) => rtts.push(started.elapsed()),
            }
        }
        // The peer may already have closed its side; the pings above are what count.
        let _ = stream.close().await;
        Ok(rtts)
    }

    /// Stops the swarm: closes listeners and connections. Returns once it has stopped.
    pub async fn shutdown(&self) {
        self.ask(Command::Shutdown).await;
    }
}
