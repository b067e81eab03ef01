//! The node's composed `NetworkBehaviour`.

use std::sync::Arc;

use libp2p::identify;
use libp2p::identity::Keypair;
use libp2p::relay;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
#[cfg(mdns)]
use libp2p_mdns as mdns;
use switchboard_filters::Policy;
use switchboard_transport::Companions;

use crate::BuildError;
use crate::config::{Limits, Relay as RelayConfig};
use crate::gate::{Advertised, Gate};
use crate::resources::Resources;
use crate::rt::Rt;

/// The identify protocol version, as Kubo and js-libp2p announce it.
const IDENTIFY_PROTOCOL: &str = "/ipfs/id/1.0.0";

/// What the node tells peers it is.
pub(crate) const AGENT_VERSION: &str = concat!("switchboard/", env!("CARGO_PKG_VERSION"));

/// The protocols every node answers, as `id` reports them (perf only when served). Kept next
/// to the behaviours that answer them; the integration tests check what `id` claims against
/// what identify tells a peer.
pub(crate) const PROTOCOLS: &[&str] = &[
    "/ipfs/id/1.0.0",
    "/ipfs/id/push/1.0.0",
    "/ipfs/ping/1.0.0",
    "/perf/1.0.0",
    "/ipfs/bitswap/1.2.0",
    "/ipfs/bitswap/1.1.0",
    "/ipfs/bitswap/1.0.0",
    "/ipfs/bitswap",
];

/// mDNS on the node's reactor: tokio's, or async-io's (smol, async-std).
#[cfg(mdns)]
type Mdns = Advertised<either::Either<MdnsOnTokio, MdnsOnAsyncIo>>;
#[cfg(all(mdns, feature = "tokio"))]
type MdnsOnTokio = mdns::tokio::Behaviour;
#[cfg(all(mdns, feature = "async-io"))]
type MdnsOnAsyncIo = mdns::async_io::Behaviour;
// With one provider built, the other side of the `Either` is never made.
#[cfg(all(mdns, not(feature = "tokio")))]
type MdnsOnTokio = MdnsOnAsyncIo;
#[cfg(all(mdns, not(feature = "async-io")))]
type MdnsOnAsyncIo = MdnsOnTokio;
/// mDNS needs UDP multicast, which a web page does not have, and a native build without a
/// socket provider cannot run it: never enabled there.
#[cfg(not(mdns))]
type Mdns = libp2p::swarm::dummy::Behaviour;

/// A relay client's end of circuits.
pub(crate) const RELAY_STOP: &str = "/libp2p/circuit/relay/0.2.0/stop";
/// A relay's end of reservations and circuits.
pub(crate) const RELAY_HOP: &str = "/libp2p/circuit/relay/0.2.0/hop";
/// Hole punching over relayed connections, natively; a page cannot be dialed.
#[cfg(not(wasm_browser))]
type Dcutr = libp2p::dcutr::Behaviour;
#[cfg(wasm_browser)]
type Dcutr = libp2p::swarm::dummy::Behaviour;

/// The builder's settings the behaviour is made from.
pub(crate) struct Settings<'a> {
    pub(crate) limits: &'a Limits,
    pub(crate) mdns: bool,
    pub(crate) relay: &'a RelayConfig,
    pub(crate) hole_punching: bool,
}

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    gate: Gate,
    pub(crate) resources: Resources,
    pub(crate) identify: Advertised<identify::Behaviour>,
    pub(crate) mdns: Toggle<Mdns>,
    pub(crate) stream: libp2p_stream::Behaviour,
    /// What the transports brought: circuit relay's client.
    pub(crate) companions: Companions,
    /// Serving as a circuit relay.
    pub(crate) relay: Toggle<relay::Behaviour>,
    /// Upgrading relayed connections to direct ones.
    pub(crate) dcutr: Toggle<Dcutr>,
}

impl Behaviour {
    /// The behaviour, and the relay server's ledger when it serves as a relay.
    pub(crate) fn new(
        rt: &Rt,
        keypair: &Keypair,
        policy: Arc<Policy>,
        stream: libp2p_stream::Behaviour,
        companions: Companions,
        settings: Settings<'_>,
    ) -> Result<(Self, Option<crate::relay::Ledger>), BuildError> {
        let Settings {
            limits,
            mdns,
            relay,
            hole_punching,
        } = settings;
        let peer = keypair.public().to_peer_id();
        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), keypair.public())
                .with_agent_version(AGENT_VERSION.to_owned())
                .with_push_listen_addr_updates(true),
        );
        let mdns = if mdns {
            Some(Self::mdns(rt, peer, policy.clone())?)
        } else {
            None
        };
        let (relay, ledger) = match relay.serve {
            true => {
                let (server, ledger) = crate::relay::server(peer, relay);
                (Some(server), Some(ledger))
            }
            false => (None, None),
        };
        // Hole punching upgrades relayed connections, which only the relay client makes.
        #[cfg(not(wasm_browser))]
        let dcutr = (hole_punching && companions.has_relay_client())
            .then(|| libp2p::dcutr::Behaviour::new(peer));
        #[cfg(wasm_browser)]
        let dcutr: Option<Dcutr> = {
            let _ = hole_punching;
            None
        };
        let behaviour = Self {
            gate: Gate::new(policy.clone()),
            resources: Resources::new(rt.clone(), limits.clone()),
            identify: Advertised::new(identify, policy, peer),
            mdns: mdns.into(),
            stream,
            companions,
            relay: relay.into(),
            dcutr: dcutr.into(),
        };
        Ok((behaviour, ledger))
    }

    /// The protocols this node answers on a direct connection, as `id` reports them and
    /// identify tells peers (hole punching's `/libp2p/dcutr` is answered on relayed
    /// connections only).
    pub(crate) fn protocols(&self, serve_perf: bool) -> Vec<String> {
        let mut protocols: Vec<String> = PROTOCOLS
            .iter()
            .filter(|p| serve_perf || **p != crate::perf::PROTOCOL.as_ref())
            .map(|p| p.to_string())
            .collect();
        if self.companions.has_relay_client() {
            protocols.push(RELAY_STOP.into());
        }
        if self.relay.is_enabled() {
            protocols.push(RELAY_HOP.into());
        }
        protocols
    }

    #[cfg(mdns)]
    fn mdns(rt: &Rt, peer: libp2p::PeerId, policy: Arc<Policy>) -> Result<Mdns, BuildError> {
        let config = mdns::Config {
            query_interval: std::time::Duration::from_secs(5),
            ..Default::default()
        };
        use switchboard_runtime::Reactor;
        let behaviour = match rt.reactor() {
            #[cfg(feature = "tokio")]
            Reactor::Tokio => either::Either::Left(MdnsOnTokio::new(config, peer)),
            #[cfg(feature = "async-io")]
            Reactor::AsyncIo => either::Either::Right(MdnsOnAsyncIo::new(config, peer)),
            _ => return Err(BuildError::MdnsUnsupported { runtime: rt.name() }),
        };
        let behaviour = behaviour.factor_err().map_err(BuildError::Mdns)?;
        Ok(Advertised::new(behaviour, policy, peer))
    }

    #[cfg(not(mdns))]
    fn mdns(rt: &Rt, _: libp2p::PeerId, _: Arc<Policy>) -> Result<Mdns, BuildError> {
        Err(BuildError::MdnsUnsupported { runtime: rt.name() })
    }
}
