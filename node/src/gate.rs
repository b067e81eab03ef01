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
        self.inner
            .handle_established_inbound_connection(id, peer, local_addr, remote_addr)
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
        self.inner
            .handle_established_outbound_connection(id, peer, addr, role_override, port_use)
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
        self.inner.poll(cx)
    }
}
