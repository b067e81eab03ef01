//! The engine handling what peers send: a sequence of messages (decoded from the input, some
//! malformed) from a few peers, with time passing. Nothing panics, and what the engine hands
//! out as received is a block it wanted, verified.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use switchboard_exchange::{
    Action, Block, Blockstore, Codec, Config, Engine, Hash, MemoryBlockstore, Message, Version,
};

fuzz_target!(|data: &[u8]| {
    let store = MemoryBlockstore::new();
    let held = Block::encode(Codec::Raw, Hash::Sha2_256, &b"held"[..]).expect("block");
    store.put(&held).expect("put");
    let wanted = Block::encode(Codec::Raw, Hash::Sha2_256, &b"wanted"[..]).expect("block");
    let config = Config::new().with_max_wants_per_peer(16);
    let mut engine: Engine<u8> = Engine::new(config);
    let mut now = Instant::now();
    engine.want(*wanted.cid(), now);
    // Input: [peer, version, len, message bytes...]*
    let mut rest = data;
    while let [peer, version, len, tail @ ..] = rest {
        let peer = peer % 4;
        let version = match version % 3 {
            0 => Version::V1_0,
            1 => Version::V1_1,
            _ => Version::V1_2,
        };
        let len = (*len as usize).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        if peer == 3 {
            now += Duration::from_secs(u64::from(version as u8) * 4);
            engine.handle_timeout(now);
        }
        engine.peer_connected(peer, version);
        match Message::decode(bytes) {
            Ok(message) => engine.handle_message(peer, version, message, &store, now),
            Err(_) => engine.handle_malformed(peer, version),
        }
        while let Some(action) = engine.poll_action() {
            match action {
                Action::Received(block) => {
                    assert_eq!(
                        block.cid(),
                        wanted.cid(),
                        "only the wanted block is received"
                    );
                    Block::verify(*block.cid(), block.data().clone()).expect("verified");
                }
                Action::Send { peer, .. } => engine.message_sent(peer, 0),
                Action::SendBlocks {
                    peer, cids, bytes, ..
                } => {
                    for cid in &cids {
                        store.get(cid).expect("the store answers");
                    }
                    engine.message_sent(peer, bytes)
                }
                Action::Disconnect { peer, .. } => engine.peer_disconnected(peer, now),
            }
        }
    }
});
