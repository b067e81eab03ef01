//! The connection side of the node's resource manager, in the spirit of Kubo's: how many
//! connections the node holds in all, per peer and per IP address, how many are being set up,
//! which peers are banned for misbehaving, and a connection manager that trims the node back
//! to its low-water mark once it passes its high-water mark (Kubo's `Swarm.ConnMgr`).
//!
//! Streams and bytes are bounded where they are used (`inbound.rs`, `bitswap/`); this
//! behaviour counts connections, and [`Resources::usage`] reports them with the limits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use libp2p::PeerId;
use libp2p::core::transport::PortUse;
use libp2p::core::{Endpoint, Multiaddr};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::ConnectionEstablished;
use libp2p::swarm::{
    CloseConnection, ConnectionClosed, ConnectionDenied, ConnectionId, DialFailure, FromSwarm,
    ListenFailure, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm, dummy,
};

use crate::config::Limits;
use crate::rt::{Instant, Rt};

/// Why the resource manager refused a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Exceeded {
    /// The node holds as many connections as it takes.
    #[error("the node holds its limit of {limit} connections")]
    Connections {
        /// The limit.
        limit: u32,
    },
    /// The peer holds as many connections as one peer may.
    #[error("{peer} holds its limit of {limit} connections")]
    PerPeer {
        /// The peer.
        peer: PeerId,
        /// The limit.
        limit: u32,
    },
    /// Connections from one IP address (an IPv6 /64) are at their limit.
    #[error("{ip} holds its limit of {limit} connections")]
    PerIp {
        /// The address (for IPv6, the first address of its /64).
        ip: IpAddr,
        /// The limit.
        limit: u32,
    },
    /// As many connections as allowed are being set up in this direction.
    #[error("{limit} {direction} connections are being set up already")]
    Pending {
        /// `inbound` or `outbound`.
        direction: &'static str,
        /// The limit.
        limit: u32,
    },
    /// The peer misbehaved and is banned for a while.
    #[error("{peer} is banned for {left:?} more")]
    Banned {
        /// The peer.
        peer: PeerId,
        /// How long the ban lasts still.
        left: Duration,
    },
}

/// Connections in use, next to the limits, as `switchboard swarm resources` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionUsage {
    /// Established connections.
    pub established: u32,
    /// Of those, the ones peers opened.
    pub inbound: u32,
    /// Connections being set up, inbound.
    pub pending_inbound: u32,
    /// Connections being set up, outbound.
    pub pending_outbound: u32,
    /// The most connections any one peer holds.
    pub busiest_peer: u32,
    /// The most connections from any one IP address (loopback left out).
    pub busiest_ip: u32,
    /// Peers banned now.
    pub banned: u32,
    /// Connections the connection manager has closed since the node started.
    pub trimmed: u64,
}

/// A connection's IP for the per-IP limit: the address, or an IPv6 address's /64 (one
/// subscriber's usual allocation). `None` for loopback, which is not limited (nobody remote
/// connects from it), and for addresses without an IP.
pub(crate) fn ip_key(addr: &Multiaddr) -> Option<IpAddr> {
    let ip = addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(ip),
        }),
        _ => None,
    })?;
    match ip {
        ip if ip.is_loopback() => None,
        IpAddr::V4(_) => Some(ip),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            Some(IpAddr::V6(bits.into()))
        }
    }
}

struct Connection {
    peer: PeerId,
    ip: Option<IpAddr>,
    inbound: bool,
    since: Instant,
}

/// How often the connection manager looks again while it is over its high-water mark but
/// every connection is still in its grace period.
const TRIM_RETRY: Duration = Duration::from_secs(1);

/// The behaviour: counts, refuses, bans and trims.
pub(crate) struct Resources {
    rt: Rt,
    limits: Limits,
    pending_inbound: HashMap<ConnectionId, Option<IpAddr>>,
    pending_outbound: HashSet<ConnectionId>,
    established: HashMap<ConnectionId, Connection>,
    per_peer: HashMap<PeerId, u32>,
    /// Pending and established connections per IP.
    per_ip: HashMap<IpAddr, u32>,
    banned: HashMap<PeerId, Instant>,
    closing: VecDeque<PeerId>,
    trim_at: Option<switchboard_runtime::Sleep>,
    trimmed: u64,
}

impl Resources {
    pub(crate) fn new(rt: Rt, limits: Limits) -> Self {
        Self {
            rt,
            limits,
            pending_inbound: HashMap::new(),
            pending_outbound: HashSet::new(),
            established: HashMap::new(),
            per_peer: HashMap::new(),
            per_ip: HashMap::new(),
            banned: HashMap::new(),
            closing: VecDeque::new(),
            trim_at: None,
            trimmed: 0,
        }
    }

    /// Bans `peer` for the configured time: its connections are closed and new ones refused.
    pub(crate) fn ban(&mut self, peer: PeerId) {
        let until = Instant::now() + self.limits.ban();
        self.banned.insert(peer, until);
        self.closing.push_back(peer);
    }

    /// What is in use now.
    pub(crate) fn usage(&mut self) -> ConnectionUsage {
        self.expire_bans();
        ConnectionUsage {
            established: self.established.len() as u32,
            inbound: self.established.values().filter(|c| c.inbound).count() as u32,
            pending_inbound: self.pending_inbound.len() as u32,
            pending_outbound: self.pending_outbound.len() as u32,
            busiest_peer: self.per_peer.values().copied().max().unwrap_or(0),
            busiest_ip: self.per_ip.values().copied().max().unwrap_or(0),
            banned: self.banned.len() as u32,
            trimmed: self.trimmed,
        }
    }

    /// The limits this behaviour applies.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    fn expire_bans(&mut self) {
        let now = Instant::now();
        self.banned.retain(|_, until| *until > now);
    }

    fn check_banned(&mut self, peer: PeerId) -> Result<(), ConnectionDenied> {
        self.expire_bans();
        match self.banned.get(&peer) {
            Some(until) => Err(deny(Exceeded::Banned {
                peer,
                left: until.saturating_duration_since(Instant::now()),
            })),
            None => Ok(()),
        }
    }

    fn check_established(&mut self, peer: PeerId) -> Result<(), ConnectionDenied> {
        self.check_banned(peer)?;
        let limit = self.limits.max_connections;
        if self.established.len() as u32 >= limit {
            return Err(deny(Exceeded::Connections { limit }));
        }
        let limit = self.limits.max_connections_per_peer;
        if self.per_peer.get(&peer).copied().unwrap_or(0) >= limit {
            return Err(deny(Exceeded::PerPeer { peer, limit }));
        }
        Ok(())
    }

    fn add_ip(&mut self, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            *self.per_ip.entry(ip).or_default() += 1;
        }
    }

    fn remove_ip(&mut self, ip: Option<IpAddr>) {
        if let Some(ip) = ip
            && let Some(count) = self.per_ip.get_mut(&ip)
        {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    /// Over the high-water mark: picks connections to close until the low-water mark, among
    /// peers whose every connection is past its grace period, peers that dialed us before
    /// peers we dialed, the most recent first (long-lived peers are kept). Arms a retry while
    /// the node stays over the mark.
    fn trim(&mut self) {
        let count = self.established.len() as u32;
        if count <= self.limits.high_water {
            return;
        }
        let grace = self.limits.grace_period();
        let now = Instant::now();
        let mut peers: HashMap<PeerId, (bool, Instant)> = HashMap::new();
        let mut in_grace = HashSet::new();
        for connection in self.established.values() {
            if now.saturating_duration_since(connection.since) < grace {
                in_grace.insert(connection.peer);
            }
            let entry = peers
                .entry(connection.peer)
                .or_insert((connection.inbound, connection.since));
            entry.0 &= connection.inbound;
            entry.1 = entry.1.max(connection.since);
        }
        let mut candidates: Vec<(PeerId, bool, Instant)> = peers
            .into_iter()
            .filter(|(peer, _)| !in_grace.contains(peer) && !self.closing.contains(peer))
            .map(|(peer, (inbound, newest))| (peer, inbound, newest))
            .collect();
        // Inbound-only peers first, then the most recently connected.
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
        let mut left = count;
        for (peer, _, _) in candidates {
            if left <= self.limits.low_water {
                break;
            }
            left -= self.per_peer.get(&peer).copied().unwrap_or(0);
            self.trimmed += u64::from(self.per_peer.get(&peer).copied().unwrap_or(0));
            tracing::debug!(%peer, "connection manager closing connections over the high-water mark");
            self.closing.push_back(peer);
        }
        if left > self.limits.high_water {
            self.trim_at = Some(self.rt.sleep(TRIM_RETRY));
        }
    }
}

fn deny(exceeded: Exceeded) -> ConnectionDenied {
    tracing::debug!(%exceeded, "connection refused");
    ConnectionDenied::new(exceeded)
}

impl NetworkBehaviour for Resources {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        _: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let limit = self.limits.max_pending;
        if self.pending_inbound.len() as u32 >= limit {
            return Err(deny(Exceeded::Pending {
                direction: "inbound",
                limit,
            }));
        }
        let ip = ip_key(remote_addr);
        if let Some(ip) = ip {
            let limit = self.limits.max_connections_per_ip;
            if self.per_ip.get(&ip).copied().unwrap_or(0) >= limit {
                return Err(deny(Exceeded::PerIp { ip, limit }));
            }
        }
        self.add_ip(ip);
        self.pending_inbound.insert(id, ip);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        if let Some(ip) = self.pending_inbound.remove(&id) {
            self.remove_ip(ip);
        }
        self.check_established(peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = peer {
            self.check_banned(peer)?;
        }
        let limit = self.limits.max_pending;
        if self.pending_outbound.len() as u32 >= limit {
            return Err(deny(Exceeded::Pending {
                direction: "outbound",
                limit,
            }));
        }
        self.pending_outbound.insert(id);
        Ok(Vec::new())
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.pending_outbound.remove(&id);
        self.check_established(peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            }) => {
                let inbound = endpoint.is_listener();
                let ip = if inbound {
                    ip_key(endpoint.get_remote_address())
                } else {
                    None
                };
                self.add_ip(ip);
                *self.per_peer.entry(peer_id).or_default() += 1;
                self.established.insert(
                    connection_id,
                    Connection {
                        peer: peer_id,
                        ip,
                        inbound,
                        since: Instant::now(),
                    },
                );
                if self.established.len() as u32 > self.limits.high_water && self.trim_at.is_none()
                {
                    // Past the grace period of the oldest connections, or at once.
                    self.trim_at = Some(self.rt.sleep(Duration::ZERO));
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                if let Some(connection) = self.established.remove(&connection_id) {
                    self.remove_ip(connection.ip);
                }
                if let Some(count) = self.per_peer.get_mut(&peer_id) {
                    *count -= 1;
                    if *count == 0 {
                        self.per_peer.remove(&peer_id);
                    }
                }
            }
            FromSwarm::DialFailure(DialFailure { connection_id, .. }) => {
                self.pending_outbound.remove(&connection_id);
            }
            FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) => {
                if let Some(ip) = self.pending_inbound.remove(&connection_id) {
                    self.remove_ip(ip);
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        if let Some(timer) = &mut self.trim_at
            && timer.poll_unpin(cx).is_ready()
        {
            self.trim_at = None;
            self.trim();
        }
        if let Some(peer) = self.closing.pop_front() {
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id: peer,
                connection: CloseConnection::All,
            });
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use libp2p::swarm::{ConnectionId, NetworkBehaviour};

    use super::{Exceeded, Resources, ip_key};
    use crate::config::Limits;

    /// Sixteen connections being set up from one address, the seventeenth refused; from
    /// another address, or from loopback, there is room.
    #[test]
    fn connections_per_ip_are_limited() {
        let rt = crate::rt::Rt::new(switchboard_runtime::Smol::new());
        let mut resources = Resources::new(rt, Limits::default());
        let local: libp2p::Multiaddr = "/ip4/198.18.0.9/tcp/4001".parse().expect("addr");
        let from = |s: &str| s.parse::<libp2p::Multiaddr>().expect("addr");
        let pending = |resources: &mut Resources, remote: &str| {
            resources.handle_pending_inbound_connection(
                ConnectionId::new_unchecked(rand::random()),
                &local,
                &from(remote),
            )
        };
        for port in 0..16 {
            pending(
                &mut resources,
                &format!("/ip4/198.18.0.1/tcp/{}", 5000 + port),
            )
            .expect("within the limit");
        }
        let refused = pending(&mut resources, "/ip6/::ffff:198.18.0.1/tcp/6000").unwrap_err();
        assert_eq!(
            refused.downcast::<Exceeded>().ok(),
            Some(Exceeded::PerIp {
                ip: "198.18.0.1".parse().expect("ip"),
                limit: 16
            })
        );
        pending(&mut resources, "/ip4/198.18.0.2/tcp/6000").expect("another address");
        for port in 0..32 {
            pending(
                &mut resources,
                &format!("/ip4/127.0.0.1/tcp/{}", 7000 + port),
            )
            .expect("loopback is not limited per IP");
        }
        assert_eq!(resources.usage().busiest_ip, 16);
    }

    #[test]
    fn ip_keys() {
        let key = |s: &str| ip_key(&s.parse().expect("multiaddr"));
        assert_eq!(key("/ip4/127.0.0.1/tcp/1"), None);
        assert_eq!(key("/ip6/::1/tcp/1"), None);
        assert_eq!(key("/ip6/::ffff:127.0.0.1/tcp/1"), None);
        assert_eq!(
            key("/ip4/198.18.0.1/tcp/1"),
            key("/ip6/::ffff:198.18.0.1/udp/1/quic-v1")
        );
        assert_eq!(
            key("/ip6/2001:db8:1:2:3:4:5:6/tcp/1"),
            key("/ip6/2001:db8:1:2:ffff::1/tcp/1")
        );
        assert_ne!(
            key("/ip6/2001:db8:1:2::1/tcp/1"),
            key("/ip6/2001:db8:1:3::1/tcp/1")
        );
        assert_eq!(key("/dns/example.com/tcp/1"), None);
    }
}
