//! Where the node's filter [`Policy`] meets the swarm: a behaviour that refuses denied
//! connections, and a wrapper that hides denied addresses from what a behaviour advertises.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use libp2p::PeerId;
use libp2p::core::transport::PortUse;
use libp2p::core::{Endpoint, Multiaddr};
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use switchboard_filters::{Policy, Scope};

/// Refuses inbound connections the policy denies (on arrival by address, again once the peer
/// is authenticated) and outbound connections to denied addresses, whoever dialed them.
pub(crate) struct Gate {
    policy: Arc<Policy>,
}

impl Gate {
    pub(crate) fn new(policy: Arc<Policy>) -> Self {
        Self { policy }
    }

    fn check(
        &self,
        scope: Scope,
        addr: &Multiaddr,
        peer: Option<PeerId>,
    ) -> Result<(), ConnectionDenied> {
        self.policy.check(scope, addr, peer).map_err(|denied| {
            tracing::debug!(%denied, "connection refused");
            ConnectionDenied::new(denied)
        })
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.check(Scope::Inbound, remote_addr, None)
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(Scope::Inbound, remote_addr, Some(peer))?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(Scope::Dial, addr, Some(peer))?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

/// Wraps a behaviour that tells others our addresses (identify, mDNS) so that it never learns
/// of listen or external addresses the policy denies in [`Scope::Advertise`].
///
/// It also shapes what identify tells a peer about the peer: the address we see it at is only
/// worth telling when it is an IP or DNS address the peer could be reached at. On a relayed
/// connection or a `/webrtc` one it is not, and js-libp2p's identify (which only sends such
/// addresses itself) fails on one, silently: the peer never learns our protocols, and Helia
/// then never asks us for a block. Those connections tell an empty address, as js does, and
/// empty ones heard back are not offered as our external addresses.
pub(crate) struct Advertised<B> {
    inner: B,
    policy: Arc<Policy>,
    local_peer: PeerId,
}

impl<B> Advertised<B> {
    pub(crate) fn new(inner: B, policy: Arc<Policy>, local_peer: PeerId) -> Self {
        Self {
            inner,
            policy,
            local_peer,
        }
    }

    fn allowed(&self, addr: &Multiaddr) -> bool {
        self.policy
            .check(Scope::Advertise, addr, Some(self.local_peer))
            .is_ok()
    }
}

/// The address to tell a peer we see it at: `addr` when it is one it could be reached at (an
/// IP or DNS address, not through a relay), none otherwise.
fn observed(addr: &Multiaddr) -> std::borrow::Cow<'_, Multiaddr> {
    use libp2p::multiaddr::Protocol;
    let reachable = matches!(
        addr.iter().next(),
        Some(
            Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
                | Protocol::Dnsaddr(_)
        )
    ) && !addr.iter().any(|p| p == Protocol::P2pCircuit);
    match reachable {
        true => std::borrow::Cow::Borrowed(addr),
        false => std::borrow::Cow::Owned(Multiaddr::empty()),
    }
}

impl<B: NetworkBehaviour> NetworkBehaviour for Advertised<B> {
    type ConnectionHandler = B::ConnectionHandler;
    type ToSwarm = B::ToSwarm;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_inbound_connection(
            id,
            peer,
            local_addr,
            &observed(remote_addr),
        )
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner
            .handle_pending_outbound_connection(id, maybe_peer, addresses, effective_role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_outbound_connection(
            id,
            peer,
            &observed(addr),
            role_override,
            port_use,
        )
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        let hidden = match &event {
            FromSwarm::NewListenAddr(e) => !self.allowed(e.addr),
            FromSwarm::NewExternalAddrCandidate(e) => !self.allowed(e.addr),
            FromSwarm::ExternalAddrConfirmed(e) => !self.allowed(e.addr),
            _ => false,
        };
        if !hidden {
            self.inner.on_swarm_event(event);
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner.on_connection_handler_event(peer, id, event)
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        loop {
            match self.inner.poll(cx) {
                // A peer that told us nothing it sees us at (see `observed`).
                Poll::Ready(ToSwarm::NewExternalAddrCandidate(addr)) if addr.is_empty() => {}
                other => return other,
            }
        }
    }
}
