//! [`Node`]: the handle applications hold to a running node.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_broadcast::RecvError;
use futures::channel::oneshot;
use libp2p::identity::PublicKey;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use switchboard_exchange::{Block, Cid, Codec, Hash};

use crate::bitswap::Bitswap;
pub use crate::bitswap::{BitswapStat, GetError};
use crate::{Builder, DialError, ListenError, PingError, Profile};

/// Something that happened on the node, for [`Node::subscribe`]rs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A listener has a new address (a relay reservation: the relay's address with
    /// `/p2p-circuit`).
    ListenAddr(Multiaddr),
    /// A listen address is gone (a relay reservation ended; the node reserves again).
    ListenAddrExpired(Multiaddr),
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
    /// Hole punching to a peer we are connected to through a relay ended: with a direct
    /// connection, or not (the relayed one stays).
    HolePunch {
        /// The peer.
        peer: PeerId,
        /// Whether a direct connection was made.
        succeeded: bool,
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
    /// Its address on the connection, without `/p2p`.
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
    Listen {
        addr: Multiaddr,
        reply: Reply<Result<Multiaddr, ListenError>>,
    },
    ListenAddrs(Reply<Vec<Multiaddr>>),
    Advertised(Reply<Vec<Multiaddr>>),
    Peers(Reply<Vec<PeerInfo>>),
    Disconnect(PeerId),
    /// Closes the peer's connections and refuses new ones for a while.
    Ban(PeerId),
    Connections(Reply<crate::ConnectionUsage>),
    Shutdown(Reply<()>),
}

impl std::fmt::Debug for Parts {
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
    inner: Arc<Parts>,
}

/// What a [`Node`] holds, shared by its clones; the runner makes it.
pub(crate) struct Parts {
    pub(crate) public_key: PublicKey,
    pub(crate) commands: async_channel::Sender<Command>,
    /// Subscriptions are made from it; it holds no events itself.
    pub(crate) events: async_broadcast::InactiveReceiver<Event>,
    pub(crate) control: libp2p_stream::Control,
    pub(crate) bitswap: Bitswap,
    /// The stream slots of each inbound service.
    pub(crate) services: Vec<crate::inbound::Slots>,
    /// What `id` says the node answers.
    pub(crate) protocols: Vec<String>,
    /// What the node holds as a relay, when it serves as one.
    pub(crate) relay: Option<crate::relay::Ledger>,
}

/// A subscription to a node's [`Event`]s, made by [`Node::subscribe`]; runtime-agnostic.
#[derive(Debug)]
pub struct Events {
    inner: async_broadcast::Receiver<Event>,
    missed: u64,
}

impl Events {
    /// The next event; `None` once the node has stopped. Events the subscriber fell too far
    /// behind for are skipped.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.inner.recv().await {
                Ok(event) => return Some(event),
                Err(RecvError::Overflowed(missed)) => self.missed += missed,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// How many events were skipped because this subscriber fell behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

/// What the node has in use next to its limits, as `switchboard swarm resources` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resources {
    /// Connections.
    pub connections: crate::ConnectionUsage,
    /// Inbound streams per service.
    pub streams: Vec<crate::StreamUsage>,
    /// Bytes of Bitswap messages being read now.
    pub bitswap_reading: u64,
    /// The limits in force.
    pub limits: crate::config::Limits,
    /// What the node holds as a relay, next to the relay's limits; `None` when it is not one.
    pub relay: Option<crate::RelayUsage>,
}

impl Node {
    /// A builder for a node of `profile`.
    pub fn builder(profile: impl Profile) -> Builder {
        Builder::new(&profile)
    }

    pub(crate) fn new(parts: Parts) -> Self {
        Self {
            inner: Arc::new(parts),
        }
    }

    /// What the node has in use, next to its limits.
    pub async fn resources(&self) -> Resources {
        Resources {
            connections: self.ask(Command::Connections).await.unwrap_or_default(),
            streams: self.inner.services.iter().map(|s| s.usage()).collect(),
            bitswap_reading: self.inner.bitswap.reading(),
            limits: self.inner.bitswap.limits().clone(),
            relay: self.inner.relay.as_ref().map(|r| r.usage()),
        }
    }

    /// Blocks: put, get (from peers over Bitswap when not stored), stat, rm.
    pub fn block(&self) -> Blocks<'_> {
        Blocks {
            bitswap: &self.inner.bitswap,
        }
    }

    /// The node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.public_key.to_peer_id()
    }

    /// Events from now on. A subscriber that falls more than 256 events behind misses the
    /// oldest ([`Events::missed`] counts them) rather than holding the node up.
    pub fn subscribe(&self) -> Events {
        Events {
            inner: self.inner.events.activate_cloned(),
            missed: 0,
        }
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.inner.commands.send(command(reply)).await.ok()?;
        answer.await.ok()
    }

    /// Starts listening on `addr` and returns its first address once it has one. On a relay
    /// (`<relay address>/p2p/RELAY/p2p-circuit`) that is once the relay accepted the
    /// reservation; the node is then reachable at that address followed by `/p2p/SELF`, and
    /// reserves again whenever the reservation is lost, for as long as the node runs.
    pub async fn listen(&self, addr: Multiaddr) -> Result<Multiaddr, ListenError> {
        self.ask(|reply| Command::Listen { addr, reply })
            .await
            .unwrap_or(Err(ListenError::Stopped))
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
            protocols: self.inner.protocols.clone(),
        }
    }

    /// Connects to the peer at `addr`. With a trailing `/p2p/<id>`, the peer must be that one.
    /// Returns at once when already connected to that peer.
    pub async fn connect(&self, addr: Multiaddr) -> Result<PeerId, DialError> {
        self.ask(|reply| Command::Connect { addr, reply })
            .await
            .unwrap_or(Err(DialError::Stopped))
    }

    /// Closes every connection to `peer` (it may connect again).
    pub async fn disconnect(&self, peer: PeerId) {
        let _ = self.inner.commands.send(Command::Disconnect(peer)).await;
    }

    /// The connected peers, one entry each.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.ask(Command::Peers).await.unwrap_or_default()
    }

    /// Pings `target` (a peer id, or an address to connect to first) `count` times over one
    /// `/ipfs/ping/1.0.0` stream; the round-trip times, in order. For many pings, or pings
    /// reported as they come, use [`Node::pinger`].
    pub async fn ping(
        &self,
        target: &Multiaddr,
        count: NonZeroU32,
    ) -> Result<Vec<Duration>, PingError> {
        let mut pinger = self.pinger(target).await?;
        let mut rtts = Vec::new();
        for _ in 0..count.get() {
            rtts.push(pinger.ping().await?);
        }
        pinger.close().await;
        Ok(rtts)
    }

    /// Opens a ping stream to `target` (a peer id, or an address to connect to first).
    pub async fn pinger(&self, target: &Multiaddr) -> Result<crate::Pinger, PingError> {
        let peer = self.reach(target).await?;
        crate::ping::Pinger::open(
            self.inner.bitswap.rt().clone(),
            self.inner.control.clone(),
            peer,
        )
        .await
    }

    /// Runs the libp2p perf protocol against `target` (a peer id or an address to connect to
    /// first): sends `upload` bytes, then receives `download` bytes, over one stream.
    pub async fn perf(
        &self,
        target: &Multiaddr,
        upload: u64,
        download: u64,
    ) -> Result<crate::PerfReport, crate::PerfError> {
        let peer = self.reach(target).await?;
        crate::perf::run(
            self.inner.bitswap.rt(),
            self.inner.control.clone(),
            peer,
            upload,
            download,
        )
        .await
    }

    /// Connects to `target` unless already connected: a bare `/p2p/<id>` dials the peer's known
    /// addresses, anything else is dialed as an address.
    async fn reach(&self, target: &Multiaddr) -> Result<PeerId, DialError> {
        match target.iter().collect::<Vec<_>>().as_slice() {
            [Protocol::P2p(peer)] => {
                let peer = *peer;
                self.ask(|reply| Command::DialPeer { peer, reply })
                    .await
                    .unwrap_or(Err(DialError::Stopped))
            }
            _ => self.connect(target.clone()).await,
        }
    }

    /// Stops the swarm: closes listeners and connections. Returns once it has stopped.
    pub async fn shutdown(&self) {
        self.ask(Command::Shutdown).await;
    }
}

/// How long [`Blocks::get`] waits for peers by default.
pub const DEFAULT_GET_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a block could not be stored or read locally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// The data and CID settings do not make a block.
    #[error(transparent)]
    Block(#[from] switchboard_exchange::BlockError),
    /// The blockstore failed.
    #[error(transparent)]
    Store(#[from] switchboard_exchange::StoreError),
}

/// The node's blocks, as Kubo's `block` commands: see [`Node::block`].
#[derive(Debug)]
pub struct Blocks<'a> {
    bitswap: &'a Bitswap,
}

impl Blocks<'_> {
    /// Stores `data` as a raw block with a sha2-256 CIDv1 (Kubo's `block put` default).
    pub async fn put(&self, data: impl Into<bytes::Bytes>) -> Result<Cid, BlockError> {
        let block = Block::encode(Codec::Raw, Hash::Sha2_256, data)?;
        let cid = *block.cid();
        self.put_block(block).await?;
        Ok(cid)
    }

    /// Stores a block and offers it to peers that want it.
    pub async fn put_block(&self, block: Block) -> Result<(), BlockError> {
        Ok(self.bitswap.put(block).await?)
    }

    /// The block `cid` names, from the store or from peers, waiting up to
    /// [`DEFAULT_GET_TIMEOUT`].
    pub async fn get(&self, cid: &Cid) -> Result<Block, GetError> {
        self.bitswap.get(*cid, DEFAULT_GET_TIMEOUT).await
    }

    /// The block `cid` names, waiting up to `timeout` for peers.
    pub async fn get_with_timeout(&self, cid: &Cid, timeout: Duration) -> Result<Block, GetError> {
        self.bitswap.get(*cid, timeout).await
    }

    /// What the exchange has fetched and served since the node started, what it is fetching
    /// and from which peers (Kubo's `ipfs bitswap stat`).
    pub async fn bitswap_stat(&self) -> Result<BitswapStat, GetError> {
        self.bitswap.stat().await
    }

    /// The size of a stored block.
    pub async fn stat(&self, cid: &Cid) -> Result<Option<usize>, BlockError> {
        let (store, cid) = (self.bitswap.store().clone(), *cid);
        Ok(blocking(self.bitswap.rt(), move || store.size(&cid)).await?)
    }

    /// Removes a stored block; whether it was there.
    pub async fn rm(&self, cid: &Cid) -> Result<bool, BlockError> {
        let (store, cid) = (self.bitswap.store().clone(), *cid);
        Ok(blocking(self.bitswap.rt(), move || store.remove(&cid)).await?)
    }
}

/// Runs a blockstore call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    rt: &crate::rt::Rt,
    f: impl FnOnce() -> Result<T, switchboard_exchange::StoreError> + Send + 'static,
) -> Result<T, switchboard_exchange::StoreError> {
    rt.blocking(f).await.unwrap_or_else(|| {
        Err(switchboard_exchange::StoreError::Unavailable(
            "the blockstore call panicked".into(),
        ))
    })
}
