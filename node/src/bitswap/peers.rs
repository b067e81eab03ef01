//! What the swarm's runner tells the Bitswap driver about peers: who speaks Bitswap (from
//! identify) and who is gone, on a bounded queue of the driver's own.

use std::collections::HashMap;

use async_channel::{Sender, TrySendError};
use libp2p::PeerId;
use switchboard_exchange::{PROTOCOLS, Version};

/// What the swarm's runner tells the driver about peers, on a queue of the driver's own (the
/// node's public event broadcast drops what a slow subscriber misses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PeerEvent {
    /// A connected peer's identify lists this Bitswap version (the newest it lists).
    Speaks(PeerId, Version),
    /// The last connection to a peer closed.
    Gone(PeerId),
    /// A direct connection to a peer that had only relayed ones is up: streams opened from now
    /// on go over it (a relayed connection carries 128 KiB; one long-lived stream on it would
    /// keep using it).
    Direct(PeerId),
    /// The whole state, after events were dropped on a full queue: every connected peer, with
    /// the Bitswap version its identify listed.
    Resync(HashMap<PeerId, Option<Version>>),
}

/// The runner's end of the driver's peer queue. It keeps the state it reports (the connected
/// peers and their Bitswap versions: as many as the connection limits allow), so a full queue
/// loses nothing: the event is dropped, and the whole state goes once there is room again
/// ([`PeerFeed::catch_up`], which the runner calls on every swarm event).
#[derive(Debug)]
pub(crate) struct PeerFeed {
    tx: Sender<PeerEvent>,
    peers: HashMap<PeerId, Option<Version>>,
    /// An event was dropped: the next thing sent is a [`PeerEvent::Resync`].
    behind: bool,
}

impl PeerFeed {
    pub(super) fn new(tx: Sender<PeerEvent>) -> Self {
        Self {
            tx,
            peers: HashMap::new(),
            behind: false,
        }
    }

    /// A connection to `peer` is up.
    pub(crate) fn connected(&mut self, peer: PeerId) {
        self.peers.entry(peer).or_insert(None);
    }

    /// `peer`'s identify listed `protocols`.
    pub(crate) fn identified(&mut self, peer: PeerId, protocols: &[String]) {
        let (Some(version), Some(known)) = (best_version(protocols), self.peers.get_mut(&peer))
        else {
            return;
        };
        *known = Some(version);
        self.send(PeerEvent::Speaks(peer, version));
    }

    /// A direct connection to `peer` is up next to relayed ones. Lost on a full queue: the
    /// writer then moves when its stream next fails.
    pub(crate) fn direct(&mut self, peer: PeerId) {
        if self.peers.contains_key(&peer) {
            self.send(PeerEvent::Direct(peer));
        }
    }

    /// The last connection to `peer` closed.
    pub(crate) fn disconnected(&mut self, peer: PeerId) {
        if self.peers.remove(&peer).is_some() {
            self.send(PeerEvent::Gone(peer));
        }
    }

    /// Sends the whole state if an event was dropped and the queue has room now.
    pub(crate) fn catch_up(&mut self) {
        if self.behind {
            match self.tx.try_send(PeerEvent::Resync(self.peers.clone())) {
                Ok(()) | Err(TrySendError::Closed(_)) => self.behind = false,
                Err(TrySendError::Full(_)) => {}
            }
        }
    }

    fn send(&mut self, event: PeerEvent) {
        self.catch_up();
        // While behind, the resync to come carries this event too.
        if !self.behind && matches!(self.tx.try_send(event), Err(TrySendError::Full(_))) {
            tracing::debug!("bitswap's peer queue is full; it will get the whole state later");
            self.behind = true;
        }
    }
}

/// The newest Bitswap version among a peer's protocols.
fn best_version(protocols: &[String]) -> Option<Version> {
    PROTOCOLS
        .iter()
        .find(|(name, _)| protocols.iter().any(|p| p == name))
        .map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BITSWAP: &str = "/ipfs/bitswap/1.2.0";

    fn drain(rx: &async_channel::Receiver<PeerEvent>) -> Vec<PeerEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn the_feed_reports_bitswap_peers_and_their_departure() {
        let (tx, rx) = async_channel::bounded(8);
        let mut feed = PeerFeed::new(tx);
        let (speaker, other) = (PeerId::random(), PeerId::random());
        feed.connected(speaker);
        feed.connected(other);
        feed.identified(speaker, &[BITSWAP.to_owned()]);
        feed.identified(other, &["/ipfs/ping/1.0.0".to_owned()]);
        // Identify from a peer no longer connected says nothing.
        feed.identified(PeerId::random(), &[BITSWAP.to_owned()]);
        feed.disconnected(speaker);
        feed.disconnected(speaker);
        assert_eq!(
            drain(&rx),
            [
                PeerEvent::Speaks(speaker, Version::V1_2),
                PeerEvent::Gone(speaker)
            ]
        );
    }

    #[test]
    fn a_full_queue_loses_nothing_the_state_follows_once_there_is_room() {
        let (tx, rx) = async_channel::bounded(1);
        let mut feed = PeerFeed::new(tx);
        let (first, second, third) = (PeerId::random(), PeerId::random(), PeerId::random());
        for peer in [first, second, third] {
            feed.connected(peer);
            feed.identified(peer, &[BITSWAP.to_owned()]);
        }
        // `second` and `third` did not fit; `first` leaves while the queue is still full.
        feed.disconnected(first);
        feed.catch_up();
        assert_eq!(drain(&rx), [PeerEvent::Speaks(first, Version::V1_2)]);
        feed.catch_up();
        let expected = HashMap::from([(second, Some(Version::V1_2)), (third, Some(Version::V1_2))]);
        assert_eq!(drain(&rx), [PeerEvent::Resync(expected)]);
        // Caught up: events flow one by one again.
        feed.disconnected(second);
        assert_eq!(drain(&rx), [PeerEvent::Gone(second)]);
    }
}
