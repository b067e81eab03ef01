//! Serving as a circuit relay v2 (`/libp2p/circuit/relay/0.2.0/hop`): libp2p-relay's server,
//! configured from `[relay]`, with limits per IP address on top of libp2p's per-peer and total
//! ones, and the counts `switchboard swarm resources` shows.
//!
//! libp2p-relay answers every refusal with the spec's status (`RESOURCE_LIMIT_EXCEEDED`,
//! `NO_RESERVATION`, …) and keeps serving everyone else; its rate limiters are the one hook it
//! gives for deciding per request, and it calls them last, after its own limits passed. So the
//! per-IP limit is a rate limiter that counts what is held: a request it lets through is
//! accepted, and the relay's events say when each reservation or circuit ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::relay;
use libp2p::{Multiaddr, PeerId};

use crate::config::Relay as RelayConfig;
use crate::resources::ip_key;

/// What one IP address (an IPv6 /64) holds, and how many of one thing an address may hold.
#[derive(Debug)]
struct PerIp {
    limit: u32,
    /// Per peer: its address and how many it holds.
    peers: HashMap<PeerId, (IpAddr, u32)>,
    /// Per address: how many its peers hold.
    ips: HashMap<IpAddr, u32>,
}

impl PerIp {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            peers: HashMap::new(),
            ips: HashMap::new(),
        }
    }

    /// Takes one for `peer` at `addr`, unless its address holds its limit. Loopback is not
    /// limited, as for connections.
    fn take(&mut self, peer: PeerId, addr: &Multiaddr) -> bool {
        let Some(ip) = ip_key(addr) else {
            return true;
        };
        let held = self.ips.entry(ip).or_default();
        if *held >= self.limit {
            return false;
        }
        *held += 1;
        self.peers.entry(peer).or_insert((ip, 0)).1 += 1;
        true
    }

    /// Gives back one that `peer` held (a reservation or circuit ended, or was not made after
    /// all).
    fn give_back(&mut self, peer: PeerId) {
        let Some((ip, count)) = self.peers.get_mut(&peer) else {
            return;
        };
        let ip = *ip;
        *count -= 1;
        if *count == 0 {
            self.peers.remove(&peer);
        }
        if let Some(held) = self.ips.get_mut(&ip) {
            *held -= 1;
            if *held == 0 {
                self.ips.remove(&ip);
            }
        }
    }

    fn most(&self) -> u32 {
        self.ips.values().copied().max().unwrap_or(0)
    }
}

/// The relay's counts, shared between its rate-limiter hooks and the node.
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    inner: Arc<Mutex<LedgerInner>>,
}

#[derive(Debug)]
struct LedgerInner {
    limits: RelayConfig,
    reservations: PerIp,
    circuits: PerIp,
    reservations_held: u32,
    circuits_open: u32,
    refused: u64,
}

/// What the relay serves, next to its limits, for `switchboard swarm resources`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RelayUsage {
    /// Reservations held now.
    pub reservations: u32,
    /// The most reservations held by peers at one IP address.
    pub reservations_per_ip: u32,
    /// Circuits open now.
    pub circuits: u32,
    /// The most circuits opened from one IP address.
    pub circuits_per_ip: u32,
    /// Reservation and circuit requests refused since the node started.
    pub refused: u64,
    /// The relay's limits.
    pub limits: RelayConfig,
}

impl Ledger {
    fn new(config: &RelayConfig) -> Self {
        Self {
            inner: Arc::new(Mutex::new(LedgerInner {
                limits: config.clone(),
                reservations: PerIp::new(config.max_reservations_per_ip),
                circuits: PerIp::new(config.max_circuits_per_ip),
                reservations_held: 0,
                circuits_open: 0,
                refused: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerInner> {
        // Nothing panics while holding it; a poisoned lock still holds valid counts.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the counts in step with what the relay reports.
    pub(crate) fn on_event(&self, event: &relay::Event) {
        let mut inner = self.lock();
        match event {
            relay::Event::ReservationReqAccepted {
                src_peer_id,
                renewed,
            } => {
                if *renewed {
                    // The limiter counted a renewal as a new reservation.
                    inner.reservations.give_back(*src_peer_id);
                } else {
                    inner.reservations_held += 1;
                }
            }
            #[allow(deprecated)]
            relay::Event::ReservationReqAcceptFailed { src_peer_id, .. } => {
                inner.reservations.give_back(*src_peer_id);
            }
            relay::Event::ReservationReqDenied { .. } | relay::Event::CircuitReqDenied { .. } => {
                inner.refused += 1;
            }
            relay::Event::ReservationClosed { src_peer_id }
            | relay::Event::ReservationTimedOut { src_peer_id } => {
                inner.reservations.give_back(*src_peer_id);
                inner.reservations_held = inner.reservations_held.saturating_sub(1);
            }
            relay::Event::CircuitReqAccepted { .. } => inner.circuits_open += 1,
            #[allow(deprecated)]
            relay::Event::CircuitReqOutboundConnectFailed { src_peer_id, .. }
            | relay::Event::CircuitReqAcceptFailed { src_peer_id, .. } => {
                inner.circuits.give_back(*src_peer_id);
            }
            relay::Event::CircuitClosed { src_peer_id, .. } => {
                inner.circuits.give_back(*src_peer_id);
                inner.circuits_open = inner.circuits_open.saturating_sub(1);
            }
            _ => {}
        }
        // A circuit denied for want of a reservation passed every limiter first; one denied
        // over a limit never reached ours, and one the destination refused was given back at
        // `CircuitReqOutboundConnectFailed`.
        if let relay::Event::CircuitReqDenied {
            src_peer_id,
            status: relay::StatusCode::NoReservation,
            ..
        } = event
        {
            inner.circuits.give_back(*src_peer_id);
        }
    }

    /// The counts now.
    pub(crate) fn usage(&self) -> RelayUsage {
        let inner = self.lock();
        RelayUsage {
            reservations: inner.reservations_held,
            reservations_per_ip: inner.reservations.most(),
            circuits: inner.circuits_open,
            circuits_per_ip: inner.circuits.most(),
            refused: inner.refused,
            limits: inner.limits.clone(),
        }
    }
}

/// libp2p-relay's server for `config`, and the ledger that counts what it holds.
pub(crate) fn server(peer: PeerId, config: &RelayConfig) -> (relay::Behaviour, Ledger) {
    let ledger = Ledger::new(config);
    let reservations = {
        let ledger = ledger.clone();
        move |peer, addr: &Multiaddr, _now| ledger.lock().reservations.take(peer, addr)
    };
    let circuits = {
        let ledger = ledger.clone();
        move |peer, addr: &Multiaddr, _now| ledger.lock().circuits.take(peer, addr)
    };
    let per_minute = |n: u32| NonZeroU32::new(n.max(1)).expect("at least one");
    let mut relay_config = relay::Config {
        max_reservations: config.max_reservations as usize,
        max_reservations_per_peer: config.max_reservations_per_peer as usize,
        reservation_duration: Duration::from_secs(config.reservation_secs),
        max_circuits: config.max_circuits as usize,
        max_circuits_per_peer: config.max_circuits_per_peer as usize,
        max_circuit_duration: Duration::from_secs(config.max_circuit_secs),
        max_circuit_bytes: config.max_circuit_bytes,
        reservation_rate_limiters: Vec::new(),
        circuit_src_rate_limiters: Vec::new(),
    }
    // libp2p's own rate limits per peer and per IP, as in its defaults: one new reservation
    // and circuit per peer every two minutes on average (bursts of 30), per IP every minute
    // (bursts of 60).
    .reservation_rate_per_peer(per_minute(30), Duration::from_secs(120))
    .reservation_rate_per_ip(per_minute(60), Duration::from_secs(60))
    .circuit_src_per_peer(per_minute(30), Duration::from_secs(120))
    .circuit_src_per_ip(per_minute(60), Duration::from_secs(60));
    // Last: what passes it is accepted, so what it counts is what the relay holds.
    relay_config
        .reservation_rate_limiters
        .push(Box::new(reservations));
    relay_config
        .circuit_src_rate_limiters
        .push(Box::new(circuits));
    (relay::Behaviour::new(peer, relay_config), ledger)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Multiaddr {
        s.parse().expect("addr")
    }

    #[test]
    fn one_address_holds_at_most_its_limit_and_gets_room_back() {
        let mut per_ip = PerIp::new(2);
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        let here = addr("/ip4/198.18.0.1/tcp/4001");
        assert!(per_ip.take(a, &here));
        assert!(per_ip.take(b, &here));
        assert!(!per_ip.take(c, &here), "a third from one address");
        assert!(
            per_ip.take(c, &addr("/ip4/198.18.0.2/tcp/4001")),
            "another address"
        );
        per_ip.give_back(a);
        assert!(per_ip.take(c, &here), "room once one ended");
        assert_eq!(per_ip.most(), 2);
    }

    #[test]
    fn an_ipv6_64_is_one_address_and_loopback_is_not_limited() {
        let mut per_ip = PerIp::new(1);
        assert!(per_ip.take(PeerId::random(), &addr("/ip6/2001:db8::1/tcp/1")));
        assert!(!per_ip.take(PeerId::random(), &addr("/ip6/2001:db8::2/tcp/1")));
        for _ in 0..4 {
            assert!(per_ip.take(PeerId::random(), &addr("/ip4/127.0.0.1/tcp/1")));
        }
    }

    #[test]
    fn giving_back_what_was_never_taken_changes_nothing() {
        let mut per_ip = PerIp::new(1);
        per_ip.give_back(PeerId::random());
        assert!(per_ip.take(PeerId::random(), &addr("/ip4/198.18.0.1/tcp/1")));
        assert_eq!(per_ip.most(), 1);
    }
}
