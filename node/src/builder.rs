//! [`Builder`]: a node's settings, validated together, then the swarm.

use std::sync::Arc;
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, Swarm};
use switchboard_exchange::{Blockstore, MemoryBlockstore};
use switchboard_filters::Policy;
#[cfg(not(wasm_browser))]
use switchboard_transport::WebSocket;
use switchboard_transport::{Context, Environment, Kind, Security, Stack, Transport};

use crate::behaviour::{Behaviour, Settings};
use crate::config::{Limits, Relay as RelayConfig};
#[cfg(not(wasm_browser))]
use crate::repo::Repo;
use crate::rt::Rt;
use crate::runner::{Parts, Runner};
use crate::{BuildError, Node, Profile};
use switchboard_runtime::Runtime;

/// Builds a [`Node`]: start from a [`Profile`] with [`Node::builder`], override with `with_*`,
/// then [`Builder::build`].
#[derive(Debug)]
pub struct Builder {
    profile: &'static str,
    environment: Environment,
    keypair: Option<Keypair>,
    transports: Vec<Arc<dyn Transport>>,
    listen: Vec<Multiaddr>,
    policy: Policy,
    mdns: bool,
    security: Security,
    limits: Limits,
    idle_timeout: Duration,
    blockstore: Option<Arc<dyn Blockstore>>,
    serve_perf: bool,
    relay: RelayConfig,
    /// [`Builder::with_hole_punching`], over `relay.hole_punching`.
    hole_punching: Option<bool>,
    runtime: Option<Rt>,
}

impl Builder {
    /// A builder with nothing but the profile applied.
    ///
    /// Defaults before the profile: a fresh ed25519 identity, blocks in memory, no transports,
    /// no listen addresses,
    /// a policy that allows everything, mDNS off, [`Security::NoiseThenTls`], the default
    /// [`Limits`], connections kept open for an hour without streams, perf not served, not a
    /// relay, hole punching on (where a relay client transport makes relayed connections),
    /// and the runtime found where [`Builder::build`] is called (see
    /// [`Builder::with_runtime`]).
    pub(crate) fn new(profile: &dyn Profile) -> Self {
        let builder = Self {
            profile: profile.name(),
            environment: profile.environment(),
            keypair: None,
            transports: Vec::new(),
            listen: Vec::new(),
            policy: Policy::new(),
            mdns: false,
            security: Security::NoiseThenTls,
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(3600),
            blockstore: None,
            serve_perf: false,
            relay: RelayConfig::default(),
            hole_punching: None,
            runtime: None,
        };
        profile.apply(builder)
    }

    /// Sets the node's identity.
    pub fn with_keypair(mut self, keypair: Keypair) -> Self {
        self.keypair = Some(keypair);
        self
    }

    /// Replaces every transport.
    pub fn with_transports(
        mut self,
        transports: impl IntoIterator<Item = Arc<dyn Transport>>,
    ) -> Self {
        self.transports = transports.into_iter().collect();
        self
    }

    /// Adds a transport, replacing one of the same kind.
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        match self
            .transports
            .iter_mut()
            .find(|t| t.kind() == transport.kind())
        {
            Some(existing) => *existing = transport,
            None => self.transports.push(transport),
        }
        self
    }

    /// Removes the transport of `kind`, and the listen addresses that no transport left can
    /// listen on (e.g. WebRTC-direct from the daemon profile, on a runtime it does not run
    /// on).
    pub fn without_transport(mut self, kind: Kind) -> Self {
        let before = std::mem::take(&mut self.transports);
        let (removed, kept): (Vec<_>, Vec<_>) = before.into_iter().partition(|t| t.kind() == kind);
        self.transports = kept;
        self.listen.retain(|addr| {
            !removed.iter().any(|t| t.can_listen(addr))
                || self.transports.iter().any(|t| t.can_listen(addr))
        });
        self
    }

    /// Adds a listen address.
    pub fn with_listen_addr(mut self, addr: Multiaddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Replaces the listen addresses.
    pub fn with_listen_addrs(mut self, addrs: impl IntoIterator<Item = Multiaddr>) -> Self {
        self.listen = addrs.into_iter().collect();
        self
    }

    /// Sets the filter policy for dials, inbound connections and advertised addresses.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Turns local discovery with mDNS on or off.
    pub fn with_mdns(mut self, enabled: bool) -> Self {
        self.mdns = enabled;
        self
    }

    /// Sets the security protocols of stream transports.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }

    /// Sets connection limits and the dial timeout.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves the libp2p perf protocol (`/perf/1.0.0`) to peers, or not (the default, as
    /// Kubo): a perf stream moves as many bytes as the peer asks for.
    pub fn with_perf_server(mut self, serve: bool) -> Self {
        self.serve_perf = serve;
        self
    }

    /// Serves as a circuit relay v2 for other peers when `relay.serve` is set, within its
    /// limits (see [`config::Relay`](crate::config::Relay)). The relay advertises its listen
    /// addresses to the peers that reserve with it.
    pub fn with_relay(mut self, relay: RelayConfig) -> Self {
        self.relay = relay;
        self
    }

    /// Upgrades relayed connections to direct ones by hole punching (DCUtR, as Kubo's
    /// `Swarm.EnableHolePunching`), or not, whatever [`config::Relay::hole_punching`] says
    /// (default: what it says, `true` unless configured). Needs the relay client transport;
    /// natively only.
    ///
    /// [`config::Relay::hole_punching`]: crate::config::Relay::hole_punching
    pub fn with_hole_punching(mut self, enabled: bool) -> Self {
        self.hole_punching = Some(enabled);
        self
    }

    /// Sets the async runtime the node runs on: its tasks, timers, blocking store calls and
    /// the reactor its transports' sockets use. Without one, [`Builder::build`] takes the
    /// tokio runtime it is called in (the page's event loop in a web page).
    pub fn with_runtime(mut self, runtime: impl Runtime) -> Self {
        self.runtime = Some(Rt::new(runtime));
        self
    }

    /// Sets where blocks are kept.
    pub fn with_blockstore(mut self, blockstore: Arc<dyn Blockstore>) -> Self {
        self.blockstore = Some(blockstore);
        self
    }

    #[cfg(not(wasm_browser))]
    /// Takes identity, listen addresses, discovery, filters, limits, the websocket
    /// certificate and trust, and the WebRTC-direct certificate from a repo.
    pub fn with_repo(self, repo: &Repo) -> Result<Self, BuildError> {
        let config = repo.config();
        let mut websocket = WebSocket::new()
            .with_filter(config.websocket.filter)
            .with_certificate(repo.certificate()?);
        for pem in repo.trusted_certificates()? {
            websocket = websocket
                .with_trusted(&pem)
                .map_err(switchboard_transport::BuildError::from)?;
        }
        let builder = self
            .with_keypair(repo.keypair().clone())
            .with_listen_addrs(config.addresses.swarm.clone())
            .with_mdns(config.discovery.mdns)
            .with_policy(config.filters.clone())
            .with_limits(config.limits.clone())
            .with_perf_server(config.perf.serve)
            .with_relay(config.relay.clone())
            .with_blockstore(repo.blockstore()?)
            .with_transport(Arc::new(websocket));
        // The certificate is the repo's, so the `/certhash` addresses outlive a restart.
        #[cfg(feature = "tokio")]
        let builder = builder.with_transport(Arc::new(
            switchboard_transport::WebRtcDirect::new().with_certificate(repo.webrtc_certificate()?),
        ));
        Ok(builder)
    }

    /// Checks the settings against each other, builds the swarm, starts every listener and
    /// returns once each listener has an address (or fails with the first that cannot start).
    ///
    /// The work runs on the node's runtime, whose reactor the sockets need, so `build` may be
    /// awaited from anywhere: another executor, or `futures::executor::block_on`.
    pub async fn build(mut self) -> Result<Node, BuildError> {
        let rt = self
            .runtime
            .take()
            .or_else(Rt::default_here)
            .ok_or(BuildError::NoRuntime)?;
        let (tx, rx) = futures::channel::oneshot::channel();
        let on = rt.clone();
        rt.spawn(async move {
            let _ = tx.send(self.build_on(on).await);
        });
        rx.await.map_err(|_| BuildError::RuntimeStopped)?
    }

    async fn build_on(self, rt: Rt) -> Result<Node, BuildError> {
        for transport in &self.transports {
            if !transport.environments().contains(&self.environment) {
                return Err(BuildError::UnsupportedTransport {
                    kind: transport.kind(),
                    profile: self.profile,
                    environment: self.environment,
                });
            }
        }
        let keypair = self.keypair.unwrap_or_else(Keypair::generate_ed25519);
        // Made first: transports that speak over the node's connections (`/webrtc`'s
        // signalling) get its control.
        let streams = libp2p_stream::Behaviour::new();
        let ctx = Context::new(keypair.clone(), rt.clone())
            .with_security(self.security)
            .with_upgrade_timeout(self.limits.upgrade_timeout())
            .with_streams(streams.new_control());
        if let Some(retired) = self
            .listen
            .iter()
            .find_map(|a| switchboard_transport::retired(a).err())
        {
            return Err(BuildError::Retired(retired));
        }
        let (stack, companions) = Stack::build(&self.transports, &ctx)?;
        if let Some(addr) = self.listen.iter().find(|a| !stack.can_listen(a)) {
            return Err(BuildError::UnsupportedListenAddr {
                addr: addr.clone(),
                profile: self.profile,
            });
        }
        let policy = Arc::new(self.policy);
        let stack = stack.with_dial_policy(policy.clone());
        let (behaviour, relay) = Behaviour::new(
            &rt,
            &keypair,
            policy.clone(),
            streams,
            companions,
            Settings {
                limits: &self.limits,
                mdns: self.mdns,
                relay: &self.relay,
                hole_punching: self.hole_punching.unwrap_or(self.relay.hole_punching),
            },
        )?;
        let swarm = Swarm::new(
            stack.boxed(),
            behaviour,
            keypair.public().to_peer_id(),
            swarm_config(&rt).with_idle_connection_timeout(self.idle_timeout),
        );
        let blockstore = self
            .blockstore
            .unwrap_or_else(|| Arc::new(MemoryBlockstore::new()));
        Runner::start(
            swarm,
            Parts {
                rt,
                blockstore,
                keypair,
                transports: self.transports,
                policy,
                limits: self.limits,
                serve_perf: self.serve_perf,
                relay,
                listen: self.listen,
            },
        )
        .await
    }
}

/// The swarm runs its connection tasks on the node's runtime.
fn swarm_config(rt: &Rt) -> libp2p::swarm::Config {
    let rt = rt.clone();
    libp2p::swarm::Config::with_executor(move |task| rt.spawn(task))
}
