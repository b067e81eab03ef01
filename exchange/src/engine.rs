//! The sans-IO Bitswap engine: wantlists, per-peer ledgers and request scheduling.
//!
//! The engine never opens a stream, spawns a task or reads the clock. The driver feeds it
//! events (a peer connected, a message arrived, a write finished, time passed, with `now`) and
//! drains [`Action`]s (send this message, this block arrived, drop this peer). Peers are any
//! `Copy + Eq + Hash` value, so tests drive the engine with small integers and simulated time.

mod client;
mod server;

use std::collections::{HashMap, VecDeque};
use std::hash::Hash as StdHash;
use web_time::Instant;

use cid::Cid;

use crate::message::{Message, Version};
use crate::{Block, Blockstore, Config};

/// Why the engine wants a peer gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// It sent blocks nobody asked for (or that match no wanted CID).
    UnwantedBlocks,
    /// It sent messages that do not decode.
    MalformedMessages,
    /// It sent more wants than the per-peer limit, again and again.
    WantFlood,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<P> {
    /// Send `message` to `peer` (on a stream of the peer's protocol version); call
    /// [`Engine::message_sent`] when written.
    Send {
        /// The peer.
        peer: P,
        /// The message.
        message: Message,
        /// The version to encode it for.
        version: Version,
    },
    /// Send `peer` the blocks `cids` in one message: read them from the store (off the
    /// engine's thread: the engine never reads block data), leave out any gone since, and call
    /// [`Engine::message_sent`] with `bytes` when written (or given up).
    SendBlocks {
        /// The peer.
        peer: P,
        /// The blocks, in order.
        cids: Vec<Cid>,
        /// Their bytes, as the engine counts them in flight.
        bytes: usize,
        /// The version to encode the message for.
        version: Version,
    },
    /// A wanted block arrived, verified against the wanted CID: store it and wake whoever
    /// waits for it.
    Received(Block),
    /// Close every connection to `peer`.
    Disconnect {
        /// The peer.
        peer: P,
        /// Why.
        reason: Misbehaviour,
    },
}

struct PeerState {
    version: Version,
    strikes: u32,
}

/// The Bitswap engine, client and server in one.
pub struct Engine<P> {
    config: Config,
    peers: HashMap<P, PeerState>,
    client: client::Client<P>,
    server: server::Server<P>,
    actions: VecDeque<Action<P>>,
}

impl<P: Copy + Eq + StdHash + std::fmt::Debug> Engine<P> {
    /// An engine with no peers and no wants.
    pub fn new(config: Config) -> Self {
        Self {
            client: client::Client::new(),
            server: server::Server::new(),
            config,
            peers: HashMap::new(),
            actions: VecDeque::new(),
        }
    }

    /// A peer connected; it speaks `version`. It is sent our wantlist. Announcing a known peer
    /// again (identify pushed a change, a protocol downgrade) updates its version and keeps
    /// its strikes.
    pub fn peer_connected(&mut self, peer: P, version: Version) {
        self.peers
            .entry(peer)
            .and_modify(|state| state.version = version)
            .or_insert(PeerState {
                version,
                strikes: 0,
            });
        self.client.peer_connected(peer, version);
        self.flush_client();
    }

    /// The last connection to a peer closed: its wants are forgotten and blocks it was asked
    /// for are asked of others.
    pub fn peer_disconnected(&mut self, peer: P, now: Instant) {
        self.peers.remove(&peer);
        self.server.peer_disconnected(&peer);
        self.client.peer_disconnected(&peer, now, &self.config);
        self.flush_client();
    }

    /// Starts fetching `cid` from connected peers (and peers that connect later).
    pub fn want(&mut self, cid: Cid, now: Instant) {
        self.client
            .want(cid, now, &self.peers_versions(), &self.config);
        self.flush_client();
    }

    /// Stops fetching `cid`; peers asked are sent a cancel. The block, should it still arrive
    /// (it was on its way), is dropped without blame.
    pub fn cancel(&mut self, cid: &Cid, now: Instant) {
        self.client.cancel(cid, now);
        self.flush_client();
    }

    /// The peers known to speak Bitswap.
    pub fn peers(&self) -> impl Iterator<Item = &P> {
        self.peers.keys()
    }

    /// Whether `cid` is being fetched.
    pub fn is_wanted(&self, cid: &Cid) -> bool {
        self.client.is_wanted(cid)
    }

    /// A block was stored locally: peers that want it are served.
    pub fn block_added(&mut self, block: &Block) {
        self.server.block_added(block, &self.config);
        self.flush_server();
    }

    /// A message from `peer` arrived on a stream speaking `version`. A peer not announced yet
    /// (its identify still under way, or never sent) becomes known here: it opened a Bitswap
    /// stream, so it speaks Bitswap, and its wants and misbehaviour count from the first message.
    pub fn handle_message(
        &mut self,
        peer: P,
        version: Version,
        message: Message,
        store: &dyn Blockstore,
        now: Instant,
    ) {
        self.ensure_peer(peer, version);
        if !self
            .server
            .handle_wants(peer, &message, store, &self.config)
        {
            self.punish(peer, Misbehaviour::WantFlood);
        }
        let (received, unwanted) = self.client.handle_message(peer, message, now, &self.config);
        for block in received {
            self.actions.push_back(Action::Received(block));
        }
        if unwanted {
            self.punish(peer, Misbehaviour::UnwantedBlocks);
        }
        self.flush_client();
        self.flush_server();
    }

    /// A message from `peer`, on a stream speaking `version`, did not decode.
    pub fn handle_malformed(&mut self, peer: P, version: Version) {
        self.ensure_peer(peer, version);
        self.punish(peer, Misbehaviour::MalformedMessages);
    }

    fn ensure_peer(&mut self, peer: P, version: Version) {
        if !self.peers.contains_key(&peer) {
            self.peer_connected(peer, version);
        }
    }

    /// A message to `peer` was written (or failed); `bytes` is the `bytes` of its
    /// [`Action::SendBlocks`] (0 for an [`Action::Send`]). More answers may go out.
    pub fn message_sent(&mut self, peer: P, bytes: usize) {
        self.server.message_sent(&peer, bytes);
        self.flush_server();
    }

    /// Time passed: slow providers are replaced, want-haves are sent again.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.client
            .handle_timeout(now, &self.peers_versions(), &self.config);
        self.flush_client();
    }

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.client.poll_timeout()
    }

    /// The next thing the driver must do.
    pub fn poll_action(&mut self) -> Option<Action<P>> {
        self.actions.pop_front()
    }

    fn peers_versions(&self) -> Vec<(P, Version)> {
        self.peers.iter().map(|(p, s)| (*p, s.version)).collect()
    }

    fn punish(&mut self, peer: P, reason: Misbehaviour) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        state.strikes += 1;
        if state.strikes == self.config.max_strikes {
            self.actions.push_back(Action::Disconnect { peer, reason });
        }
    }

    fn flush_client(&mut self) {
        for (peer, message) in self.client.take_outbox() {
            if let Some(state) = self.peers.get(&peer) {
                self.actions.push_back(Action::Send {
                    peer,
                    message,
                    version: state.version,
                });
            }
        }
    }

    fn flush_server(&mut self) {
        for out in self.server.take_outbox(&self.config) {
            let peer = match &out {
                server::Out::Message(peer, _) | server::Out::Blocks(peer, ..) => *peer,
            };
            let Some(state) = self.peers.get(&peer) else {
                continue;
            };
            let version = state.version;
            self.actions.push_back(match out {
                server::Out::Message(peer, message) => Action::Send {
                    peer,
                    message,
                    version,
                },
                server::Out::Blocks(peer, cids, bytes) => Action::SendBlocks {
                    peer,
                    cids,
                    bytes,
                    version,
                },
            });
        }
    }
}

/// Messages to peers, merged per peer.
struct Outbox<P> {
    messages: HashMap<P, Message>,
    order: Vec<P>,
}

impl<P: Copy + Eq + StdHash> Outbox<P> {
    fn new() -> Self {
        Self {
            messages: HashMap::new(),
            order: Vec::new(),
        }
    }

    fn to(&mut self, peer: P) -> &mut Message {
        if !self.messages.contains_key(&peer) {
            self.order.push(peer);
        }
        self.messages.entry(peer).or_default()
    }

    fn take(&mut self) -> Vec<(P, Message)> {
        let mut messages = std::mem::take(&mut self.messages);
        std::mem::take(&mut self.order)
            .into_iter()
            .filter_map(|p| messages.remove(&p).map(|m| (p, m)))
            .filter(|(_, m)| !m.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests;
