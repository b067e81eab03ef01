//! The node's composed `NetworkBehaviour`.

use std::sync::Arc;

use libp2p::identify;
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
#[cfg(mdns)]
use libp2p_mdns as mdns;
use switchboard_filters::Policy;

use crate::BuildError;
use crate::config::Limits;
use crate::gate::{Advertised, Gate};
use crate::resources::Resources;
use crate::rt::Rt;

/// The identify protocol version, as Kubo and js-libp2p announce it.
const IDENTIFY_PROTOCOL: &str = "/ipfs/id/1.0.0";

/// What the node tells peers it is.
pub(crate) const AGENT_VERSION: &str = concat!("switchboard/", env!("CARGO_PKG_VERSION"));

/// The protocols the node answers, as `id` reports them. Kept next to the behaviours that
/// answer them; the integration tests check it against what identify tells a peer.
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

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    gate: Gate,
    pub(crate) resources: Resources,
    pub(crate) identify: Advertised<identify::Behaviour>,
    pub(crate) mdns: Toggle<Mdns>,
    pub(crate) stream: libp2p_stream::Behaviour,
}

impl Behaviour {
    pub(crate) fn new(
        rt: &Rt,
        keypair: &Keypair,
        policy: Arc<Policy>,
        limits: &Limits,
        mdns: bool,
    ) -> Result<Self, BuildError> {
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
        Ok(Self {
            gate: Gate::new(policy.clone()),
            resources: Resources::new(rt.clone(), limits.clone()),
            identify: Advertised::new(identify, policy, peer),
            mdns: mdns.into(),
            stream: libp2p_stream::Behaviour::new(),
        })
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
