//! The Bitswap driver: runs switchboard-exchange's sans-IO [`Engine`] on the node's runtime, over
//! libp2p-stream streams.
//!
//! Inbound, every Bitswap protocol is accepted; each stream is read message by message until
//! the peer closes it (boxo keeps one open; Helia sends one batch per stream). Outbound, each
//! peer has a writer task that keeps one stream open while there is traffic, as boxo does. A
//! peer becomes a Bitswap peer when identify says it speaks a Bitswap protocol (with the newest
//! version it lists), or when its first Bitswap message arrives.
//!
//! Fetched blocks are stored on the blocking pool, a few batches at once, while the driver goes
//! on receiving; a waiter gets its block once it is stored.
//!
//! What a peer can make the driver hold is bounded: inbound streams and the bytes of messages
//! being read (`inbound.rs`), its ledger (the engine), the messages waiting for its writer
//! ([`Limits::max_queued_messages_per_peer`]: a peer that stops reading is disconnected) and
//! the time a write may take (`writer.rs`). A peer the engine finds misbehaving is banned.

mod inbound;
mod peers;
mod writer;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_channel::{Receiver, Sender, TrySendError};
use futures::channel::oneshot;
use futures::{FutureExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use switchboard_exchange::{
    Action, Block, Blockstore, Cid, Config, Engine, Message, PROTOCOLS, ReadError, Version,
};

use crate::config::Limits;
use crate::inbound::Slots;
use crate::node::Command as NodeCommand;
use crate::rt::{Instant, Rt};
use inbound::{ReadBudget, Reservation};
pub(crate) use peers::{PeerEvent, PeerFeed};

/// Commands queued from handles.
const COMMAND_QUEUE: usize = 64;
/// Messages read from all inbound streams, waiting for the engine.
const INBOUND_QUEUE: usize = 64;
/// Messages waiting for one peer's writer.
const WRITER_QUEUE: usize = 16;
/// Batches of fetched blocks being stored at once; later batches wait their turn.
const MAX_STORE_WRITES: usize = 4;
/// Batches of blocks being read from the store for peers at once.
const MAX_STORE_READS: usize = 4;
/// Peer events waiting for the driver; past that, the feed resends its whole state later.
const PEER_QUEUE: usize = 1024;

/// Why a block could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GetError {
    /// No connected peer delivered it in time.
    #[error("block {cid} not found within {after:?}")]
    Timeout {
        /// The block.
        cid: Cid,
        /// The timeout.
        after: Duration,
    },
    /// The CID names a codec or hash Switchboard does not handle.
    #[error(transparent)]
    Unsupported(#[from] switchboard_exchange::BlockError),
    /// The blockstore failed.
    #[error(transparent)]
    Store(#[from] switchboard_exchange::StoreError),
    /// The node has shut down.
    #[error("the node has shut down")]
    Stopped,
}

pub(crate) enum Command {
    Get {
        cid: Cid,
        reply: oneshot::Sender<Block>,
    },
    GiveUp(Cid),
    Added(Block),
    Stat(oneshot::Sender<BitswapStat>),
}

/// What the exchange has done since the node started, as Kubo's `ipfs bitswap stat` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BitswapStat {
    /// Blocks this node is fetching, in CID order.
    pub wantlist: Vec<Cid>,
    /// Peers known to speak Bitswap, in peer id order.
    pub peers: Vec<PeerId>,
    /// Bitswap messages read from peers.
    pub messages_received: u64,
    /// Blocks fetched from peers (verified against their CIDs).
    pub blocks_received: u64,
    /// Bytes of those blocks.
    pub data_received: u64,
    /// Blocks written to peers.
    pub blocks_sent: u64,
    /// Bytes of those blocks.
    pub data_sent: u64,
}

enum Input {
    Command(Command),
    /// A message from a peer, read from a stream speaking this version, with the share of the
    /// read budget its bytes hold until it is handled.
    Inbound {
        peer: PeerId,
        version: Version,
        message: Result<Message, ReadError>,
        _reservation: Option<Reservation>,
    },
    Sent(Sent),
    /// A batch of fetched blocks is stored (or the store failed or panicked, which was
    /// logged).
    Stored(Vec<Block>),
    Downgrade(PeerId, Option<Version>),
    Peer(PeerEvent),
    /// A batch of blocks read from the store for a peer, ready to send.
    Loaded(PeerId, Outgoing),
    Timeout,
}

/// A message for a peer's writer.
struct Outgoing {
    message: Message,
    /// The bytes the engine counts in flight for it (its `SendBlocks` bytes, 0 otherwise).
    planned: usize,
}

/// A writer's report on one message.
struct Sent {
    peer: PeerId,
    blocks: usize,
    bytes: usize,
    /// [`Outgoing::planned`].
    planned: usize,
    /// Whether the message reached the stream (else it was given up).
    written: bool,
}

/// The handle the node keeps.
#[derive(Debug, Clone)]
pub(crate) struct Bitswap {
    rt: Rt,
    commands: Sender<Command>,
    store: Arc<dyn Blockstore>,
    slots: Slots,
    budget: ReadBudget,
    limits: Limits,
}

impl Bitswap {
    /// Starts the driver and its inbound stream service; the feed is what the runner tells the
    /// driver about peers through.
    pub(crate) fn start(
        rt: Rt,
        store: Arc<dyn Blockstore>,
        mut control: libp2p_stream::Control,
        node_commands: Sender<NodeCommand>,
        limits: &Limits,
    ) -> (Self, PeerFeed) {
        let (commands, command_rx) = async_channel::bounded(COMMAND_QUEUE);
        let (peer_tx, peer_rx) = async_channel::bounded(PEER_QUEUE);
        let (inbound_tx, inbound_rx) = async_channel::bounded(INBOUND_QUEUE);
        // One set of slots and one budget for every Bitswap version: a peer cannot get more
        // by speaking several.
        let slots = Slots::new(
            "bitswap",
            limits.max_bitswap_streams,
            limits.max_bitswap_streams_per_peer,
        );
        let budget = ReadBudget::new(
            limits.bitswap_read_budget,
            limits.bitswap_read_budget_per_peer,
        );
        for (name, version) in PROTOCOLS {
            let incoming = control
                .accept(StreamProtocol::new(name))
                .expect("only bitswap registers bitswap");
            rt.spawn(inbound::serve(
                rt.clone(),
                incoming,
                version,
                slots.clone(),
                budget.clone(),
                limits.bitswap_stream_idle(),
                inbound_tx.clone(),
            ));
        }
        let (sent_tx, sent_rx) = async_channel::bounded(INBOUND_QUEUE);
        let driver = Driver {
            rt: rt.clone(),
            engine: Engine::new(Config::new()),
            store: store.clone(),
            control,
            writers: HashMap::new(),
            overflow: HashMap::new(),
            loads: VecDeque::new(),
            loading: 0,
            waiting: HashMap::new(),
            storing: HashSet::new(),
            unwritten: VecDeque::new(),
            writes: 0,
            sent_tx,
            stat: BitswapStat::default(),
            node_commands,
            max_queued: limits.max_queued_messages_per_peer as usize,
            write_timeout: limits.write_timeout(),
        };
        rt.spawn(driver.run(command_rx, inbound_rx, sent_rx, peer_rx));
        let bitswap = Self {
            rt,
            commands,
            store,
            slots,
            budget,
            limits: limits.clone(),
        };
        (bitswap, PeerFeed::new(peer_tx))
    }

    pub(crate) fn store(&self) -> &Arc<dyn Blockstore> {
        &self.store
    }

    /// The inbound stream slots.
    pub(crate) fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Bytes of messages being read or waiting for the engine.
    pub(crate) fn reading(&self) -> u64 {
        self.budget.in_use()
    }

    /// The limits the node was built with.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Stores a block and offers it to peers that want it.
    pub(crate) async fn put(&self, block: Block) -> Result<(), switchboard_exchange::StoreError> {
        let store = self.store.clone();
        let stored = block.clone();
        crate::node::blocking(&self.rt, move || store.put(&stored)).await?;
        let _ = self.commands.send(Command::Added(block)).await;
        Ok(())
    }

    /// The exchange's counters, wantlist and peers.
    pub(crate) async fn stat(&self) -> Result<BitswapStat, GetError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Stat(reply))
            .await
            .map_err(|_| GetError::Stopped)?;
        answer.await.map_err(|_| GetError::Stopped)
    }

    /// The runtime the node runs on.
    pub(crate) fn rt(&self) -> &Rt {
        &self.rt
    }

    /// The block `cid` names: from the store, or fetched from peers within `timeout`.
    pub(crate) async fn get(&self, cid: Cid, timeout: Duration) -> Result<Block, GetError> {
        switchboard_exchange::check_cid(&cid)?;
        let store = self.store.clone();
        let local = crate::node::blocking(&self.rt, move || store.get(&cid))
            .await
            .map_err(GetError::Store)?;
        if let Some(block) = local {
            return Ok(block);
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Get { cid, reply })
            .await
            .map_err(|_| GetError::Stopped)?;
        // However this ends (an answer, the timeout, or the caller dropping the future), the
        // want is given up unless the block came: no caller, no want.
        let mut give_up = GiveUp {
            commands: &self.commands,
            cid: Some(cid),
        };
        match self.rt.timeout(timeout, answer).await {
            Ok(Ok(block)) => {
                give_up.cid = None;
                Ok(block)
            }
            Ok(Err(_)) => Err(GetError::Stopped),
            Err(_) => Err(GetError::Timeout {
                cid,
                after: timeout,
            }),
        }
    }
}

/// Tells the driver a waiter is gone when dropped. A full command queue loses the message;
/// the driver's sweep of closed waiters ([`Driver::sweep`]) catches those.
struct GiveUp<'a> {
    commands: &'a Sender<Command>,
    cid: Option<Cid>,
}

impl Drop for GiveUp<'_> {
    fn drop(&mut self) {
        if let Some(cid) = self.cid.take() {
            let _ = self.commands.try_send(Command::GiveUp(cid));
        }
    }
}

struct Driver {
    rt: Rt,
    engine: Engine<PeerId>,
    store: Arc<dyn Blockstore>,
    control: libp2p_stream::Control,
    writers: HashMap<PeerId, Sender<Outgoing>>,
    /// Messages a full writer queue could not take yet, in order.
    overflow: HashMap<PeerId, VecDeque<Outgoing>>,
    /// Block batches to read from the store, and how many are being read.
    loads: VecDeque<(PeerId, Vec<Cid>, usize)>,
    loading: usize,
    waiting: HashMap<Cid, Vec<oneshot::Sender<Block>>>,
    /// Fetched blocks not stored yet: waiting for a write slot, or being written.
    storing: HashSet<Cid>,
    unwritten: VecDeque<Vec<Block>>,
    writes: usize,
    /// Where writer and store tasks report back.
    sent_tx: Sender<Input>,
    stat: BitswapStat,
    node_commands: Sender<NodeCommand>,
    max_queued: usize,
    write_timeout: Duration,
}

/// What a message carries, at trace level.
fn trace_message(direction: &'static str, peer: PeerId, message: &Message) {
    tracing::trace!(
        %peer,
        direction,
        wants = message.wants.len(),
        blocks = message.blocks.len(),
        presences = message.presences.len(),
        "bitswap message"
    );
}

impl Driver {
    async fn run(
        mut self,
        commands: Receiver<Command>,
        inbound: Receiver<Input>,
        sent: Receiver<Input>,
        peers: Receiver<PeerEvent>,
    ) {
        let (mut commands, mut inbound, mut sent, mut peers) = (
            std::pin::pin!(commands),
            std::pin::pin!(inbound),
            std::pin::pin!(sent),
            std::pin::pin!(peers),
        );
        loop {
            let timeout = self.engine.poll_timeout();
            let sleep = async {
                match timeout {
                    Some(at) => self.rt.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let input = {
                let mut sleep = std::pin::pin!(sleep.fuse());
                futures::select! {
                    command = commands.next() => match command {
                        Some(command) => Input::Command(command),
                        None => return,
                    },
                    input = inbound.select_next_some() => input,
                    input = sent.select_next_some() => input,
                    event = peers.next() => match event {
                        Some(event) => Input::Peer(event),
                        None => return,
                    },
                    () = sleep => Input::Timeout,
                }
            };
            self.handle(input);
            self.drain();
        }
    }

    /// Forgets waiters whose callers went away, and the wants nobody waits for any more.
    fn sweep(&mut self, now: Instant) {
        let mut abandoned = Vec::new();
        self.waiting.retain(|cid, waiters| {
            waiters.retain(|w| !w.is_canceled());
            if waiters.is_empty() {
                abandoned.push(*cid);
            }
            !waiters.is_empty()
        });
        for cid in abandoned {
            self.engine.cancel(&cid, now);
        }
    }

    fn handle(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Command(Command::Get { cid, reply }) => {
                self.waiting.entry(cid).or_default().push(reply);
                if !self.storing.contains(&cid) {
                    self.engine.want(cid, now);
                }
            }
            Input::Command(Command::GiveUp(cid)) => {
                if let Some(waiters) = self.waiting.get_mut(&cid) {
                    waiters.retain(|w| !w.is_canceled());
                    if waiters.is_empty() {
                        self.waiting.remove(&cid);
                        self.engine.cancel(&cid, now);
                    }
                }
            }
            Input::Command(Command::Added(block)) => {
                self.complete(&block);
                self.engine.block_added(&block);
            }
            Input::Inbound {
                peer,
                version,
                message: Ok(message),
                ..
            } => {
                trace_message("in", peer, &message);
                self.stat.messages_received += 1;
                self.engine
                    .handle_message(peer, version, message, self.store.as_ref(), now)
            }
            Input::Inbound {
                peer,
                version,
                message: Err(e),
                ..
            } => {
                tracing::debug!(%peer, error = %e, "malformed bitswap message");
                self.engine.handle_malformed(peer, version);
            }
            Input::Stored(blocks) => {
                self.writes -= 1;
                for block in &blocks {
                    self.storing.remove(block.cid());
                    self.complete(block);
                    self.engine.block_added(block);
                }
                self.write_next();
            }
            Input::Sent(sent) => {
                if sent.written {
                    self.stat.blocks_sent += sent.blocks as u64;
                    self.stat.data_sent += sent.bytes as u64;
                }
                self.engine.message_sent(sent.peer, sent.planned);
                self.refill(sent.peer);
            }
            Input::Command(Command::Stat(reply)) => {
                let mut stat = self.stat.clone();
                stat.wantlist = self.waiting.keys().copied().collect();
                stat.wantlist.sort();
                stat.peers = self.engine.peers().copied().collect();
                stat.peers.sort();
                let _ = reply.send(stat);
            }
            Input::Downgrade(peer, Some(version)) => self.engine.peer_connected(peer, version),
            Input::Downgrade(peer, None) => {
                self.writers.remove(&peer);
                self.engine.peer_disconnected(peer, now);
            }
            Input::Peer(PeerEvent::Speaks(peer, version)) => {
                self.engine.peer_connected(peer, version)
            }
            Input::Peer(PeerEvent::Gone(peer)) => self.forget(peer, now),
            // The writer finishes what it has on its stream; the next message opens one on
            // the direct connection.
            Input::Peer(PeerEvent::Direct(peer)) => {
                self.writers.remove(&peer);
            }
            Input::Peer(PeerEvent::Resync(connected)) => {
                let known: HashSet<PeerId> = self.engine.peers().copied().collect();
                for peer in known.iter().filter(|p| !connected.contains_key(p)) {
                    self.forget(*peer, now);
                }
                for (peer, version) in connected {
                    // A peer known already keeps the version its streams settled on.
                    if let (Some(version), false) = (version, known.contains(&peer)) {
                        self.engine.peer_connected(peer, version);
                    }
                }
            }
            Input::Loaded(peer, outgoing) => {
                self.loading -= 1;
                // A peer gone meanwhile has no ledger to answer to: its blocks are dropped.
                if self.engine.peers().any(|p| *p == peer) {
                    self.queue_for(peer, outgoing);
                }
                self.read_next();
            }
            Input::Timeout => {
                self.sweep(now);
                self.engine.handle_timeout(now);
            }
        }
    }

    /// Forgets a peer that is gone: its writer, what waited for it, its ledger.
    fn forget(&mut self, peer: PeerId, now: Instant) {
        self.writers.remove(&peer);
        self.overflow.remove(&peer);
        self.engine.peer_disconnected(peer, now);
    }

    fn drain(&mut self) {
        let received = self.drain_actions();
        if received.is_empty() {
            return;
        }
        self.storing.extend(received.iter().map(|b| *b.cid()));
        self.unwritten.push_back(received);
        self.write_next();
    }

    /// Starts storing waiting batches while there are write slots. The blocks that arrived
    /// together are stored in one `put_many` (one sync); once stored, they are handed out and
    /// offered to peers that want them ([`Input::Stored`]).
    fn write_next(&mut self) {
        while self.writes < MAX_STORE_WRITES {
            let Some(blocks) = self.unwritten.pop_front() else {
                return;
            };
            self.writes += 1;
            let store = self.store.clone();
            let done = self.sent_tx.clone();
            let rt = self.rt.clone();
            self.rt.spawn(async move {
                // The blocks are handed out whatever became of the write (a failed or
                // panicking store is logged); cloning them copies no data.
                let batch = blocks.clone();
                let count = blocks.len();
                match rt.blocking(move || store.put_many(&batch)).await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, blocks = count, "cannot store fetched blocks")
                    }
                    None => tracing::warn!(blocks = count, "storing fetched blocks panicked"),
                }
                let _ = done.send(Input::Stored(blocks)).await;
            });
        }
    }

    /// Carries out every pending action but `Received`, whose blocks it returns.
    fn drain_actions(&mut self) -> Vec<Block> {
        let mut received = Vec::new();
        while let Some(action) = self.engine.poll_action() {
            match action {
                // The writer encodes for the version its stream negotiated.
                Action::Send { peer, message, .. } => {
                    trace_message("out", peer, &message);
                    let outgoing = Outgoing {
                        message,
                        planned: 0,
                    };
                    self.queue_for(peer, outgoing);
                }
                Action::SendBlocks {
                    peer, cids, bytes, ..
                } => {
                    self.loads.push_back((peer, cids, bytes));
                    self.read_next();
                }
                Action::Received(block) => {
                    self.stat.blocks_received += 1;
                    self.stat.data_received += block.data().len() as u64;
                    received.push(block);
                }
                Action::Disconnect { peer, reason } => {
                    tracing::info!(%peer, ?reason, "banning a misbehaving bitswap peer");
                    // Waits for room in the command queue rather than losing the ban.
                    let commands = self.node_commands.clone();
                    self.rt.spawn(async move {
                        let _ = commands.send(NodeCommand::Ban(peer)).await;
                    });
                }
            }
        }
        received
    }

    /// Queues `outgoing` for `peer`'s writer. A peer that lets more than the limit pile up has
    /// stopped reading: what waits for it is dropped, and so is it.
    fn queue_for(&mut self, peer: PeerId, outgoing: Outgoing) {
        let queue = self.overflow.entry(peer).or_default();
        queue.push_back(outgoing);
        if queue.len() > self.max_queued {
            tracing::info!(%peer, queued = queue.len(), "dropping a bitswap peer that stopped reading");
            self.overflow.remove(&peer);
            self.writers.remove(&peer);
            let _ = self.node_commands.try_send(NodeCommand::Disconnect(peer));
            return;
        }
        self.refill(peer);
    }

    /// Reads waiting block batches from the store on the blocking pool, a few at once: the
    /// engine never reads block data, and the driver's task never waits on the disk. A block
    /// gone since it was wanted (or unreadable) is left out of its message.
    fn read_next(&mut self) {
        while self.loading < MAX_STORE_READS {
            let Some((peer, cids, planned)) = self.loads.pop_front() else {
                return;
            };
            self.loading += 1;
            let store = self.store.clone();
            let done = self.sent_tx.clone();
            let rt = self.rt.clone();
            self.rt.spawn(async move {
                let blocks = rt
                    .blocking(move || {
                        cids.iter()
                            .filter_map(|cid| store.get(cid).ok().flatten())
                            .collect::<Vec<_>>()
                    })
                    .await
                    .unwrap_or_default();
                let message = Message {
                    blocks,
                    ..Message::default()
                };
                trace_message("out", peer, &message);
                let outgoing = Outgoing { message, planned };
                let _ = done.send(Input::Loaded(peer, outgoing)).await;
            });
        }
    }

    /// Hands the writer of `peer` as many overflowed messages as it takes.
    fn refill(&mut self, peer: PeerId) {
        let Some(queue) = self.overflow.get_mut(&peer) else {
            return;
        };
        let writer = self.writers.entry(peer).or_insert_with(|| {
            let (tx, rx) = async_channel::bounded(WRITER_QUEUE);
            self.rt.spawn(writer::write_to(
                self.rt.clone(),
                peer,
                self.control.clone(),
                rx,
                self.sent_tx.clone(),
                self.write_timeout,
            ));
            tx
        });
        while let Some(next) = queue.pop_front() {
            match writer.try_send(next) {
                Ok(()) => {}
                Err(TrySendError::Full(next)) => {
                    queue.push_front(next);
                    break;
                }
                Err(TrySendError::Closed(_)) => {
                    self.writers.remove(&peer);
                    break;
                }
            }
        }
        if queue.is_empty() {
            self.overflow.remove(&peer);
        }
    }

    fn complete(&mut self, block: &Block) {
        if let Some(waiters) = self.waiting.remove(block.cid()) {
            for waiter in waiters {
                let _ = waiter.send(block.clone());
            }
        }
    }
}
