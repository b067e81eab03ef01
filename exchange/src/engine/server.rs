//! The serving side: each peer's wantlist (its ledger) and the answers queued for it.
//!
//! want-block is answered with the block, or DONT_HAVE when asked for and the block is
//! missing; want-have with HAVE (the block itself when under the inline size) or DONT_HAVE.
//! Wants we cannot answer yet stay in the ledger and are answered when the block is added.
//! Answers go out in messages of about the target size, with a bounded number of bytes in
//! flight per peer; the rest waits as CIDs, so a greedy peer costs memory for its wantlist
//! only.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash as StdHash;

use cid::Cid;
use multihash::Multihash;

use super::Outbox;
use crate::message::{Message, Presence, WantType};
use crate::{Block, Blockstore, Config, check_cid};

struct Entry {
    cid: Cid,
    want_type: WantType,
}

/// One peer's ledger. Every entry is keyed by multihash, at most once across `wants`, `queued`
/// and `presences` together, and their sum is bounded by [`Config::with_max_wants_per_peer`]:
/// a peer repeating wants, or wanting blocks we have faster than it reads them, holds no more
/// than that. A cancel costs `O(log n)`.
#[derive(Default)]
struct Ledger {
    /// Wants for blocks we lack, answered when the block is added.
    wants: HashMap<Multihash<64>, Entry>,
    /// Blocks to send, with their sizes, in the order they were wanted.
    queue: BTreeMap<u64, (Cid, usize)>,
    /// Where each queued block is in `queue`.
    queued: HashMap<Multihash<64>, u64>,
    next: u64,
    /// HAVE / DONT_HAVE answers not sent yet.
    presences: HashMap<Multihash<64>, (Cid, Presence)>,
    in_flight: usize,
}

impl Ledger {
    fn len(&self) -> usize {
        self.wants.len() + self.queued.len() + self.presences.len()
    }

    fn holds(&self, key: &Multihash<64>) -> bool {
        self.wants.contains_key(key) || self.queued.contains_key(key)
    }

    fn enqueue(&mut self, cid: Cid, size: usize) {
        if self.queued.contains_key(cid.hash()) {
            return;
        }
        self.queued.insert(*cid.hash(), self.next);
        self.queue.insert(self.next, (cid, size));
        self.next += 1;
    }

    fn dequeue(&mut self) -> Option<(Cid, usize)> {
        let (_, (cid, size)) = self.queue.pop_first()?;
        self.queued.remove(cid.hash());
        Some((cid, size))
    }

    fn forget(&mut self, key: &Multihash<64>) {
        self.wants.remove(key);
        if let Some(at) = self.queued.remove(key) {
            self.queue.remove(&at);
        }
        self.presences.remove(key);
    }
}

pub(super) struct Server<P> {
    ledgers: HashMap<P, Ledger>,
}

impl<P: Copy + Eq + StdHash> Server<P> {
    pub(super) fn new() -> Self {
        Self {
            ledgers: HashMap::new(),
        }
    }

    pub(super) fn peer_disconnected(&mut self, peer: &P) {
        self.ledgers.remove(peer);
    }

    /// The entries `peer`'s ledger holds.
    #[cfg(test)]
    pub(super) fn ledger_len(&self, peer: &P) -> usize {
        self.ledgers.get(peer).map_or(0, Ledger::len)
    }

    /// Takes in `peer`'s wants; false when it wanted more than its ledger holds. Entries with
    /// a CID we would never serve (unsupported codec or hash, a digest of the wrong length)
    /// are ignored, as boxo's verifcid does; the store is consulted only for entries the
    /// ledger has room for.
    pub(super) fn handle_wants(
        &mut self,
        peer: P,
        message: &Message,
        store: &dyn Blockstore,
        config: &Config,
    ) -> bool {
        let ledger = self.ledgers.entry(peer).or_default();
        if message.full {
            ledger.wants.clear();
            ledger.queue.clear();
            ledger.queued.clear();
        }
        let mut within_limit = true;
        for want in &message.wants {
            let key = *want.cid.hash();
            if want.cancel {
                ledger.forget(&key);
                continue;
            }
            if check_cid(&want.cid).is_err() || ledger.holds(&key) {
                continue;
            }
            if ledger.len() >= config.max_wants_per_peer {
                within_limit = false;
                continue;
            }
            // A store failure reads as "missing": the peer gets DONT_HAVE, never a bad block.
            let size = store.size(&want.cid).ok().flatten();
            match (want.want_type, size) {
                (WantType::Block, Some(size)) => ledger.enqueue(want.cid, size),
                (WantType::Have, Some(size)) if size < config.inline_block_size => {
                    ledger.enqueue(want.cid, size)
                }
                (WantType::Have, Some(_)) => {
                    ledger.presences.insert(key, (want.cid, Presence::Have));
                }
                (want_type, None) => {
                    if want.send_dont_have {
                        ledger.presences.insert(key, (want.cid, Presence::DontHave));
                    }
                    ledger.wants.insert(
                        key,
                        Entry {
                            cid: want.cid,
                            want_type,
                        },
                    );
                }
            }
        }
        within_limit
    }

    /// Answers every peer that wanted `block` and was told we did not have it.
    pub(super) fn block_added(&mut self, block: &Block, config: &Config) {
        for ledger in self.ledgers.values_mut() {
            let Some(entry) = ledger.wants.remove(block.cid().hash()) else {
                continue;
            };
            match entry.want_type {
                WantType::Have if block.data().len() >= config.inline_block_size => {
                    ledger
                        .presences
                        .insert(*entry.cid.hash(), (entry.cid, Presence::Have));
                }
                _ => ledger.enqueue(entry.cid, block.data().len()),
            }
        }
    }

    pub(super) fn message_sent(&mut self, peer: &P, bytes: usize) {
        if let Some(ledger) = self.ledgers.get_mut(peer) {
            ledger.in_flight = ledger.in_flight.saturating_sub(bytes);
        }
    }

    /// The answers that may go out now: presences as messages, blocks as batches of about the
    /// target message size for the driver to read from the store (off the engine's thread)
    /// and send; their bytes count as in flight from now.
    pub(super) fn take_outbox(&mut self, config: &Config) -> Vec<Out<P>> {
        let mut outbox = Outbox::new();
        let mut batches = Vec::new();
        for (peer, ledger) in &mut self.ledgers {
            if !ledger.presences.is_empty() {
                outbox
                    .to(*peer)
                    .presences
                    .extend(ledger.presences.drain().map(|(_, presence)| presence));
            }
            let mut batch = Vec::new();
            let mut size = 0;
            while ledger.in_flight < config.max_in_flight_bytes {
                let Some((cid, len)) = ledger.dequeue() else {
                    break;
                };
                if size > 0 && size + len > config.target_message_size {
                    // This batch is full: the rest goes in the next one.
                    batches.push(Out::Blocks(*peer, std::mem::take(&mut batch), size));
                    size = 0;
                }
                size += len;
                ledger.in_flight += len;
                batch.push(cid);
            }
            if !batch.is_empty() {
                batches.push(Out::Blocks(*peer, batch, size));
            }
        }
        let mut out: Vec<Out<P>> = outbox
            .take()
            .into_iter()
            .map(|(peer, message)| Out::Message(peer, message))
            .collect();
        out.extend(batches);
        out
    }
}

/// What the server hands the engine to send.
pub(super) enum Out<P> {
    /// A message as it is (presences).
    Message(P, Message),
    /// Blocks to read from the store and send in one message, and their bytes.
    Blocks(P, Vec<Cid>, usize),
}
