//! The task that owns the swarm: it answers the [`Node`] handle's commands and turns swarm
//! events into replies and [`Event`]s.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use libp2p::core::ConnectedPoint;
use libp2p::core::transport::ListenerId;
use libp2p::core::transport::TransportError;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError as SwarmDialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify};
#[cfg(mdns)]
use libp2p_mdns as mdns;
use switchboard_filters::{Denied, Policy, Scope};
use switchboard_transport::{CompanionEvent, Transport, Unsupported, dialer, is_relayed};

use crate::behaviour::{Behaviour, BehaviourEvent};
use crate::error::Cause;
use crate::node::{Command, Direction, Event, PeerInfo, Reply};
use crate::rt::{Elapsed, Instant, Rt};
use crate::{BuildError, DialError, ListenError, Node};

/// How long listeners get to report an address at start-up.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Commands queued from handles before senders wait.
const COMMAND_QUEUE: usize = 64;
/// Events kept for slow subscribers.
const EVENT_QUEUE: usize = 256;
/// The longest wait before reserving again on a relay that keeps failing; the waits double
/// from a second up to it.
const RELISTEN_MAX: Duration = Duration::from_secs(60);

/// A listener someone waits on, or one to start again when it closes.
struct Listener {
    addr: Multiaddr,
    waiting: Vec<Reply<Result<Multiaddr, ListenError>>>,
    /// Listen again when it closes: a relay reservation, kept for as long as the node runs.
    keep: bool,
    /// Closes in a row without an address in between.
    failures: u32,
}

/// What a runner is started with, besides its swarm.
pub(crate) struct Parts {
    pub(crate) rt: Rt,
    pub(crate) blockstore: Arc<dyn switchboard_exchange::Blockstore>,
    pub(crate) keypair: Keypair,
    pub(crate) transports: Vec<Arc<dyn Transport>>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) limits: crate::config::Limits,
    pub(crate) serve_perf: bool,
    /// The relay server's ledger, when the node serves as a relay.
    pub(crate) relay: Option<crate::relay::Ledger>,
    pub(crate) listen: Vec<Multiaddr>,
}

struct PendingDial {
    addr: Multiaddr,
    expected: Option<PeerId>,
    reply: Reply<Result<PeerId, DialError>>,
}

pub(crate) struct Runner {
    rt: Rt,
    swarm: Swarm<Behaviour>,
    /// Pinned, as its stream wants to be polled.
    commands: Pin<Box<async_channel::Receiver<Command>>>,
    events: async_broadcast::Sender<Event>,
    /// What Bitswap hears about peers, on a queue of its own.
    bitswap_peers: crate::bitswap::PeerFeed,
    transports: Vec<Arc<dyn Transport>>,
    policy: Arc<Policy>,
    dial_timeout: Duration,
    pending: HashMap<ConnectionId, PendingDial>,
    timers: FuturesUnordered<BoxFuture<'static, ConnectionId>>,
    connections: HashMap<ConnectionId, PeerInfo>,
    listen_addrs: Vec<Multiaddr>,
    /// The relay server's ledger, when the node serves as a relay.
    relay: Option<crate::relay::Ledger>,
    /// Listeners started by `Node::listen`, and relay reservations kept.
    listeners: HashMap<ListenerId, Listener>,
    /// Reservations to make again once their wait is over: the address and past failures.
    relisten: FuturesUnordered<BoxFuture<'static, (Multiaddr, u32)>>,
}

impl Runner {
    /// Starts every listener, waits for each to have an address, then runs the swarm on a
    /// task of the node's runtime.
    pub(crate) async fn start(swarm: Swarm<Behaviour>, parts: Parts) -> Result<Node, BuildError> {
        let Parts {
            rt,
            blockstore,
            keypair,
            transports,
            policy,
            limits,
            serve_perf,
            relay,
            listen,
        } = parts;
        let protocols = swarm.behaviour().protocols(serve_perf);
        let (command_tx, commands) = async_channel::bounded(COMMAND_QUEUE);
        // A subscriber that falls behind loses the oldest events, and no subscriber at all is
        // fine: the runner never waits on one.
        let (mut events, subscriptions) = async_broadcast::broadcast(EVENT_QUEUE);
        events.set_overflow(true);
        events.set_await_active(false);
        let subscriptions = subscriptions.deactivate();
        let mut control = swarm.behaviour().stream.new_control();
        let incoming_pings = control
            .accept(crate::ping::PROTOCOL)
            .expect("nothing else registers ping");
        let mut services = vec![crate::ping::slots()];
        rt.spawn(crate::ping::serve(
            rt.clone(),
            incoming_pings,
            services[0].clone(),
        ));
        if serve_perf {
            let incoming_perf = control
                .accept(crate::perf::PROTOCOL)
                .expect("nothing else registers perf");
            let slots = crate::perf::slots();
            rt.spawn(crate::perf::serve(rt.clone(), incoming_perf, slots.clone()));
            services.push(slots);
        }
        let (bitswap, bitswap_peers) = crate::bitswap::Bitswap::start(
            rt.clone(),
            blockstore,
            control.clone(),
            command_tx.clone(),
            &limits,
        );
        let mut runner = Runner {
            rt: rt.clone(),
            swarm,
            commands: Box::pin(commands),
            events,
            bitswap_peers,
            transports,
            policy,
            dial_timeout: limits.dial_timeout(),
            pending: HashMap::new(),
            timers: FuturesUnordered::new(),
            connections: HashMap::new(),
            listen_addrs: Vec::new(),
            relay: relay.clone(),
            listeners: HashMap::new(),
            relisten: FuturesUnordered::new(),
        };
        services.push(bitswap.slots().clone());
        runner.listen(listen).await?;
        rt.spawn(runner.run());
        Ok(Node::new(crate::node::Parts {
            public_key: keypair.public(),
            commands: command_tx,
            events: subscriptions,
            control,
            bitswap,
            services,
            protocols,
            relay,
        }))
    }

    /// Starts the listeners the node was built with and waits for each to have an address.
    /// Relay reservations (and `/webrtc`, which listens through them) are only started: a
    /// relay that cannot be reached now is tried again and again (see
    /// [`Runner::keep_listening`]), and must not keep the node from starting.
    async fn listen(&mut self, addrs: Vec<Multiaddr>) -> Result<(), BuildError> {
        // `/webrtc` has an address only once a reservation has one.
        let (circuits, addrs): (Vec<_>, Vec<_>) = addrs
            .into_iter()
            .partition(|a| is_relayed(a) || a.iter().eq([Protocol::WebRTC]));
        let mut waiting = HashMap::new();
        for addr in addrs {
            match self.swarm.listen_on(addr.clone()) {
                Ok(id) => {
                    waiting.insert(id, addr);
                }
                Err(e) => {
                    let source = match e {
                        TransportError::Other(source) => source,
                        // The builder checked every address against the transports.
                        TransportError::MultiaddrNotSupported(_) => std::io::Error::new(
                            std::io::ErrorKind::Unsupported,
                            "no transport listens on this address",
                        ),
                    };
                    return Err(BuildError::Listen { addr, source });
                }
            }
        }
        let deadline = Instant::now() + LISTEN_TIMEOUT;
        while !waiting.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(event) = self.rt.timeout(left, self.swarm.select_next_some()).await else {
                let addr = waiting
                    .into_values()
                    .next()
                    .expect("loop runs while some are waiting");
                return Err(BuildError::ListenTimeout {
                    addr,
                    after: LISTEN_TIMEOUT,
                });
            };
            match event {
                SwarmEvent::NewListenAddr { listener_id, .. } => {
                    waiting.remove(&listener_id);
                    self.handle_event(event);
                }
                SwarmEvent::ListenerClosed {
                    listener_id,
                    reason: Err(source),
                    ..
                }
                | SwarmEvent::ListenerError {
                    listener_id,
                    error: source,
                } if waiting.contains_key(&listener_id) => {
                    let addr = waiting.remove(&listener_id).expect("checked by the guard");
                    return Err(BuildError::Listen { addr, source });
                }
                event => self.handle_event(event),
            }
        }
        for addr in circuits {
            self.keep_listening(addr, 0);
        }
        Ok(())
    }

    /// Starts a listener that is started again whenever it closes (a relay reservation),
    /// after `failures` closes in a row.
    fn keep_listening(&mut self, addr: Multiaddr, failures: u32) {
        match self.swarm.listen_on(addr.clone()) {
            Ok(id) => {
                self.listeners.insert(
                    id,
                    Listener {
                        addr,
                        waiting: Vec::new(),
                        keep: true,
                        failures,
                    },
                );
            }
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cannot listen");
                self.listen_later(addr, failures + 1);
            }
        }
    }

    /// Listens on `addr` again after a wait that doubles with each failure in a row.
    fn listen_later(&mut self, addr: Multiaddr, failures: u32) {
        let wait = Duration::from_secs(1 << failures.min(6)).min(RELISTEN_MAX);
        tracing::info!(%addr, ?wait, "listening again after a wait");
        self.relisten
            .push(self.rt.sleep(wait).map(move |()| (addr, failures)).boxed());
    }

    /// `Node::listen`: starts a listener and answers once it has an address or has failed.
    fn listen_now(&mut self, addr: Multiaddr, reply: Reply<Result<Multiaddr, ListenError>>) {
        if let Err(retired) = switchboard_transport::retired(&addr) {
            let _ = reply.send(Err(retired.into()));
            return;
        }
        if !self.transports.iter().any(|t| t.can_listen(&addr)) {
            let _ = reply.send(Err(Unsupported::Address(addr).into()));
            return;
        }
        match self.swarm.listen_on(addr.clone()) {
            Ok(id) => {
                let keep = is_relayed(&addr);
                self.listeners.insert(
                    id,
                    Listener {
                        addr,
                        waiting: vec![reply],
                        keep,
                        failures: 0,
                    },
                );
            }
            Err(e) => {
                let source: Cause = match e {
                    TransportError::Other(e) => Arc::new(e),
                    TransportError::MultiaddrNotSupported(_) => {
                        Arc::new(std::io::Error::from(std::io::ErrorKind::Unsupported))
                    }
                };
                let _ = reply.send(Err(ListenError::Failed { addr, source }));
            }
        }
    }

    async fn run(mut self) {
        loop {
            futures::select! {
                command = self.commands.next() => match command {
                    Some(Command::Shutdown(reply)) => {
                        self.close_connections().await;
                        drop(self.swarm);
                        let _ = reply.send(());
                        return;
                    }
                    Some(command) => self.handle_command(command),
                    None => return,
                },
                event = self.swarm.select_next_some() => self.handle_event(event),
                (addr, failures) = self.relisten.select_next_some() => {
                    self.keep_listening(addr, failures);
                }
                // An empty set of timers is skipped until a dial pushes one.
                id = self.timers.select_next_some() => {
                    if let Some(dial) = self.pending.remove(&id) {
                        let after = self.dial_timeout;
                        let _ = dial.reply.send(Err(DialError::Timeout { addr: dial.addr, after }));
                    }
                }
            }
        }
    }

    /// Closes every connection and waits (briefly) until they are closed, so peers learn of it
    /// now rather than by timeout: a dropped WebRTC connection, unlike a TCP one, tells the
    /// other side nothing, which would keep a dead connection there for its streams to use.
    async fn close_connections(&mut self) {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.swarm.connected_peers().next().is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rt.timeout(left, self.swarm.select_next_some()).await {
                Ok(event) => self.handle_event(event),
                Err(Elapsed) => return,
            }
        }
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Connect { addr, reply } => self.connect(addr, reply),
            Command::DialPeer { peer, reply } => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(peer));
                    return;
                }
                let opts = DialOpts::peer_id(peer).allocate_new_port().build();
                self.dial(
                    opts,
                    Multiaddr::empty().with(Protocol::P2p(peer)),
                    Some(peer),
                    reply,
                );
            }
            Command::Listen { addr, reply } => self.listen_now(addr, reply),
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            Command::Advertised(reply) => {
                let local = *self.swarm.local_peer_id();
                let advertised = self
                    .listen_addrs
                    .iter()
                    .filter(|a| self.policy.check(Scope::Advertise, a, Some(local)).is_ok())
                    .cloned()
                    .collect();
                let _ = reply.send(advertised);
            }
            Command::Peers(reply) => {
                // One entry per peer: a direct connection over a relayed one, as streams
                // prefer it.
                let mut peers: Vec<PeerInfo> = Vec::new();
                for info in self.connections.values() {
                    match peers.iter_mut().find(|p| p.peer == info.peer) {
                        Some(known) if is_relayed(&known.addr) && !is_relayed(&info.addr) => {
                            *known = info.clone();
                        }
                        Some(_) => {}
                        None => peers.push(info.clone()),
                    }
                }
                peers.sort_by_key(|p| p.peer.to_bytes());
                let _ = reply.send(peers);
            }
            Command::Disconnect(peer) => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::Ban(peer) => {
                tracing::info!(%peer, ban = ?self.swarm.behaviour().resources.limits().ban(), "banning a misbehaving peer");
                self.swarm.behaviour_mut().resources.ban(peer);
            }
            Command::Connections(reply) => {
                let _ = reply.send(self.swarm.behaviour_mut().resources.usage());
            }
            Command::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    fn connect(&mut self, addr: Multiaddr, reply: Reply<Result<PeerId, DialError>>) {
        let expected = match addr.iter().last() {
            Some(Protocol::P2p(peer)) => Some(peer),
            _ => None,
        };
        // Refusals known before dialing get their own typed errors, not a transport failure.
        if let Err(denied) = self.policy.check(Scope::Dial, &addr, None) {
            let _ = reply.send(Err(denied.into()));
            return;
        }
        if let Err(unsupported) = dialer(&self.transports, &addr) {
            let _ = reply.send(Err(unsupported.into()));
            return;
        }
        let opts = match expected {
            Some(peer) if peer == *self.swarm.local_peer_id() => {
                let _ = reply.send(Err(DialError::SelfDial(addr)));
                return;
            }
            // Connected already: done, unless this is a direct address (or `/webrtc`) and
            // every connection so far goes through a relay.
            Some(peer)
                if self.swarm.is_connected(&peer)
                    && (is_relayed(&addr) || self.connected_directly(peer)) =>
            {
                let _ = reply.send(Ok(peer));
                return;
            }
            Some(peer) => DialOpts::peer_id(peer)
                .addresses(vec![addr.clone()])
                .condition(PeerCondition::Always)
                .allocate_new_port()
                .build(),
            None => DialOpts::unknown_peer_id()
                .address(addr.clone())
                .allocate_new_port()
                .build(),
        };
        self.dial(opts, addr, expected, reply);
    }

    /// Starts a dial and remembers who waits for it.
    ///
    /// Every dial gets a fresh local port. libp2p's default dials from the listening port, so
    /// two peers dialing each other at once (both discovered each other by mDNS, or two
    /// operators ran `swarm connect` together) share one TCP 4-tuple: a simultaneous open that
    /// both ends take for an outbound connection, and the security handshake stalls.
    fn dial(
        &mut self,
        opts: DialOpts,
        addr: Multiaddr,
        expected: Option<PeerId>,
        reply: Reply<Result<PeerId, DialError>>,
    ) {
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.pending.insert(
                    id,
                    PendingDial {
                        addr,
                        expected,
                        reply,
                    },
                );
                let timeout = self.dial_timeout;
                self.timers
                    .push(self.rt.sleep(timeout).map(move |()| id).boxed());
            }
            Err(e) => {
                let _ = reply.send(Err(dial_error(e, addr, expected)));
            }
        }
    }

    fn emit(&self, event: Event) {
        // No subscribers is fine, and a full queue drops its oldest event.
        let _ = self.events.try_broadcast(event);
    }

    fn handle_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.bitswap_peers.catch_up();
        match event {
            SwarmEvent::NewListenAddr {
                listener_id,
                mut address,
            } => {
                // A relay reservation comes as `…/p2p-circuit/p2p/SELF`; listen addresses are
                // kept without the node's own id, as every other one is.
                if address.iter().last() == Some(Protocol::P2p(*self.swarm.local_peer_id())) {
                    address.pop();
                }
                tracing::info!(%address, "listening");
                if let Some(listener) = self.listeners.get_mut(&listener_id) {
                    listener.failures = 0;
                    for reply in listener.waiting.drain(..) {
                        let _ = reply.send(Ok(address.clone()));
                    }
                }
                self.advertise_as_relay(&address);
                self.listen_addrs.push(address.clone());
                self.emit(Event::ListenAddr(address));
            }
            SwarmEvent::ExpiredListenAddr { mut address, .. } => {
                if address.iter().last() == Some(Protocol::P2p(*self.swarm.local_peer_id())) {
                    address.pop();
                }
                self.listen_addrs.retain(|a| *a != address);
                self.swarm.remove_external_address(&address);
                self.emit(Event::ListenAddrExpired(address));
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                reason,
            } => {
                for mut address in addresses {
                    if address.iter().last() == Some(Protocol::P2p(*self.swarm.local_peer_id())) {
                        address.pop();
                    }
                    self.listen_addrs.retain(|a| *a != address);
                    self.swarm.remove_external_address(&address);
                    self.emit(Event::ListenAddrExpired(address));
                }
                if let Some(listener) = self.listeners.remove(&listener_id) {
                    let source: Cause = match reason {
                        Ok(()) => Arc::new(std::io::Error::other("the listener closed")),
                        Err(e) => Arc::new(e),
                    };
                    tracing::info!(addr = %listener.addr, error = %source, "listener closed");
                    for reply in listener.waiting {
                        let _ = reply.send(Err(ListenError::Failed {
                            addr: listener.addr.clone(),
                            source: source.clone(),
                        }));
                    }
                    if listener.keep {
                        self.listen_later(listener.addr, listener.failures + 1);
                    }
                }
            }
            #[cfg(not(wasm_browser))]
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(event)) => {
                match &event.result {
                    Ok(connection) => {
                        tracing::info!(peer = %event.remote_peer_id, %connection, "hole punched")
                    }
                    Err(error) => {
                        tracing::info!(peer = %event.remote_peer_id, %error, "hole punching failed")
                    }
                }
                self.emit(Event::HolePunch {
                    peer: event.remote_peer_id,
                    succeeded: event.result.is_ok(),
                });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => {
                tracing::debug!(?event, "relay");
                if let Some(ledger) = &self.relay {
                    ledger.on_event(&event);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Companions(CompanionEvent::RelayClient(
                event,
            ))) => {
                tracing::info!(?event, "relay client");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let (mut addr, direction) = match endpoint {
                    ConnectedPoint::Dialer { address, .. } => (address, Direction::Outbound),
                    // A circuit's far end is known by its id alone (`/p2p/…`): an inbound
                    // circuit is reported at the relay's circuit address, which says it is
                    // relayed, as Kubo's `swarm peers` does.
                    ConnectedPoint::Listener {
                        local_addr,
                        send_back_addr,
                    } => {
                        let addr = if is_relayed(&local_addr) {
                            local_addr
                        } else {
                            send_back_addr
                        };
                        (addr, Direction::Inbound)
                    }
                };
                // A dialed address may end in the peer's id (WebRTC-direct's do); the peer is
                // reported beside it, as Kubo's `swarm peers` does.
                if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
                    addr.pop();
                }
                tracing::info!(peer = %peer_id, %addr, "connected");
                if !is_relayed(&addr)
                    && self
                        .connections
                        .values()
                        .any(|c| c.peer == peer_id && is_relayed(&c.addr))
                    && !self.connected_directly(peer_id)
                {
                    self.bitswap_peers.direct(peer_id);
                }
                self.connections.insert(
                    connection_id,
                    PeerInfo {
                        peer: peer_id,
                        addr: addr.clone(),
                        direction,
                    },
                );
                if let Some(dial) = self.pending.remove(&connection_id) {
                    let _ = dial.reply.send(Ok(peer_id));
                }
                self.bitswap_peers.connected(peer_id);
                self.emit(Event::Connected {
                    peer: peer_id,
                    addr,
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                self.connections.remove(&connection_id);
                if num_established == 0 {
                    self.bitswap_peers.disconnected(peer_id);
                    self.emit(Event::Disconnected { peer: peer_id });
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                if let Some(dial) = self.pending.remove(&connection_id) {
                    let _ = dial
                        .reply
                        .send(Err(dial_error(error, dial.addr, dial.expected)));
                }
            }
            #[cfg(mdns)]
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(event)) => {
                if let mdns::Event::Discovered(found) = event.into_inner() {
                    for (peer, addr) in found {
                        self.emit(Event::Discovered {
                            peer,
                            addr: addr.clone(),
                        });
                        self.dial_discovered(peer, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let protocols: Vec<String> = info.protocols.iter().map(|p| p.to_string()).collect();
                self.bitswap_peers.identified(peer_id, &protocols);
                self.emit(Event::Identified {
                    peer: peer_id,
                    agent_version: info.agent_version,
                    protocols,
                    listen_addrs: info.listen_addrs,
                });
            }
            _ => {}
        }
    }

    /// Whether some connection to `peer` does not go through a relay.
    fn connected_directly(&self, peer: PeerId) -> bool {
        self.connections
            .values()
            .any(|c| c.peer == peer && !is_relayed(&c.addr))
    }

    /// A relay tells the peers that reserve with it where it can be reached: its listen
    /// addresses, those the advertise rules allow (libp2p's relay serves only once it has one).
    fn advertise_as_relay(&mut self, address: &Multiaddr) {
        let local = *self.swarm.local_peer_id();
        if self.relay.is_some()
            && !is_relayed(address)
            && self
                .policy
                .check(Scope::Advertise, address, Some(local))
                .is_ok()
        {
            self.swarm.add_external_address(address.clone());
        }
    }

    #[cfg(mdns)]
    /// Dials a peer mDNS found, unless connected already or the address is refused; from a
    /// fresh port, as [`Runner::dial`] explains.
    fn dial_discovered(&mut self, peer: PeerId, addr: Multiaddr) {
        if self.swarm.is_connected(&peer)
            || self.policy.check(Scope::Dial, &addr, Some(peer)).is_err()
            || dialer(&self.transports, &addr).is_err()
        {
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![addr])
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .allocate_new_port()
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "not dialing discovered peer");
        }
    }
}

fn dial_error(error: SwarmDialError, addr: Multiaddr, expected: Option<PeerId>) -> DialError {
    let unreachable = |source: Cause| DialError::Unreachable {
        addr: addr.clone(),
        source,
    };
    match error {
        SwarmDialError::WrongPeerId { obtained, .. } if expected.is_some() => {
            DialError::WrongPeerId {
                addr,
                expected: expected.expect("checked by the guard"),
                obtained,
            }
        }
        SwarmDialError::LocalPeerId { .. } => DialError::SelfDial(addr),
        SwarmDialError::NoAddresses if expected.is_some() => {
            DialError::NoAddress(expected.expect("checked by the guard"))
        }
        SwarmDialError::Denied { cause } => match cause.downcast::<Denied>() {
            Ok(denied) => DialError::Denied(denied),
            Err(cause) => match cause.downcast::<crate::resources::Exceeded>() {
                Ok(exceeded) => DialError::Limit { addr, exceeded },
                Err(cause) => unreachable(Arc::new(cause)),
            },
        },
        // One address is dialed at a time: its transport's error is the cause.
        SwarmDialError::Transport(mut errors) if errors.len() == 1 => {
            match errors.pop().expect("one error").1 {
                TransportError::Other(e) => unreachable(Arc::new(e)),
                TransportError::MultiaddrNotSupported(addr) => {
                    DialError::Unsupported(Unsupported::Address(addr))
                }
            }
        }
        other => unreachable(Arc::new(other)),
    }
}
