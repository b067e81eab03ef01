//! The engine driven by simulated peers and simulated time: every message goes through the
//! wire encoding, and nothing sleeps.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::*;
use crate::{Codec, Hash, MemoryBlockstore, WantType};

struct Node {
    engine: Engine<usize>,
    store: MemoryBlockstore,
    received: Vec<Block>,
    served_blocks: usize,
    disconnected: Vec<(usize, Misbehaviour)>,
}

/// A set of nodes, a message queue between them and a clock.
struct Net {
    nodes: Vec<Node>,
    now: Instant,
    /// Messages in flight: from, to, the protocol version of the stream, the bytes.
    queue: VecDeque<(usize, usize, Version, Vec<u8>)>,
    /// Messages from these nodes are lost.
    silent: Vec<usize>,
    /// Messages with blocks from these nodes are lost (a peer that says HAVE, then never delivers).
    withhold_blocks: Vec<usize>,
}

/// A message with the blocks `cids` read from `store`, as the driver builds one for
/// [`Action::SendBlocks`].
fn load(store: &MemoryBlockstore, cids: &[Cid]) -> Message {
    Message {
        blocks: cids
            .iter()
            .filter_map(|cid| store.get(cid).expect("get"))
            .collect(),
        ..Message::default()
    }
}

fn block(i: usize, len: usize) -> Block {
    let mut data = vec![0u8; len];
    data[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Block::encode(Codec::Raw, Hash::Sha2_256, data).expect("block")
}

impl Net {
    fn new(n: usize, config: Config) -> Self {
        let nodes = (0..n)
            .map(|_| Node {
                engine: Engine::new(config.clone()),
                store: MemoryBlockstore::new(),
                received: Vec::new(),
                served_blocks: 0,
                disconnected: Vec::new(),
            })
            .collect();
        Self {
            nodes,
            now: Instant::now(),
            queue: VecDeque::new(),
            silent: Vec::new(),
            withhold_blocks: Vec::new(),
        }
    }

    fn connect(&mut self, a: usize, b: usize, version: Version) {
        self.nodes[a].engine.peer_connected(b, version);
        self.nodes[b].engine.peer_connected(a, version);
        self.run();
    }

    fn disconnect(&mut self, a: usize, b: usize) {
        let now = self.now;
        self.nodes[a].engine.peer_disconnected(b, now);
        self.nodes[b].engine.peer_disconnected(a, now);
        self.queue
            .retain(|(from, to, _, _)| !(*from == a && *to == b || *from == b && *to == a));
        self.run();
    }

    /// `from` sends `to` a block nobody asked for (the `i`th such block).
    fn send_unwanted_block(&mut self, from: usize, to: usize, i: usize) {
        let junk = Message {
            blocks: vec![block(100 + i, 64)],
            ..Message::default()
        };
        self.queue
            .push_back((from, to, Version::V1_2, junk.encode(Version::V1_2)));
        self.run();
    }

    fn put(&mut self, node: usize, block: &Block) {
        let n = &mut self.nodes[node];
        n.store.put(block).expect("put");
        n.engine.block_added(block);
        self.run();
    }

    fn want(&mut self, node: usize, cid: Cid) {
        let now = self.now;
        self.nodes[node].engine.want(cid, now);
        self.run();
    }

    /// Drains actions and delivers messages until the network is quiet.
    fn run(&mut self) {
        loop {
            let mut progressed = false;
            for i in 0..self.nodes.len() {
                while let Some(action) = self.nodes[i].engine.poll_action() {
                    progressed = true;
                    let node = &mut self.nodes[i];
                    // What the driver does: block batches are read from the store.
                    let (peer, message, version, bytes) = match action {
                        Action::Send {
                            peer,
                            message,
                            version,
                        } => (peer, message, version, 0),
                        Action::SendBlocks {
                            peer,
                            cids,
                            bytes,
                            version,
                        } => (peer, load(&node.store, &cids), version, bytes),
                        Action::Received(block) => {
                            node.store.put(&block).expect("put");
                            node.engine.block_added(&block);
                            node.received.push(block);
                            continue;
                        }
                        Action::Disconnect { peer, reason } => {
                            node.disconnected.push((peer, reason));
                            continue;
                        }
                    };
                    node.served_blocks += message.blocks.len();
                    node.engine.message_sent(peer, bytes);
                    let withheld = self.withhold_blocks.contains(&i) && !message.blocks.is_empty();
                    if !self.silent.contains(&i) && !withheld {
                        self.queue
                            .push_back((i, peer, version, message.encode(version)));
                    }
                }
            }
            if let Some((from, to, version, bytes)) = self.queue.pop_front() {
                progressed = true;
                let now = self.now;
                let node = &mut self.nodes[to];
                match Message::decode(&bytes) {
                    Ok(message) => {
                        node.engine
                            .handle_message(from, version, message, &node.store, now)
                    }
                    Err(_) => node.engine.handle_malformed(from, version),
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for node in &mut self.nodes {
            if node.engine.poll_timeout().is_some_and(|t| t <= now) {
                node.engine.handle_timeout(now);
            }
        }
        self.run();
    }
}

#[test]
fn fetches_a_block_from_the_peer_that_has_it() {
    let mut net = Net::new(2, Config::new());
    net.connect(0, 1, Version::V1_2);
    let b = block(1, 4096);
    net.put(0, &b);
    net.want(1, *b.cid());
    assert_eq!(net.nodes[1].received, vec![b.clone()]);
    assert!(!net.nodes[1].engine.is_wanted(b.cid()));
    assert_eq!(net.nodes[0].served_blocks, 1);
}

#[test]
fn small_blocks_come_back_for_want_have() {
    let mut net = Net::new(2, Config::new());
    net.connect(0, 1, Version::V1_2);
    let small =
        Block::encode(Codec::Raw, Hash::Sha2_256, &b"here is some data"[..]).expect("block");
    net.put(0, &small);
    net.want(1, *small.cid());
    assert_eq!(net.nodes[1].received, vec![small]);
}

#[test]
fn many_blocks_are_spread_over_providers() {
    let mut net = Net::new(3, Config::new());
    net.connect(0, 2, Version::V1_2);
    net.connect(1, 2, Version::V1_2);
    let blocks: Vec<Block> = (0..64).map(|i| block(i, 256 * 1024)).collect();
    for b in &blocks {
        net.put(0, b);
        net.put(1, b);
    }
    for b in &blocks {
        let now = net.now;
        net.nodes[2].engine.want(*b.cid(), now);
    }
    net.run();
    assert_eq!(net.nodes[2].received.len(), 64);
    let (a, b) = (net.nodes[0].served_blocks, net.nodes[1].served_blocks);
    assert_eq!(a + b, 64, "no block fetched twice");
    assert!(a >= 16 && b >= 16, "load is spread: {a} and {b}");
}

#[test]
fn dont_have_moves_on_to_a_peer_that_has_it() {
    let mut net = Net::new(3, Config::new());
    net.connect(0, 2, Version::V1_2);
    net.connect(1, 2, Version::V1_2);
    let b = block(7, 2048);
    net.put(1, &b);
    net.want(2, *b.cid());
    assert_eq!(net.nodes[2].received, vec![b]);
    assert_eq!(net.nodes[0].served_blocks, 0);
}

#[test]
fn a_disconnected_provider_is_replaced() {
    let mut net = Net::new(3, Config::new());
    net.connect(0, 2, Version::V1_2);
    net.connect(1, 2, Version::V1_2);
    let b = block(9, 4096);
    net.put(0, &b);
    net.put(1, &b);
    // Node 0 answers HAVE but its block never arrives: it disconnects first.
    net.silent.push(0);
    net.want(2, *b.cid());
    net.silent.clear();
    net.disconnect(0, 2);
    assert_eq!(net.nodes[2].received, vec![b]);
}

#[test]
fn a_silent_provider_times_out_and_the_next_is_asked() {
    let mut net = Net::new(3, Config::new());
    net.connect(0, 2, Version::V1_2);
    net.connect(1, 2, Version::V1_2);
    let b = block(11, 4096);
    // Node 0 says HAVE and is asked for the block, which never comes.
    net.put(0, &b);
    net.withhold_blocks.push(0);
    net.want(2, *b.cid());
    assert!(net.nodes[2].received.is_empty());
    // Node 1 gets the block and says HAVE; node 2 still waits on node 0 ...
    net.put(1, &b);
    assert!(net.nodes[2].received.is_empty());
    // ... until the block timeout moves the request on.
    net.advance(Duration::from_secs(11));
    assert_eq!(net.nodes[2].received, vec![b]);
    assert_eq!(net.nodes[1].served_blocks, 1);
}

#[test]
fn a_block_added_later_reaches_the_peer_that_wanted_it() {
    let mut net = Net::new(2, Config::new());
    net.connect(0, 1, Version::V1_2);
    let b = block(3, 4096);
    net.want(1, *b.cid());
    assert!(net.nodes[1].received.is_empty());
    net.put(0, &b);
    assert_eq!(net.nodes[1].received, vec![b]);
}

#[test]
fn a_peer_that_connects_later_is_asked() {
    let mut net = Net::new(2, Config::new());
    let b = block(4, 4096);
    net.put(0, &b);
    net.want(1, *b.cid());
    net.connect(0, 1, Version::V1_2);
    assert_eq!(net.nodes[1].received, vec![b]);
}

#[test]
fn old_protocol_versions_still_deliver() {
    for version in [Version::V1_0, Version::V1_1] {
        let mut net = Net::new(2, Config::new());
        net.connect(0, 1, version);
        let b = block(5, 4096);
        net.put(0, &b);
        net.want(1, *b.cid());
        // Over 1.0 the block travels as bare data (CIDv0); it comes out under the CID asked for.
        assert_eq!(net.nodes[1].received, vec![b], "{version:?}");
    }
}

#[test]
fn unwanted_blocks_get_a_peer_dropped() {
    let mut net = Net::new(2, Config::new());
    net.connect(0, 1, Version::V1_2);
    for i in 0..3 {
        net.send_unwanted_block(0, 1, i);
    }
    assert_eq!(
        net.nodes[1].disconnected,
        vec![(0, Misbehaviour::UnwantedBlocks)]
    );
    assert!(net.nodes[1].received.is_empty());
}

#[test]
fn announcing_a_peer_again_keeps_its_strikes() {
    let mut net = Net::new(2, Config::new());
    net.connect(0, 1, Version::V1_2);
    for i in 0..3 {
        net.send_unwanted_block(0, 1, i);
        // Identify pushes, or a downgrade, announce the peer again.
        net.nodes[1].engine.peer_connected(0, Version::V1_2);
    }
    assert_eq!(
        net.nodes[1].disconnected,
        vec![(0, Misbehaviour::UnwantedBlocks)]
    );
}

#[test]
fn a_peer_not_yet_announced_is_served_from_its_first_message() {
    let mut net = Net::new(2, Config::new());
    // Node 1 knows node 0; node 0 has not heard of node 1 (its identify is still under way).
    net.nodes[1].engine.peer_connected(0, Version::V1_1);
    let b = block(1, 4096);
    net.put(0, &b);
    net.want(1, *b.cid());
    assert_eq!(net.nodes[1].received, vec![b]);
}

#[test]
fn malformed_messages_get_a_peer_dropped() {
    // Announced by identify, or known only from the messages it sends.
    for announced in [true, false] {
        let mut net = Net::new(2, Config::new());
        if announced {
            net.connect(0, 1, Version::V1_2);
        }
        for _ in 0..3 {
            net.queue
                .push_back((0, 1, Version::V1_2, vec![0xff, 0xff, 0xff]));
        }
        net.run();
        assert_eq!(
            net.nodes[1].disconnected,
            vec![(0, Misbehaviour::MalformedMessages)],
            "announced: {announced}"
        );
    }
}

#[test]
fn want_floods_are_bounded_and_punished() {
    let config = Config::new().with_max_wants_per_peer(8);
    let mut net = Net::new(2, config);
    net.connect(0, 1, Version::V1_2);
    for round in 0..3 {
        let wants = (0..20)
            .map(|i| crate::Want {
                cid: *block(round * 100 + i, 64).cid(),
                priority: 1,
                cancel: false,
                want_type: WantType::Block,
                send_dont_have: false,
            })
            .collect();
        net.queue.push_back((
            0,
            1,
            Version::V1_2,
            Message {
                wants,
                ..Message::default()
            }
            .encode(Version::V1_2),
        ));
        net.run();
    }
    assert_eq!(
        net.nodes[1].disconnected,
        vec![(0, Misbehaviour::WantFlood)]
    );
}

#[test]
fn answers_in_flight_are_bounded() {
    let config = Config::new().with_max_in_flight_bytes(1024 * 1024);
    let mut engine: Engine<usize> = Engine::new(config);
    let store = MemoryBlockstore::new();
    let blocks: Vec<Block> = (0..16).map(|i| block(i, 256 * 1024)).collect();
    for b in &blocks {
        store.put(b).expect("put");
    }
    let now = Instant::now();
    engine.peer_connected(1, Version::V1_2);
    let wants = blocks
        .iter()
        .map(|b| crate::Want {
            cid: *b.cid(),
            priority: 1,
            cancel: false,
            want_type: WantType::Block,
            send_dont_have: true,
        })
        .collect();
    engine.handle_message(
        1,
        Version::V1_2,
        Message {
            wants,
            ..Message::default()
        },
        &store,
        now,
    );
    let mut sent = Vec::new();
    while let Some(Action::SendBlocks { cids, .. }) = engine.poll_action() {
        sent.push(load(&store, &cids));
    }
    let first_round: usize = sent.iter().map(Message::block_bytes).sum();
    assert!(
        first_round <= 1024 * 1024 + 256 * 1024,
        "{first_round} bytes in flight at once"
    );
    assert!(
        sent.iter()
            .all(|m| m.encode(Version::V1_2).len() <= crate::MAX_MESSAGE_SIZE)
    );
    // As writes complete, the rest follows.
    let mut total = first_round;
    let mut rounds = 0;
    while total < 16 * 256 * 1024 {
        engine.message_sent(1, 1024 * 1024);
        while let Some(Action::SendBlocks { bytes, .. }) = engine.poll_action() {
            total += bytes;
        }
        rounds += 1;
        assert!(rounds < 32, "answers stalled at {total} bytes");
    }
}

fn want(cid: Cid, want_type: WantType, cancel: bool) -> crate::Want {
    crate::Want {
        cid,
        priority: 1,
        cancel,
        want_type,
        send_dont_have: true,
    }
}

/// An engine whose store holds `n` blocks of 256 KiB, with peer 1 connected, and little room
/// in flight, so that wanted blocks wait in the ledger.
fn serving(n: usize, config: Config) -> (Engine<usize>, MemoryBlockstore, Vec<Block>) {
    let mut engine = Engine::new(config.with_max_in_flight_bytes(1));
    let store = MemoryBlockstore::new();
    let blocks: Vec<Block> = (0..n).map(|i| block(i, 256 * 1024)).collect();
    for b in &blocks {
        store.put(b).expect("put");
    }
    engine.peer_connected(1, Version::V1_2);
    (engine, store, blocks)
}

fn from_peer(engine: &mut Engine<usize>, store: &MemoryBlockstore, wants: Vec<crate::Want>) {
    let message = Message {
        wants,
        ..Message::default()
    };
    engine.handle_message(1, Version::V1_2, message, store, Instant::now());
    while engine.poll_action().is_some() {}
}

/// A peer that wants what we have and never reads holds at most its ledger's limit, however
/// often it repeats itself; repeats are one entry each and are not punished.
#[test]
fn a_peer_that_never_reads_holds_a_bounded_ledger() {
    let (mut engine, store, blocks) = serving(64, Config::new().with_max_wants_per_peer(16));
    let repeated: Vec<_> = (0..1000)
        .map(|i| want(*blocks[i % 4].cid(), WantType::Block, false))
        .collect();
    from_peer(&mut engine, &store, repeated);
    // One block went out (the in-flight room); the other three wait, each once.
    assert_eq!(engine.server.ledger_len(&1), 3);
    let strikes = |engine: &Engine<usize>| engine.peers[&1].strikes;
    assert_eq!(strikes(&engine), 0);
    for _ in 0..3 {
        let all = blocks
            .iter()
            .map(|b| want(*b.cid(), WantType::Block, false))
            .collect();
        from_peer(&mut engine, &store, all);
        assert!(engine.server.ledger_len(&1) <= 16);
    }
    assert_eq!(strikes(&engine), 3);
}

/// Cancels empty the ledger, and nothing cancelled goes out afterwards.
#[test]
fn cancelled_wants_are_not_served() {
    let (mut engine, store, blocks) = serving(512, Config::new());
    let all = |cancel| {
        blocks
            .iter()
            .map(|b| want(*b.cid(), WantType::Block, cancel))
            .collect::<Vec<_>>()
    };
    from_peer(&mut engine, &store, all(false));
    assert_eq!(engine.server.ledger_len(&1), 511);
    from_peer(&mut engine, &store, all(true));
    assert_eq!(engine.server.ledger_len(&1), 0);
    engine.message_sent(1, 256 * 1024);
    assert!(engine.poll_action().is_none());
}

/// `bafkreaa` (sha2-256, empty digest) and other CIDs we would never serve are not taken in:
/// no ledger entry, no DONT_HAVE.
#[test]
fn wants_for_invalid_cids_are_ignored() {
    let (mut engine, store, _) = serving(0, Config::new());
    let empty: Cid = "bafkreaa".parse().expect("cid");
    let message = Message {
        wants: vec![want(empty, WantType::Have, false)],
        ..Message::default()
    };
    engine.handle_message(1, Version::V1_2, message, &store, Instant::now());
    assert!(engine.poll_action().is_none());
    assert_eq!(engine.server.ledger_len(&1), 0);
}

/// Blocks that arrive after their want ended (we cancelled it, or another provider was first)
/// are late, not unwanted: an honest provider is never punished for them.
#[test]
fn late_blocks_are_not_held_against_a_provider() {
    let mut net = Net::new(2, Config::new());
    net.connect(0, 1, Version::V1_2);
    for i in 0..8 {
        let b = block(200 + i, 64);
        let now = net.now;
        net.nodes[1].engine.want(*b.cid(), now);
        net.nodes[1].engine.cancel(b.cid(), now);
        // The provider's answer was already on its way.
        net.queue.push_back((
            0,
            1,
            Version::V1_2,
            Message {
                blocks: vec![b],
                ..Message::default()
            }
            .encode(Version::V1_2),
        ));
        net.run();
    }
    assert!(
        net.nodes[1].disconnected.is_empty(),
        "{:?}",
        net.nodes[1].disconnected
    );
    assert!(net.nodes[1].received.is_empty());
    // A block that was never wanted still counts.
    for i in 0..3 {
        net.send_unwanted_block(0, 1, 50 + i);
    }
    assert_eq!(
        net.nodes[1].disconnected,
        vec![(0, Misbehaviour::UnwantedBlocks)]
    );
}

/// A store that counts the block reads it serves.
#[derive(Debug)]
struct Counting {
    inner: MemoryBlockstore,
    reads: std::sync::atomic::AtomicUsize,
}

impl Blockstore for Counting {
    fn get(&self, cid: &Cid) -> Result<Option<Block>, crate::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get(cid)
    }
    fn has(&self, cid: &Cid) -> Result<bool, crate::StoreError> {
        self.inner.has(cid)
    }
    fn size(&self, cid: &Cid) -> Result<Option<usize>, crate::StoreError> {
        self.inner.size(cid)
    }
    fn put(&self, block: &Block) -> Result<(), crate::StoreError> {
        self.inner.put(block)
    }
    fn remove(&self, cid: &Cid) -> Result<bool, crate::StoreError> {
        self.inner.remove(cid)
    }
}

/// Serving wants never reads block data in the engine (only sizes): the driver reads the
/// batches it is handed off its own task, so a peer wanting many large blocks cannot make
/// the engine's caller wait on the disk.
#[test]
fn the_engine_never_reads_block_data() {
    let store = Counting {
        inner: MemoryBlockstore::new(),
        reads: Default::default(),
    };
    let blocks: Vec<Block> = (0..32).map(|i| block(i, 256 * 1024)).collect();
    for b in &blocks {
        store.put(b).expect("put");
    }
    let mut engine: Engine<usize> = Engine::new(Config::new());
    engine.peer_connected(1, Version::V1_2);
    let message = Message {
        wants: blocks
            .iter()
            .map(|b| want(*b.cid(), WantType::Block, false))
            .collect(),
        ..Message::default()
    };
    engine.handle_message(1, Version::V1_2, message, &store, Instant::now());
    let mut batches = 0;
    while let Some(action) = engine.poll_action() {
        if let Action::SendBlocks { cids, bytes, .. } = action {
            assert_eq!(bytes, cids.len() * 256 * 1024);
            batches += 1;
        }
    }
    assert!(batches > 0);
    assert_eq!(store.reads.load(std::sync::atomic::Ordering::SeqCst), 0);
}
