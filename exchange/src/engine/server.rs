//! The serving side: each peer's wantlist (its ledger) and the answers queued for it.
//!
//! want-block is answered with the block, or DONT_HAVE when asked for and the block is
//! missing; want-have with HAVE (the block itself when under the inline size) or DONT_HAVE.
//! Wants we cannot answer yet stay in the ledger and are answered when the block is added.
//! Answers go out in messages of about the target size, with a bounded number of bytes in
//! flight per peer; the rest waits as CIDs, so a greedy peer costs memory for its wantlist
//! only.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash as StdHash;

use cid::Cid;
use multihash::Multihash;

use super::Outbox;
use crate::message::{Message, Presence, WantType};
use crate::{Block, Blockstore, Config};

struct Entry {
    cid: Cid,
    want_type: WantType,
}

#[derive(Default)]
struct Ledger {
    wants: HashMap<Multihash<64>, Entry>,
    blocks: VecDeque<Cid>,
    presences: Vec<(Cid, Presence)>,
    in_flight: usize,
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

    /// Takes in `peer`'s wants; false when it wanted more than its ledger holds.
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
        }
        let mut within_limit = true;
        for want in &message.wants {
            let key = *want.cid.hash();
            if want.cancel {
                ledger.wants.remove(&key);
                ledger.blocks.retain(|c| c.hash() != &key);
                continue;
            }
            // A store failure reads as "missing": the peer gets DONT_HAVE, never a bad block.
            let size = store.size(&want.cid).ok().flatten();
            match (want.want_type, size) {
                (WantType::Block, Some(_)) => ledger.blocks.push_back(want.cid),
                (WantType::Have, Some(size)) if size < config.inline_block_size => {
                    ledger.blocks.push_back(want.cid)
                }
                (WantType::Have, Some(_)) => ledger.presences.push((want.cid, Presence::Have)),
                (want_type, None) => {
                    if want.send_dont_have {
                        ledger.presences.push((want.cid, Presence::DontHave));
                    }
                    if ledger.wants.len() < config.max_wants_per_peer
                        || ledger.wants.contains_key(&key)
                    {
                        ledger.wants.insert(
                            key,
                            Entry {
                                cid: want.cid,
                                want_type,
                            },
                        );
                    } else {
                        within_limit = false;
                    }
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
                    ledger.presences.push((entry.cid, Presence::Have));
                }
                _ => ledger.blocks.push_back(entry.cid),
            }
        }
    }

    pub(super) fn message_sent(&mut self, peer: &P, bytes: usize) {
        if let Some(ledger) = self.ledgers.get_mut(peer) {
            ledger.in_flight = ledger.in_flight.saturating_sub(bytes);
        }
    }

    /// The answers that may go out now, packed into messages.
    pub(super) fn take_outbox(
        &mut self,
        store: &dyn Blockstore,
        config: &Config,
    ) -> Vec<(P, Message)> {
        let mut outbox = Outbox::new();
        let mut extra = Vec::new();
        for (peer, ledger) in &mut self.ledgers {
            if !ledger.presences.is_empty() {
                outbox.to(*peer).presences.append(&mut ledger.presences);
            }
            let mut size = 0;
            while ledger.in_flight < config.max_in_flight_bytes {
                let Some(cid) = ledger.blocks.pop_front() else {
                    break;
                };
                let Ok(Some(block)) = store.get(&cid) else {
                    // Removed (or unreadable) since it was wanted: nothing to send.
                    continue;
                };
                let len = block.data().len();
                if size > 0 && size + len > config.target_message_size {
                    // This message is full: the rest goes in the next one.
                    extra.push((*peer, std::mem::take(outbox.to(*peer))));
                    size = 0;
                }
                size += len;
                ledger.in_flight += len;
                outbox.to(*peer).blocks.push(block);
            }
        }
        let mut messages = extra;
        messages.extend(outbox.take());
        messages
    }
}
