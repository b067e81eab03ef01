//! Serving inbound libp2p-stream streams without losing any, and without letting one peer take
//! the slots of all.
//!
//! libp2p-stream hands inbound streams over through a queue of one and drops a stream when the
//! queue is full, silently for the sender, whose message is then lost. So the acceptor here
//! does nothing but take streams off that queue and spawn their handlers. How many handlers
//! run is bounded in all and per peer by [`Slots`]; a stream over either bound is dropped here,
//! where it is logged and counted.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use libp2p::{PeerId, Stream};

/// Streams in use by one service, next to its limits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamUsage {
    /// The protocol family (`bitswap`, `ping`, `perf`).
    pub service: &'static str,
    /// Streams being served now.
    pub open: u32,
    /// The most one peer has open now.
    pub busiest_peer: u32,
    /// The limit for all peers together.
    pub limit: u32,
    /// The limit for one peer.
    pub limit_per_peer: u32,
    /// Streams dropped over a limit since the node started.
    pub refused: u64,
}

#[derive(Debug)]
struct Counts {
    open: u32,
    by_peer: HashMap<PeerId, u32>,
    refused: u64,
}

/// The stream slots of one service: at most `limit` handlers at once, `per_peer` of them for
/// any one peer. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    service: &'static str,
    limit: u32,
    per_peer: u32,
    counts: Arc<Mutex<Counts>>,
}

/// A stream's slot, given back when dropped.
pub(crate) struct Slot {
    peer: PeerId,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("slot counts are never poisoned");
        counts.open -= 1;
        if let Some(n) = counts.by_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                counts.by_peer.remove(&self.peer);
            }
        }
    }
}

impl Slots {
    pub(crate) fn new(service: &'static str, limit: u32, per_peer: u32) -> Self {
        Self {
            service,
            limit,
            per_peer: per_peer.min(limit),
            counts: Arc::new(Mutex::new(Counts {
                open: 0,
                by_peer: HashMap::new(),
                refused: 0,
            })),
        }
    }

    /// A slot for a stream from `peer`, if both bounds have room.
    fn take(&self, peer: PeerId) -> Option<Slot> {
        let mut counts = self.counts.lock().expect("slot counts are never poisoned");
        let of_peer = counts.by_peer.get(&peer).copied().unwrap_or(0);
        if counts.open >= self.limit || of_peer >= self.per_peer {
            counts.refused += 1;
            return None;
        }
        counts.open += 1;
        counts.by_peer.insert(peer, of_peer + 1);
        Some(Slot {
            peer,
            counts: self.counts.clone(),
        })
    }

    pub(crate) fn usage(&self) -> StreamUsage {
        let counts = self.counts.lock().expect("slot counts are never poisoned");
        StreamUsage {
            service: self.service,
            open: counts.open,
            busiest_peer: counts.by_peer.values().copied().max().unwrap_or(0),
            limit: self.limit,
            limit_per_peer: self.per_peer,
            refused: counts.refused,
        }
    }
}

/// Runs `handle` for every inbound stream that gets one of `slots`, until the node stops; it
/// is given the runtime its future runs on.
pub(crate) async fn serve<F, Fut>(
    rt: crate::rt::Rt,
    mut incoming: libp2p_stream::IncomingStreams,
    slots: Slots,
    handle: F,
) where
    F: Fn(crate::rt::Rt, PeerId, Stream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    while let Some((peer, stream)) = incoming.next().await {
        match slots.take(peer) {
            Some(slot) => {
                let handling = handle(rt.clone(), peer, stream);
                rt.spawn(async move {
                    handling.await;
                    drop(slot);
                });
            }
            None => tracing::debug!(
                %peer,
                protocol = slots.service,
                limit = slots.limit,
                per_peer = slots.per_peer,
                "too many inbound streams; dropping one"
            ),
        }
    }
}
