//! The requesting side: what we want, who has it, whom we asked for the block.
//!
//! A want goes out as want-have (with send-dont-have) to every peer speaking 1.2, and as
//! want-block to older peers. The first HAVE gets a want-block; a DONT_HAVE, a disconnect or a
//! block timeout moves the request on to the next peer that said HAVE, preferring the one
//! with the fewest blocks already requested of it, so load spreads over providers. A block
//! ends the want and every peer asked gets a cancel.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash as StdHash;
use std::time::Duration;
use web_time::Instant;

use cid::Cid;
use multihash::Multihash;

use super::Outbox;
use crate::message::{Message, Presence, Version, Want as WireWant, WantType};
use crate::{Block, Config};

struct Want<P> {
    cid: Cid,
    /// Peers sent this want (have or block): they get the cancel.
    asked: HashSet<P>,
    /// Peers that said HAVE, in order, not yet found wanting.
    haves: Vec<P>,
    /// Peers that said DONT_HAVE or failed to deliver.
    exhausted: HashSet<P>,
    /// The peer asked for the block, and by when it must arrive.
    requested: Option<(P, Instant)>,
    /// When to send want-have again if nobody has it.
    rebroadcast_at: Instant,
}

pub(super) struct Client<P> {
    wants: HashMap<Multihash<64>, Want<P>>,
    /// Wants that ended lately (fulfilled or cancelled), oldest first, with when: a block for
    /// one of these is late, not unwanted. Providers answer wants already on the way after
    /// our cancel, and every peer answers a want-have for a small block with the block itself.
    ended: VecDeque<(Multihash<64>, Instant)>,
    ended_set: HashSet<Multihash<64>>,
    outbox: Outbox<P>,
}

/// How long a block for an ended want is taken as late rather than unwanted.
const LATE: Duration = Duration::from_secs(60);
/// Ended wants remembered at most.
const MAX_ENDED: usize = 4096;

fn wire(cid: Cid, want_type: WantType, cancel: bool) -> WireWant {
    WireWant {
        cid,
        priority: 1,
        cancel,
        want_type,
        send_dont_have: !cancel,
    }
}

impl<P: Copy + Eq + StdHash> Client<P> {
    pub(super) fn new() -> Self {
        Self {
            wants: HashMap::new(),
            ended: VecDeque::new(),
            ended_set: HashSet::new(),
            outbox: Outbox::new(),
        }
    }

    /// Remembers that the want for `key` ended at `now`.
    fn ended(&mut self, key: Multihash<64>, now: Instant) {
        while self.ended.len() >= MAX_ENDED
            || self
                .ended
                .front()
                .is_some_and(|(_, at)| now.saturating_duration_since(*at) > LATE)
        {
            if let Some((old, _)) = self.ended.pop_front() {
                self.ended_set.remove(&old);
            }
        }
        if self.ended_set.insert(key) {
            self.ended.push_back((key, now));
        }
    }

    /// Whether a block for `key` answers a want that ended within [`LATE`] of `now`.
    fn is_late(&self, key: &Multihash<64>, now: Instant) -> bool {
        self.ended_set.contains(key)
            && self
                .ended
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .is_some_and(|(_, at)| now.saturating_duration_since(*at) <= LATE)
    }

    pub(super) fn take_outbox(&mut self) -> Vec<(P, Message)> {
        self.outbox.take()
    }

    pub(super) fn is_wanted(&self, cid: &Cid) -> bool {
        self.wants.contains_key(cid.hash())
    }

    /// Sends want-have (1.2) or want-block (older) for `want` to `peer`.
    fn ask(outbox: &mut Outbox<P>, want: &mut Want<P>, peer: P, version: Version) {
        let want_type = if version == Version::V1_2 {
            WantType::Have
        } else {
            WantType::Block
        };
        outbox.to(peer).wants.push(wire(want.cid, want_type, false));
        want.asked.insert(peer);
    }

    pub(super) fn want(&mut self, cid: Cid, now: Instant, peers: &[(P, Version)], config: &Config) {
        if self.wants.contains_key(cid.hash()) {
            return;
        }
        let mut want = Want {
            cid,
            asked: HashSet::new(),
            haves: Vec::new(),
            exhausted: HashSet::new(),
            requested: None,
            rebroadcast_at: now + config.rebroadcast,
        };
        for (peer, version) in peers {
            Self::ask(&mut self.outbox, &mut want, *peer, *version);
        }
        self.wants.insert(*cid.hash(), want);
    }

    pub(super) fn cancel(&mut self, cid: &Cid, now: Instant) {
        if let Some(want) = self.wants.remove(cid.hash()) {
            self.send_cancels(&want);
            self.ended(*cid.hash(), now);
        }
    }

    fn send_cancels(&mut self, want: &Want<P>) {
        for peer in &want.asked {
            self.outbox
                .to(*peer)
                .wants
                .push(wire(want.cid, WantType::Block, true));
        }
    }

    pub(super) fn peer_connected(&mut self, peer: P, version: Version) {
        for want in self.wants.values_mut() {
            Self::ask(&mut self.outbox, want, peer, version);
        }
    }

    pub(super) fn peer_disconnected(&mut self, peer: &P, now: Instant, config: &Config) {
        for want in self.wants.values_mut() {
            want.asked.remove(peer);
            want.haves.retain(|p| p != peer);
            want.exhausted.remove(peer);
            if matches!(want.requested, Some((p, _)) if p == *peer) {
                want.requested = None;
            }
        }
        self.schedule(now, config);
    }

    /// How many blocks each peer has been asked for.
    fn load(&self) -> HashMap<P, usize> {
        let mut load = HashMap::new();
        for (peer, _) in self.wants.values().filter_map(|w| w.requested) {
            *load.entry(peer).or_default() += 1;
        }
        load
    }

    /// Asks for every block not yet requested of anyone: from the least-loaded peer that said
    /// HAVE, as long as that peer has fewer than `max_requests_per_peer` blocks outstanding.
    /// Wants over the limit wait for a block to arrive or another provider to say HAVE, so a
    /// burst of wants spreads over every provider instead of piling onto the first to answer.
    fn schedule(&mut self, now: Instant, config: &Config) {
        let mut load = self.load();
        for want in self.wants.values_mut().filter(|w| w.requested.is_none()) {
            let candidates = want.haves.iter().filter(|p| !want.exhausted.contains(p));
            let Some(&peer) = candidates.min_by_key(|p| load.get(*p).copied().unwrap_or(0)) else {
                continue;
            };
            let peer_load = load.entry(peer).or_default();
            if *peer_load >= config.max_requests_per_peer {
                continue;
            }
            *peer_load += 1;
            self.outbox
                .to(peer)
                .wants
                .push(wire(want.cid, WantType::Block, false));
            want.asked.insert(peer);
            want.requested = Some((peer, now + config.block_timeout));
        }
    }

    /// Handles presences and blocks from `peer`; returns the wanted blocks that arrived and
    /// whether the peer sent blocks nobody wanted.
    pub(super) fn handle_message(
        &mut self,
        peer: P,
        message: Message,
        now: Instant,
        config: &Config,
    ) -> (Vec<Block>, bool) {
        for (cid, presence) in &message.presences {
            let Some(want) = self.wants.get_mut(cid.hash()) else {
                continue;
            };
            match presence {
                Presence::Have => {
                    // A fresh HAVE overrides an earlier DONT_HAVE: the peer got the block since.
                    want.exhausted.remove(&peer);
                    if !want.haves.contains(&peer) {
                        want.haves.push(peer);
                    }
                }
                Presence::DontHave => {
                    want.exhausted.insert(peer);
                    if matches!(want.requested, Some((p, _)) if p == peer) {
                        want.requested = None;
                    }
                }
            }
        }
        let mut received = Vec::new();
        let mut unwanted = false;
        for block in message.blocks {
            let key = *block.cid().hash();
            match self.wants.remove(&key) {
                Some(want) => {
                    // The block may have come under another CID of the same digest (a 1.0 peer
                    // sends CIDv0); hand it out under the CID that was asked for. Its data was
                    // hashed against that multihash when the message was decoded: not again.
                    match block.renamed(want.cid) {
                        Ok(block) => received.push(block),
                        Err(_) => unwanted = true,
                    }
                    self.send_cancels(&want);
                    self.ended(key, now);
                }
                // Late for a want that ended: harmless, and dropped.
                None if self.is_late(&key, now) => {}
                None => unwanted = true,
            }
        }
        self.schedule(now, config);
        (received, unwanted)
    }

    pub(super) fn handle_timeout(&mut self, now: Instant, peers: &[(P, Version)], config: &Config) {
        for want in self.wants.values_mut() {
            if let Some((peer, deadline)) = want.requested
                && deadline <= now
            {
                want.exhausted.insert(peer);
                want.requested = None;
            }
        }
        self.schedule(now, config);
        for want in self.wants.values_mut() {
            if want.requested.is_none() && want.rebroadcast_at <= now {
                want.rebroadcast_at = now + config.rebroadcast;
                // Peers that failed us may have the block by now; everyone is asked again.
                want.exhausted.clear();
                for (peer, version) in peers {
                    Self::ask(&mut self.outbox, want, *peer, *version);
                }
            }
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.wants
            .values()
            .map(|w| match w.requested {
                Some((_, deadline)) => deadline,
                None => w.rebroadcast_at,
            })
            .min()
    }
}
