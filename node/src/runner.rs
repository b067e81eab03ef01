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
use libp2p::core::transport::TransportError;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError as SwarmDialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify};
#[cfg(mdns)]
use libp2p_mdns as mdns;
use switchboard_filters::{Denied, Policy, Scope};
use switchboard_transport::{Transport, Unsupported, dialer};

use crate::behaviour::{Behaviour, BehaviourEvent};
use crate::error::Cause;
use crate::node::{Command, Direction, Event, PeerInfo, Reply};
use crate::rt::{Elapsed, Instant, Rt};
use crate::{BuildError, DialError, Node};

/// How long listeners get to report an address at start-up.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Commands queued from handles before senders wait.
const COMMAND_QUEUE: usize = 64;
/// Events kept for slow subscribers.
const EVENT_QUEUE: usize = 256;

/// What a runner is started with, besides its swarm.
pub(crate) struct Parts {
    pub(crate) rt: Rt,
    pub(crate) blockstore: Arc<dyn switchboard_exchange::Blockstore>,
    pub(crate) keypair: Keypair,
    pub(crate) transports: Vec<Arc<dyn Transport>>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) limits: crate::config::Limits,
    pub(crate) serve_perf: bool,
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
            listen,
        } = parts;
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
        };
        services.push(bitswap.slots().clone());
        runner.listen(listen).await?;
        rt.spawn(runner.run());
        Ok(Node::new(
            keypair.public(),
            command_tx,
            subscriptions,
            control,
            bitswap,
            services,
            serve_perf,
        ))
    }

    async fn listen(&mut self, addrs: Vec<Multiaddr>) -> Result<(), BuildError> {
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
        Ok(())
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
                let mut peers: Vec<PeerInfo> = Vec::new();
                for info in self.connections.values() {
                    if !peers.iter().any(|p| p.peer == info.peer) {
                        peers.push(info.clone());
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
            Some(peer) if self.swarm.is_connected(&peer) => {
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
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.listen_addrs.push(address.clone());
                self.emit(Event::ListenAddr(address));
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| *a != address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let (mut addr, direction) = match endpoint {
                    ConnectedPoint::Dialer { address, .. } => (address, Direction::Outbound),
                    ConnectedPoint::Listener { send_back_addr, .. } => {
                        (send_back_addr, Direction::Inbound)
                    }
                };
                // A dialed address may end in the peer's id (WebRTC-direct's do); the peer is
                // reported beside it, as Kubo's `swarm peers` does.
                if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
                    addr.pop();
                }
                tracing::info!(peer = %peer_id, %addr, "connected");
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
