//! The repo's `config.toml`: what a daemon listens on, discovers, filters and limits.

use std::path::PathBuf;
use std::time::Duration;

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};
use switchboard_filters::{Filter, Policy};

/// The contents of `config.toml`. Every section and key is optional; missing ones take the
/// defaults documented on each field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Where the node listens and serves its RPC API.
    pub addresses: Addresses,
    /// Local peer discovery.
    pub discovery: Discovery,
    /// The websocket transport.
    pub websocket: Websocket,
    /// Allow/deny rules for dials, inbound connections and advertised addresses.
    pub filters: Policy,
    /// Connection limits and timeouts.
    pub limits: Limits,
    /// The perf protocol.
    pub perf: Perf,
    /// Serving as a circuit relay, and its limits.
    pub relay: Relay,
}

/// `[relay]`: serving as a circuit relay v2 for peers that cannot be dialed (browsers, nodes
/// behind NATs), and how much of the relay one peer or address may take. A client's limits
/// for its circuits (duration and bytes) are announced to it in its reservation; and, as a
/// client, whether to hole-punch. Defaults are libp2p's and Kubo's (`Swarm.RelayService`,
/// `Swarm.EnableHolePunching`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Relay {
    /// Serve as a relay. Default `false`; on with `init --profile relay` or
    /// `daemon --profile relay`.
    pub serve: bool,
    /// Reservations held at once. Default 128.
    pub max_reservations: u32,
    /// Reservations one peer may hold at once. Default 4.
    pub max_reservations_per_peer: u32,
    /// Reservations peers at one IP address (an IPv6 /64) may hold at once; loopback is not
    /// limited. Default 8, as Kubo's `MaxReservationsPerIP`.
    pub max_reservations_per_ip: u32,
    /// Seconds a reservation lasts; clients renew it before then. Default 3600.
    pub reservation_secs: u64,
    /// Circuits open at once. Default 16.
    pub max_circuits: u32,
    /// Circuits one peer may have open at once. Default 4.
    pub max_circuits_per_peer: u32,
    /// Circuits peers at one IP address may have open at once. Default 8.
    pub max_circuits_per_ip: u32,
    /// Seconds one circuit may stay open. Default 120.
    pub max_circuit_secs: u64,
    /// Bytes one circuit may carry each way before it is closed. Default 131072 (128 KiB):
    /// enough to reach a peer and set up a direct connection, not for bulk data.
    pub max_circuit_bytes: u64,
    /// As a client: over a relayed connection, set up a direct one by hole punching (DCUtR),
    /// as Kubo's `Swarm.EnableHolePunching`. Default `true`.
    pub hole_punching: bool,
}

impl Default for Relay {
    fn default() -> Self {
        Self {
            serve: false,
            max_reservations: 128,
            max_reservations_per_peer: 4,
            max_reservations_per_ip: 8,
            reservation_secs: 3600,
            max_circuits: 16,
            max_circuits_per_peer: 4,
            max_circuits_per_ip: 8,
            max_circuit_secs: 120,
            max_circuit_bytes: 128 * 1024,
            hole_punching: true,
        }
    }
}

/// `[perf]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Perf {
    /// Serve `/perf/1.0.0` to peers, so they can measure raw stream throughput to this node.
    /// Default `false`, as Kubo: a perf stream moves as many bytes as the peer asks for.
    pub serve: bool,
}

/// `[addresses]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Addresses {
    /// Swarm listen addresses. Default: TCP 4001, QUIC 4001, ws 4002 and wss 4003 on 0.0.0.0.
    pub swarm: Vec<Multiaddr>,
    /// The RPC API address. Default `/ip4/127.0.0.1/tcp/5001`, as Kubo.
    pub api: Multiaddr,
}

/// `[discovery]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Discovery {
    /// Local discovery with mDNS. Default `true`.
    pub mdns: bool,
}

/// `[websocket]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Websocket {
    /// The dial filter (`all`, `wss`, `dns-wss`, `dns-ws-or-wss`). Default `all`.
    pub filter: Filter,
    /// PEM certificate chain for `/wss`, relative to the repo. Default `tls/cert.pem`, generated
    /// self-signed (for localhost, 127.0.0.1 and ::1) when missing.
    pub certificate: PathBuf,
    /// PEM private key for the certificate. Default `tls/key.pem`.
    pub key: PathBuf,
    /// PEM certificates trusted when dialing `/wss`, besides the web's roots. Default none.
    pub trust: Vec<PathBuf>,
}

/// `[limits]`: what the node commits to peers, as Kubo's resource and connection managers
/// bound it. `switchboard swarm resources` shows each next to what is in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Seconds a dial may take before it fails. Default 10.
    pub dial_timeout_secs: u64,
    /// Seconds a new connection has for its security and muxer upgrades (WebRTC-direct: ICE,
    /// DTLS and noise), inbound or outbound. Default 20.
    pub upgrade_timeout_secs: u64,
    /// Established connections in all. Default 1024.
    pub max_connections: u32,
    /// Established connections to one peer. Default 8.
    pub max_connections_per_peer: u32,
    /// Connections from one IP address (an IPv6 /64), being set up or established; loopback
    /// is not limited. Default 16.
    pub max_connections_per_ip: u32,
    /// Connections being set up, each direction. Default 128.
    pub max_pending: u32,
    /// Past this many connections the connection manager trims. Default 96, as Kubo's
    /// `Swarm.ConnMgr.HighWater`.
    pub high_water: u32,
    /// What the connection manager trims down to. Default 32, as Kubo's `LowWater`.
    pub low_water: u32,
    /// Seconds a new connection is safe from trimming. Default 20, as Kubo's `GracePeriod`.
    pub grace_period_secs: u64,
    /// Seconds a peer that misbehaved (forged blocks, floods, malformed messages) is refused.
    /// Default 600.
    pub ban_secs: u64,
    /// Inbound Bitswap streams open at once, from all peers. boxo keeps one open per peer, so
    /// this should be no less than `max-connections`. Default 1024.
    pub max_bitswap_streams: u32,
    /// Inbound Bitswap streams one peer may have open at once (Helia opens one per message
    /// batch, boxo one in all). Default 32.
    pub max_bitswap_streams_per_peer: u32,
    /// Seconds an inbound Bitswap stream may go without a message that carries anything
    /// before it is dropped (empty messages do not count). Default 30.
    pub bitswap_stream_idle_secs: u64,
    /// Bytes of Bitswap messages being read from all peers at once: a message's buffer is
    /// taken from this budget before it is read, and a reader waits for room. Default 64 MiB.
    pub bitswap_read_budget: u64,
    /// Bytes of that budget one peer may hold. Default 16 MiB (four maximal messages).
    pub bitswap_read_budget_per_peer: u64,
    /// Messages waiting for a peer's Bitswap writer; a peer that lets more pile up (it stopped
    /// reading) is disconnected. Default 256.
    pub max_queued_messages_per_peer: u32,
    /// Seconds one Bitswap message may take to write before the stream is given up.
    /// Default 30.
    pub write_timeout_secs: u64,
}

impl Limits {
    /// The dial timeout.
    pub fn dial_timeout(&self) -> Duration {
        Duration::from_secs(self.dial_timeout_secs)
    }

    /// How long a new connection may take to upgrade.
    pub fn upgrade_timeout(&self) -> Duration {
        Duration::from_secs(self.upgrade_timeout_secs)
    }

    /// How long a new connection is safe from the connection manager.
    pub fn grace_period(&self) -> Duration {
        Duration::from_secs(self.grace_period_secs)
    }

    /// How long a misbehaving peer is refused.
    pub fn ban(&self) -> Duration {
        Duration::from_secs(self.ban_secs)
    }

    /// How long an inbound Bitswap stream may idle.
    pub fn bitswap_stream_idle(&self) -> Duration {
        Duration::from_secs(self.bitswap_stream_idle_secs)
    }

    /// How long one Bitswap message may take to write.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs)
    }
}

fn addr(s: &str) -> Multiaddr {
    s.parse()
        .expect("built-in default addresses are valid multiaddrs")
}

impl Default for Addresses {
    fn default() -> Self {
        Self {
            swarm: vec![
                addr("/ip4/0.0.0.0/tcp/4001"),
                addr("/ip4/0.0.0.0/udp/4001/quic-v1"),
                addr("/ip4/0.0.0.0/tcp/4002/ws"),
                addr("/ip4/0.0.0.0/tcp/4003/wss"),
                addr("/ip4/0.0.0.0/udp/4004/webrtc-direct"),
            ],
            api: addr("/ip4/127.0.0.1/tcp/5001"),
        }
    }
}

impl Default for Discovery {
    fn default() -> Self {
        Self { mdns: true }
    }
}

impl Default for Websocket {
    fn default() -> Self {
        Self {
            filter: Filter::all(),
            certificate: PathBuf::from("tls/cert.pem"),
            key: PathBuf::from("tls/key.pem"),
            trust: Vec::new(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            dial_timeout_secs: 10,
            upgrade_timeout_secs: 20,
            max_connections: 1024,
            max_connections_per_peer: 8,
            max_connections_per_ip: 16,
            max_pending: 128,
            high_water: 96,
            low_water: 32,
            grace_period_secs: 20,
            ban_secs: 600,
            max_bitswap_streams: 1024,
            max_bitswap_streams_per_peer: 32,
            bitswap_stream_idle_secs: 30,
            bitswap_read_budget: 64 * 1024 * 1024,
            bitswap_read_budget_per_peer: 16 * 1024 * 1024,
            max_queued_messages_per_peer: 256,
            write_timeout_secs: 30,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addresses: Addresses::default(),
            discovery: Discovery::default(),
            websocket: Websocket::default(),
            filters: Policy::new(),
            limits: Limits::default(),
            perf: Perf::default(),
            relay: Relay::default(),
        }
    }
}

/// Starting points for `switchboard init --profile`, as Kubo's init profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InitProfile {
    /// The defaults: listen on every interface on the standard ports, mDNS on.
    #[default]
    Server,
    /// For tests and CI, as Kubo's `test` profile: everything on 127.0.0.1 port 0, mDNS off.
    Test,
    /// A public relay: the server's addresses, serving as a circuit relay, mDNS off.
    Relay,
}

impl Config {
    /// The configuration `init` writes for `profile`.
    pub fn for_profile(profile: InitProfile) -> Self {
        match profile {
            InitProfile::Server => Self::default(),
            InitProfile::Test => Self {
                addresses: Addresses {
                    swarm: vec![
                        addr("/ip4/127.0.0.1/tcp/0"),
                        addr("/ip4/127.0.0.1/udp/0/quic-v1"),
                        addr("/ip4/127.0.0.1/tcp/0/ws"),
                        addr("/ip4/127.0.0.1/tcp/0/wss"),
                        addr("/ip4/127.0.0.1/udp/0/webrtc-direct"),
                    ],
                    api: addr("/ip4/127.0.0.1/tcp/0"),
                },
                discovery: Discovery { mdns: false },
                ..Self::default()
            },
            InitProfile::Relay => Self {
                discovery: Discovery { mdns: false },
                relay: Relay {
                    serve: true,
                    ..Relay::default()
                },
                ..Self::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_config_reads_back() {
        for profile in [InitProfile::Server, InitProfile::Test, InitProfile::Relay] {
            let config = Config::for_profile(profile);
            let text = toml::to_string_pretty(&config).expect("serialise");
            assert_eq!(toml::from_str::<Config>(&text).expect("parse"), config);
        }
    }

    /// The annotated example in README.md is a valid config.
    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n").expect("README has a toml block") + "```toml\n".len();
        let end = start + readme[start..].find("```").expect("the block ends");
        let config: Config = toml::from_str(&readme[start..end]).expect("README config parses");
        assert_eq!(config.filters.rules().len(), 2);
    }

    #[test]
    fn partial_config_takes_defaults() {
        let config: Config = toml::from_str("[discovery]\nmdns = false\n").expect("parse");
        assert!(!config.discovery.mdns);
        assert_eq!(config.addresses, Addresses::default());
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = toml::from_str::<Config>("[addresses]\nswarm = [\"/ip4/1.2.3.4/tcpx/1\"]\n")
            .unwrap_err();
        assert!(err.to_string().contains("swarm"), "{err}");
        let err = toml::from_str::<Config>("[discovery]\nmdsn = true\n").unwrap_err();
        assert!(err.to_string().contains("mdsn"), "{err}");
    }
}
