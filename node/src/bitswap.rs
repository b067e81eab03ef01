//! The Bitswap driver: runs switchboard-exchange's sans-IO [`Engine`] on tokio, over
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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::future::{Either, select};
use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{PeerId, StreamProtocol};
use switchboard_exchange::{
    Action, Block, Blockstore, Cid, Config, Engine, Message, PROTOCOLS, ReadError, Version,
    read_message, write_message,
};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::node::{Command as NodeCommand, Event};
use crate::rt;

/// Commands queued from handles.
const COMMAND_QUEUE: usize = 64;
/// Messages read from all inbound streams, waiting for the engine.
const INBOUND_QUEUE: usize = 64;
/// Messages waiting for one peer's writer.
const WRITER_QUEUE: usize = 16;
/// Inbound streams read at once; more are dropped (and logged).
const MAX_INBOUND_STREAMS: usize = 128;
/// How long a writer keeps an idle stream open.
const WRITER_IDLE: Duration = Duration::from_secs(5);
/// Further attempts to open a stream before a batch of messages is given up.
const OPEN_RETRIES: u32 = 3;
/// The wait before the first retry, growing linearly.
const OPEN_BACKOFF: Duration = Duration::from_millis(100);
/// How long an inbound stream may stay silent before it is dropped (Helia uses 10 s too).
const INBOUND_IDLE: Duration = Duration::from_secs(30);
/// Batches of fetched blocks being stored at once; later batches wait their turn.
const MAX_STORE_WRITES: usize = 4;

/// Why a block could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    #[error("{0}")]
    Store(String),
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
    /// A message from a peer, read from a stream speaking this version.
    Inbound(PeerId, Version, Result<Message, ReadError>),
    Sent(Sent),
    /// A batch of fetched blocks is stored (or the store failed or panicked, which was
    /// logged).
    Stored(Vec<Block>),
    Downgrade(PeerId, Option<Version>),
    Node(Event),
    Timeout,
}

/// A writer's report on one message.
struct Sent {
    peer: PeerId,
    blocks: usize,
    bytes: usize,
    /// Whether the message reached the stream (else it was given up).
    written: bool,
}

/// The handle the node keeps.
#[derive(Debug, Clone)]
pub(crate) struct Bitswap {
    commands: mpsc::Sender<Command>,
    store: Arc<dyn Blockstore>,
}

impl Bitswap {
    /// Starts the driver and its inbound stream service.
    pub(crate) fn start(
        store: Arc<dyn Blockstore>,
        mut control: libp2p_stream::Control,
        events: broadcast::Receiver<Event>,
        node_commands: mpsc::Sender<NodeCommand>,
    ) -> Self {
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        for (name, version) in PROTOCOLS {
            let incoming = control
                .accept(StreamProtocol::new(name))
                .expect("only bitswap registers bitswap");
            rt::spawn(serve_inbound(incoming, version, inbound_tx.clone()));
        }
        let (sent_tx, sent_rx) = mpsc::channel(INBOUND_QUEUE);
        let driver = Driver {
            engine: Engine::new(Config::new()),
            store: store.clone(),
            control,
            writers: HashMap::new(),
            overflow: HashMap::new(),
            waiting: HashMap::new(),
            storing: HashSet::new(),
            unwritten: VecDeque::new(),
            writes: 0,
            sent_tx,
            stat: BitswapStat::default(),
            node_commands,
        };
        rt::spawn(driver.run(command_rx, inbound_rx, sent_rx, events));
        Self { commands, store }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Blockstore> {
        &self.store
    }

    /// Stores a block and offers it to peers that want it.
    pub(crate) async fn put(&self, block: Block) -> Result<(), switchboard_exchange::StoreError> {
        let store = self.store.clone();
        let stored = block.clone();
        crate::node::blocking(move || store.put(&stored)).await?;
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

    /// The block `cid` names: from the store, or fetched from peers within `timeout`.
    pub(crate) async fn get(&self, cid: Cid, timeout: Duration) -> Result<Block, GetError> {
        switchboard_exchange::check_cid(&cid)?;
        let store = self.store.clone();
        let local = crate::node::blocking(move || store.get(&cid))
            .await
            .map_err(|e| GetError::Store(e.to_string()))?;
        if let Some(block) = local {
            return Ok(block);
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Get { cid, reply })
            .await
            .map_err(|_| GetError::Stopped)?;
        match rt::timeout(timeout, answer).await {
            Ok(Ok(block)) => Ok(block),
            Ok(Err(_)) => Err(GetError::Stopped),
            Err(_) => {
                let _ = self.commands.send(Command::GiveUp(cid)).await;
                Err(GetError::Timeout {
                    cid,
                    after: timeout,
                })
            }
        }
    }
}

/// Reads every inbound Bitswap stream, message by message, into the driver's queue.
async fn serve_inbound(
    incoming: libp2p_stream::IncomingStreams,
    version: Version,
    inbound: mpsc::Sender<Input>,
) {
    crate::inbound::serve(
        incoming,
        MAX_INBOUND_STREAMS,
        "bitswap",
        move |peer, mut stream| {
            let inbound = inbound.clone();
            async move {
                loop {
                    let next = rt::timeout(INBOUND_IDLE, read_message(&mut stream)).await;
                    let message = match next {
                        Ok(Ok(Some(message))) => Ok(message),
                        Ok(Ok(None)) | Err(_) => break,
                        // A stream that broke is the transport's problem, not misbehaviour.
                        Ok(Err(ReadError::Io(_))) => break,
                        Ok(Err(e)) => Err(e),
                    };
                    let failed = message.is_err();
                    if inbound
                        .send(Input::Inbound(peer, version, message))
                        .await
                        .is_err()
                        || failed
                    {
                        break;
                    }
                }
                let _ = stream.close().await;
            }
        },
    )
    .await
}

struct Driver {
    engine: Engine<PeerId>,
    store: Arc<dyn Blockstore>,
    control: libp2p_stream::Control,
    writers: HashMap<PeerId, mpsc::Sender<(Message, Version)>>,
    /// Messages a full writer queue could not take yet, in order.
    overflow: HashMap<PeerId, VecDeque<(Message, Version)>>,
    waiting: HashMap<Cid, Vec<oneshot::Sender<Block>>>,
    /// Fetched blocks not stored yet: waiting for a write slot, or being written.
    storing: HashSet<Cid>,
    unwritten: VecDeque<Vec<Block>>,
    writes: usize,
    /// Where writer and store tasks report back.
    sent_tx: mpsc::Sender<Input>,
    stat: BitswapStat,
    node_commands: mpsc::Sender<NodeCommand>,
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

/// The newest Bitswap version among a peer's protocols.
fn best_version(protocols: &[String]) -> Option<Version> {
    PROTOCOLS
        .iter()
        .find(|(name, _)| protocols.iter().any(|p| p == name))
        .map(|(_, v)| *v)
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut inbound: mpsc::Receiver<Input>,
        mut sent: mpsc::Receiver<Input>,
        mut events: broadcast::Receiver<Event>,
    ) {
        loop {
            let timeout = self.engine.poll_timeout();
            let sleep = async {
                match timeout {
                    Some(at) => rt::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let input = tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => Input::Command(command),
                    None => return,
                },
                Some(input) = inbound.recv() => input,
                Some(input) = sent.recv() => input,
                event = events.recv() => match event {
                    Ok(event) => Input::Node(event),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = sleep => Input::Timeout,
            };
            self.handle(input);
            self.drain();
        }
    }

    fn handle(&mut self, input: Input) {
        let now = rt::Instant::now();
        match input {
            Input::Command(Command::Get { cid, reply }) => {
                self.waiting.entry(cid).or_default().push(reply);
                if !self.storing.contains(&cid) {
                    self.engine.want(cid, now);
                }
            }
            Input::Command(Command::GiveUp(cid)) => {
                if let Some(waiters) = self.waiting.get_mut(&cid) {
                    waiters.retain(|w| !w.is_closed());
                    if waiters.is_empty() {
                        self.waiting.remove(&cid);
                        self.engine.cancel(&cid);
                    }
                }
            }
            Input::Command(Command::Added(block)) => {
                self.complete(&block);
                self.engine.block_added(&block, self.store.as_ref());
            }
            Input::Inbound(peer, version, Ok(message)) => {
                trace_message("in", peer, &message);
                self.stat.messages_received += 1;
                self.engine
                    .handle_message(peer, version, message, self.store.as_ref(), now)
            }
            Input::Inbound(peer, version, Err(e)) => {
                tracing::debug!(%peer, error = %e, "malformed bitswap message");
                self.engine.handle_malformed(peer, version);
            }
            Input::Stored(blocks) => {
                self.writes -= 1;
                for block in &blocks {
                    self.storing.remove(block.cid());
                    self.complete(block);
                    self.engine.block_added(block, self.store.as_ref());
                }
                self.write_next();
            }
            Input::Sent(sent) => {
                if sent.written {
                    self.stat.blocks_sent += sent.blocks as u64;
                    self.stat.data_sent += sent.bytes as u64;
                }
                self.engine
                    .message_sent(sent.peer, sent.bytes, self.store.as_ref());
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
            Input::Node(Event::Identified {
                peer, protocols, ..
            }) => {
                if let Some(version) = best_version(&protocols) {
                    self.engine.peer_connected(peer, version);
                }
            }
            Input::Node(Event::Disconnected { peer }) => {
                self.writers.remove(&peer);
                self.overflow.remove(&peer);
                self.engine.peer_disconnected(peer, now);
            }
            Input::Node(_) => {}
            Input::Timeout => self.engine.handle_timeout(now),
        }
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
            rt::spawn(async move {
                // The blocks are handed out whatever became of the write (a failed or
                // panicking store is logged); cloning them copies no data.
                let batch = blocks.clone();
                let count = blocks.len();
                match rt::blocking(move || store.put_many(&batch)).await {
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
                Action::Send {
                    peer,
                    message,
                    version,
                } => {
                    trace_message("out", peer, &message);
                    self.overflow
                        .entry(peer)
                        .or_default()
                        .push_back((message, version));
                    self.refill(peer);
                }
                Action::Received(block) => {
                    self.stat.blocks_received += 1;
                    self.stat.data_received += block.data().len() as u64;
                    received.push(block);
                }
                Action::Disconnect { peer, reason } => {
                    tracing::info!(%peer, ?reason, "dropping a misbehaving bitswap peer");
                    let _ = self.node_commands.try_send(NodeCommand::Disconnect(peer));
                }
            }
        }
        received
    }

    /// Hands the writer of `peer` as many overflowed messages as it takes.
    fn refill(&mut self, peer: PeerId) {
        let Some(queue) = self.overflow.get_mut(&peer) else {
            return;
        };
        let writer = self.writers.entry(peer).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(WRITER_QUEUE);
            rt::spawn(write_to(
                peer,
                self.control.clone(),
                rx,
                self.sent_tx.clone(),
            ));
            tx
        });
        while let Some(next) = queue.pop_front() {
            match writer.try_send(next) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(next)) => {
                    queue.push_front(next);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
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

/// Opens a Bitswap stream to `peer` with the newest protocol it accepts (older ones are tried
/// once each, and the engine told of the downgrade), retrying briefly when the open fails.
async fn open(
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    versions: &mut &'static [(&'static str, Version)],
    done: &mpsc::Sender<Input>,
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
                rt::sleep(OPEN_BACKOFF * attempts).await;
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
/// write fails is written once more on a fresh stream. Each message's block bytes are reported
/// when written (or given up), so the engine's flow control moves on.
async fn write_to(
    peer: PeerId,
    mut control: libp2p_stream::Control,
    mut queue: mpsc::Receiver<(Message, Version)>,
    done: mpsc::Sender<Input>,
) {
    let mut versions: &'static [(&'static str, Version)] = &PROTOCOLS;
    let mut current: Option<Outbound> = None;
    loop {
        let next = match &mut current {
            Some(outbound) => match outbound.idle(&mut queue).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "bitswap stream broke while idle");
                    current = None;
                    continue;
                }
            },
            None => Ok(queue.recv().await),
        };
        let message = match next {
            Ok(Some((message, _))) => message,
            Ok(None) => break,
            Err(rt::Elapsed) => {
                if let Some(outbound) = current.take() {
                    outbound.close().await;
                }
                continue;
            }
        };
        let mut written = false;
        for _ in 0..2 {
            if current.is_none() {
                current = open(&mut control, peer, &mut versions, &done)
                    .await
                    .map(|(stream, version)| Outbound::new(stream, version));
            }
            let Some(outbound) = &mut current else {
                break;
            };
            if outbound.write(&message).await.is_ok() {
                written = true;
                break;
            }
            current = None;
        }
        let sent = Sent {
            peer,
            blocks: message.blocks.len(),
            bytes: message.block_bytes(),
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
        queue: &mut mpsc::Receiver<(Message, Version)>,
    ) -> std::io::Result<Result<Option<(Message, Version)>, rt::Elapsed>> {
        watching(
            &mut self.reader,
            std::pin::pin!(rt::timeout(WRITER_IDLE, queue.recv())),
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
