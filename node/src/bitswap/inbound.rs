//! Inbound Bitswap streams: each is read message by message until the peer closes it (boxo
//! keeps one open; Helia sends one batch per stream), within bounds a peer cannot stretch.
//!
//! - Stream slots are limited in all and per peer ([`Slots`]).
//! - A message's buffer comes out of a [`ReadBudget`] before it is read: memory for messages
//!   being read or waiting for the engine is bounded in all and per peer, and a reader waits
//!   (and so back-pressures its sender) when there is no room.
//! - A stream with no message that carries anything for `idle` is dropped
//!   ([`Limits::bitswap_stream_idle`](crate::config::Limits::bitswap_stream_idle)): empty
//!   messages do not keep a slot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_listener::Event;
use futures::AsyncWriteExt;
use libp2p::PeerId;
use switchboard_exchange::{MAX_MESSAGE_SIZE, ReadError, Version, read_body, read_length};

use super::Input;
use crate::inbound::Slots;
use crate::rt::{Instant, Rt};

/// Budget units: KiB, so that a budget of terabytes fits a `u32`.
const UNIT: usize = 1024;

fn units(bytes: usize) -> u32 {
    bytes.div_ceil(UNIT).min(u32::MAX as usize) as u32
}

/// Units of a budget, taken several at once and waited for when short: a weighted semaphore
/// on any runtime. Waiters are woken together when units come back and each takes its share
/// if there is room (no queue: a small request may go before a large one that waits, and the
/// reader's idle deadline bounds that wait).
#[derive(Debug)]
struct Units {
    available: Mutex<u32>,
    returned: Event,
}

impl Units {
    fn new(units: u32) -> Self {
        Self {
            available: Mutex::new(units),
            returned: Event::new(),
        }
    }

    fn available(&self) -> u32 {
        *self.available.lock().expect("never poisoned")
    }

    fn try_take(&self, n: u32) -> bool {
        let mut available = self.available.lock().expect("never poisoned");
        let room = *available >= n;
        if room {
            *available -= n;
        }
        room
    }

    /// Takes `n` units (at most what the budget holds), waiting until there are that many.
    async fn take(self: Arc<Self>, n: u32) -> Taken {
        loop {
            if self.try_take(n) {
                break;
            }
            // Listen before looking again, so units given back in between wake this one.
            let returned = self.returned.listen();
            if self.try_take(n) {
                break;
            }
            returned.await;
        }
        Taken { units: self, n }
    }
}

/// Units taken from [`Units`], given back when dropped.
#[derive(Debug)]
struct Taken {
    units: Arc<Units>,
    n: u32,
}

impl Drop for Taken {
    fn drop(&mut self) {
        *self.units.available.lock().expect("never poisoned") += self.n;
        self.units.returned.notify(usize::MAX);
    }
}

/// Bytes of Bitswap messages being read or waiting for the engine, bounded in all and per
/// peer. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct ReadBudget {
    total: Arc<Units>,
    per_peer: u32,
    peers: Arc<Mutex<HashMap<PeerId, Arc<Units>>>>,
    in_use: Arc<AtomicU64>,
}

/// A message's share of the [`ReadBudget`], given back when dropped (once the engine has
/// handled the message).
#[derive(Debug)]
pub(crate) struct Reservation {
    _total: Taken,
    peer_permit: Option<Taken>,
    peer: PeerId,
    bytes: u64,
    budget: ReadBudget,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.in_use.fetch_sub(self.bytes, Ordering::Relaxed);
        drop(self.peer_permit.take());
        let mut peers = self.budget.peers.lock().expect("never poisoned");
        // A peer with nothing reserved is forgotten, so the map holds only active readers.
        if peers
            .get(&self.peer)
            .is_some_and(|units| units.available() == self.budget.per_peer)
        {
            peers.remove(&self.peer);
        }
    }
}

impl ReadBudget {
    /// A budget of `total` bytes, `per_peer` of them for one peer; each holds at least one
    /// message of the largest size.
    pub(crate) fn new(total: u64, per_peer: u64) -> Self {
        let floor = units(MAX_MESSAGE_SIZE);
        let cap = |bytes: u64| (bytes.div_ceil(UNIT as u64).min(u32::MAX as u64) as u32).max(floor);
        let total = cap(total);
        Self {
            total: Arc::new(Units::new(total)),
            per_peer: cap(per_peer).min(total),
            peers: Arc::new(Mutex::new(HashMap::new())),
            in_use: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes reserved now.
    pub(crate) fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Reserves `len` bytes for a message from `peer`, waiting for room. A message is at most
    /// [`MAX_MESSAGE_SIZE`] (the reader refuses longer ones first), which each share holds.
    pub(crate) async fn reserve(&self, peer: PeerId, len: usize) -> Reservation {
        let n = units(len).min(self.per_peer);
        let of_peer = self
            .peers
            .lock()
            .expect("never poisoned")
            .entry(peer)
            .or_insert_with(|| Arc::new(Units::new(self.per_peer)))
            .clone();
        // Per peer first: a greedy peer waits for its own share and holds nothing of the rest.
        let peer_permit = of_peer.take(n).await;
        let total = self.total.clone().take(n).await;
        self.in_use.fetch_add(len as u64, Ordering::Relaxed);
        Reservation {
            _total: total,
            peer_permit: Some(peer_permit),
            peer,
            bytes: len as u64,
            budget: self.clone(),
        }
    }
}

/// Reads every inbound Bitswap stream of one protocol version, message by message, into the
/// driver's queue.
pub(super) async fn serve(
    rt: Rt,
    incoming: libp2p_stream::IncomingStreams,
    version: Version,
    slots: Slots,
    budget: ReadBudget,
    idle: Duration,
    inbound: async_channel::Sender<Input>,
) {
    crate::inbound::serve(rt, incoming, slots, move |rt, peer, mut stream| {
        let inbound = inbound.clone();
        let budget = budget.clone();
        async move {
            let mut deadline = Instant::now() + idle;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let next = rt
                    .timeout(left, async {
                        let Some(len) = read_length(&mut stream).await? else {
                            return Ok(None);
                        };
                        let reservation = budget.reserve(peer, len).await;
                        let message = read_body(&mut stream, len).await?;
                        Ok(Some((message, reservation)))
                    })
                    .await;
                let (message, reservation) = match next {
                    Ok(Ok(Some((message, reservation)))) => (Ok(message), Some(reservation)),
                    Ok(Ok(None)) | Err(_) => break,
                    // A stream that broke is the transport's problem, not misbehaviour.
                    Ok(Err(ReadError::Io(_))) => break,
                    Ok(Err(e)) => (Err(e), None),
                };
                let failed = message.is_err();
                if message.as_ref().is_ok_and(|m| !m.is_empty()) {
                    deadline = Instant::now() + idle;
                }
                let input = Input::Inbound {
                    peer,
                    version,
                    message,
                    _reservation: reservation,
                };
                if inbound.send(input).await.is_err() || failed {
                    break;
                }
            }
            let _ = stream.close().await;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_cannot_take_more_than_its_share() {
        futures::executor::block_on(async {
            let budget = ReadBudget::new(16 << 20, 8 << 20);
            let (greedy, other) = (PeerId::random(), PeerId::random());
            let first = budget.reserve(greedy, 4 << 20).await;
            let second = budget.reserve(greedy, 4 << 20).await;
            assert_eq!(budget.in_use(), 8 << 20);
            // The greedy peer's third message waits; another peer still gets room.
            {
                let third = std::pin::pin!(budget.reserve(greedy, 1));
                assert!(futures::poll!(third).is_pending());
            }
            let theirs = budget.reserve(other, 4 << 20).await;
            drop((first, second, theirs));
            assert_eq!(budget.in_use(), 0);
            assert!(budget.peers.lock().expect("lock").is_empty());
        });
    }
}
