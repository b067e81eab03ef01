//! `cargo xtask matrix`: every (dialer, listener, transport) row as real processes on loopback.
//!
//! A row is a dialer [`Peer`], a listener [`Peer`] and a [`Transport`]; the rows are every
//! combination both peers support. The peers: the Switchboard daemon, the Switchboard node in
//! Chromium (switchboard-js), Helia in Node, Helia in Chromium, and Kubo with each type of
//! identity key. Rows between a daemon and Kubo also move a block each way over the connection.
//! The `p2p-circuit` rows go through a relay daemon (a third process): the listener reserves on
//! it, the dialer dials the listener's relayed address; the `dcutr` row puts two daemons behind
//! NAT routers in network namespaces and times their relayed connection's upgrade to a direct
//! one by hole punching.
//! Adding a peer implementation means a [`Peer`] variant and its arms in `run_row`; adding a
//! transport means a [`Transport`] variant.
//!
//! Everything a row needs is installed and built before the namespace is entered
//! ([`prepare`]): inside it no registry is reachable.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::daemon::{self, DEADLINE, Daemon};
use crate::exec;
use crate::helia::HeliaNode;
use crate::kubo::{KeyType, KuboNode, Listener};
use crate::netns::{self, Namespace};

mod pages;
mod report;
use pages::{Chromium, Page};
use report::{shown, summarize};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only the rows whose name contains PATTERN (`*` matches anything), e.g. `wss` or
    /// `daemon*quic`; given more than once, the rows any of them selects.
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Runs every row this many times, then shows each row's median and range.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Runs optimised daemons (`--release`), as benchmarks do.
    #[arg(long)]
    release: bool,
    /// Also write the rows as JSON here (every run of each).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

/// A transport a row connects over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Quic,
    Ws,
    Wss,
    WebRtcDirect,
    /// Through a relay daemon's circuit (reached over TCP, or ws from a page).
    Relay,
    /// Through a relay, then direct by hole punching, between daemons behind NATs.
    HolePunch,
    /// `/webrtc`: signalled through a relay's circuit, then a direct WebRTC connection.
    WebRtc,
}

impl Transport {
    const ALL: [Transport; 8] = [
        Transport::Tcp,
        Transport::Quic,
        Transport::Ws,
        Transport::Wss,
        Transport::WebRtcDirect,
        Transport::Relay,
        Transport::HolePunch,
        Transport::WebRtc,
    ];

    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Quic => "quic-v1",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
            Transport::WebRtcDirect => "webrtc-direct",
            Transport::Relay => "p2p-circuit",
            Transport::HolePunch => "dcutr",
            Transport::WebRtc => "webrtc",
        }
    }

    /// A listen address on a free port: loopback, but for WebRTC-direct the namespace's
    /// veth address (Chromium's ICE checks come from its host candidate, which loopback
    /// is not).
    fn listen_addr(self) -> String {
        match self {
            Transport::Tcp => "/ip4/127.0.0.1/tcp/0".into(),
            Transport::Quic => "/ip4/127.0.0.1/udp/0/quic-v1".into(),
            Transport::Ws => "/ip4/127.0.0.1/tcp/0/ws".into(),
            Transport::Wss => "/ip4/127.0.0.1/tcp/0/wss".into(),
            Transport::WebRtcDirect => format!("/ip4/{}/udp/0/webrtc-direct", netns::HOST),
            // Besides the reservation: a listener behind a relay listens somewhere too.
            Transport::Relay | Transport::HolePunch | Transport::WebRtc => {
                "/ip4/127.0.0.1/tcp/0".into()
            }
        }
    }
}

/// An implementation in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// `switchboard daemon`, a native process.
    SwitchboardDaemon,
    /// A page in headless Chromium using switchboard-js (`examples/browser/dial.html`).
    Browser,
    /// Helia (js-libp2p 3) in Node: `interop/helia/peer.mjs`, TCP and ws on 127.0.0.1.
    HeliaNode,
    /// Helia in a headless Chromium page (`interop/browser/`).
    HeliaBrowser,
    /// Kubo v0.22 (`interop/kubo/peer.py`) with an identity key of this type, on 127.0.0.1.
    Kubo(KeyType),
    /// The `block_exchange` example on a runtime other than the daemon's tokio, fetching a
    /// block from the listener (`--from ADDR --cid CID`).
    Example(Runtime),
}

/// A runtime an example peer runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Smol,
    AsyncStd,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Smol => "smol",
            Runtime::AsyncStd => "async-std",
        }
    }
}

impl Peer {
    const ALL: [Peer; 10] = [
        Peer::SwitchboardDaemon,
        Peer::Browser,
        Peer::HeliaNode,
        Peer::HeliaBrowser,
        Peer::Kubo(KeyType::Rsa),
        Peer::Kubo(KeyType::Ed25519),
        Peer::Kubo(KeyType::Secp256k1),
        Peer::Kubo(KeyType::Ecdsa),
        Peer::Example(Runtime::Smol),
        Peer::Example(Runtime::AsyncStd),
    ];

    fn name(self) -> &'static str {
        match self {
            Peer::SwitchboardDaemon => "switchboard-daemon",
            Peer::Browser => "browser",
            Peer::HeliaNode => "helia-node",
            Peer::HeliaBrowser => "helia-browser",
            Peer::Kubo(KeyType::Rsa) => "kubo",
            Peer::Kubo(KeyType::Ed25519) => "kubo-ed25519",
            Peer::Kubo(KeyType::Secp256k1) => "kubo-secp256k1",
            Peer::Kubo(KeyType::Ecdsa) => "kubo-ecdsa",
            Peer::Example(Runtime::Smol) => "example(smol)",
            Peer::Example(Runtime::AsyncStd) => "example(async-std)",
        }
    }

    fn can_listen(self, transport: Transport) -> bool {
        match self {
            Peer::SwitchboardDaemon => true,
            Peer::HeliaNode => {
                matches!(transport, Transport::Tcp | Transport::Ws | Transport::Relay)
            }
            Peer::Kubo(_) => kubo_listener(transport).is_some(),
            // A page listens through a relay: on `/webrtc`.
            Peer::Browser | Peer::HeliaBrowser => transport == Transport::WebRtc,
            Peer::Example(_) => false,
        }
    }

    fn can_dial(self, transport: Transport) -> bool {
        match self {
            Peer::SwitchboardDaemon => true,
            // Helia in Node has no WebRTC here (node-datachannel downloads a native binary)
            // and would not trust the daemon's self-signed wss certificate.
            Peer::HeliaNode => {
                matches!(transport, Transport::Tcp | Transport::Ws | Transport::Relay)
            }
            // Kubo would not trust the daemon's self-signed wss certificate either.
            Peer::Kubo(_) => kubo_listener(transport).is_some(),
            // TCP, QUIC and ws run on async-io; WebRTC-direct needs tokio for now.
            Peer::Example(_) => {
                matches!(transport, Transport::Tcp | Transport::Quic | Transport::Ws)
            }
            Peer::Browser => matches!(
                transport,
                Transport::Ws
                    | Transport::Wss
                    | Transport::WebRtcDirect
                    | Transport::Relay
                    | Transport::WebRtc
            ),
            Peer::HeliaBrowser => matches!(
                transport,
                Transport::Ws
                    | Transport::Wss
                    | Transport::WebRtcDirect
                    | Transport::Relay
                    | Transport::WebRtc
            ),
        }
    }

    fn is_switchboard(self) -> bool {
        matches!(self, Peer::SwitchboardDaemon | Peer::Browser)
    }

    /// Whether a row from `self` to `listener` over `transport` is in the matrix. Kubo is paired
    /// with Switchboard only; its identities other than RSA are tried over TCP (noise) and QUIC
    /// (TLS), where the key type matters, and RSA over every transport.
    fn pairs_with(self, listener: Peer, transport: Transport) -> bool {
        let kubo_row = |kubo: KeyType, other: Peer| {
            other.is_switchboard()
                && (kubo == KeyType::Rsa || matches!(transport, Transport::Tcp | Transport::Quic))
        };
        match (self, listener) {
            // Hole punching is between daemons behind NATs.
            _ if transport == Transport::HolePunch => {
                (self, listener) == (Peer::SwitchboardDaemon, Peer::SwitchboardDaemon)
            }
            // `/webrtc`: Switchboard in pages and daemons each way, and Helia in Chromium with
            // Switchboard, both ways, through Switchboard's relay.
            _ if transport == Transport::WebRtc => {
                let switchboard = |p: Peer| matches!(p, Peer::Browser | Peer::SwitchboardDaemon);
                (switchboard(self) && switchboard(listener))
                    || (self == Peer::HeliaBrowser && switchboard(listener))
                    || (switchboard(self) && listener == Peer::HeliaBrowser)
                    || (self == Peer::HeliaBrowser && listener == Peer::HeliaBrowser)
            }
            // Through a relay: the Switchboard relay serves Switchboard and Helia on each side.
            _ if transport == Transport::Relay => {
                !matches!(self, Peer::Kubo(_) | Peer::Example(_))
                    && !matches!(listener, Peer::Kubo(_))
            }
            (Peer::Kubo(key), other) | (other, Peer::Kubo(key)) => kubo_row(key, other),
            (Peer::Example(_), other) => other == Peer::SwitchboardDaemon,
            _ => true,
        }
    }
}

/// The Kubo listener a matrix transport is.
fn kubo_listener(transport: Transport) -> Option<Listener> {
    match transport {
        Transport::Tcp => Some(Listener::Tcp),
        Transport::Quic => Some(Listener::Quic),
        Transport::Ws => Some(Listener::Ws),
        Transport::Wss
        | Transport::WebRtcDirect
        | Transport::Relay
        | Transport::HolePunch
        | Transport::WebRtc => None,
    }
}

/// One row's outcome, as `--json` writes it.
#[derive(Debug, Serialize)]
pub(crate) struct RowResult {
    dialer: &'static str,
    listener: &'static str,
    transport: &'static str,
    pub(crate) ok: bool,
    connect_ms: Option<f64>,
    /// How long a block took each way after connecting, on the rows that move blocks.
    blocks_ms: Option<f64>,
    error: Option<String>,
}

/// What a row measured.
struct Outcome {
    connect: Duration,
    blocks: Option<Duration>,
}

fn row_name(dialer: Peer, listener: Peer, transport: Transport) -> String {
    format!(
        "{} -> {} over {}",
        dialer.name(),
        listener.name(),
        transport.name()
    )
}

/// Whether `name` matches `pattern`: a substring, with `*` standing for anything.
fn matches(pattern: &str, name: &str) -> bool {
    let mut rest = name;
    for part in pattern.split('*') {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// `cargo xtask matrix`: the rows, run in a network namespace of their own (WebRTC joins
/// multicast groups, and Chromium needs a default route for ICE); fails if any row fails.
pub(crate) fn main(args: &Args) -> anyhow::Result<()> {
    let rows = select(&args.only)?;
    if !Namespace::inside() {
        prepare(&rows, args.release)?;
        let ns = Namespace::create("mx")?;
        return exec(
            ns.command(std::env::current_exe()?)
                .args(std::env::args_os().skip(1)),
        );
    }
    let bin = crate::switchboard_built(args.release)?;
    let rows = run(&bin, rows, args.repeat, args.json.as_deref())?;
    let failed = rows.iter().filter(|r| !r.ok).count();
    anyhow::ensure!(failed == 0, "{failed} matrix row(s) failed");
    Ok(())
}

type Row = (Peer, Peer, Transport);

/// The rows any pattern of `only` selects (all when it is empty).
fn select(only: &[String]) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for dialer in Peer::ALL {
        for listener in Peer::ALL {
            for transport in Transport::ALL {
                let name = row_name(dialer, listener, transport);
                if (only.is_empty() || only.iter().any(|p| matches(p, &name)))
                    && dialer.can_dial(transport)
                    && listener.can_listen(transport)
                    && dialer.pairs_with(listener, transport)
                {
                    rows.push((dialer, listener, transport));
                }
            }
        }
    }
    if rows.is_empty() {
        bail!("no matrix row matches {only:?}");
    }
    Ok(rows)
}

/// Installs and builds what `rows` need, outside the namespace.
fn prepare(rows: &[Row], release: bool) -> anyhow::Result<()> {
    let uses = |peer: fn(Peer) -> bool| rows.iter().any(|&(d, l, _)| peer(d) || peer(l));
    crate::switchboard_built(release)?;
    if rows.iter().any(|&(_, _, t)| t == Transport::HolePunch) {
        // The NAT routers' rules.
        crate::install::debian(&["nftables"])?;
    }
    if uses(|p| matches!(p, Peer::Example(_))) {
        crate::example("block_exchange")?;
    }
    if uses(|p| p == Peer::HeliaNode) {
        crate::install::helia_node()?;
    }
    if uses(|p| matches!(p, Peer::Kubo(_))) {
        crate::install::kubo()?;
    }
    if uses(|p| p == Peer::HeliaBrowser) {
        crate::install::helia_browser()?;
        crate::helia::build_browser_site()?;
    }
    if uses(|p| p == Peer::Browser) {
        crate::install::wasm_toolchain()?;
        crate::demo_page::build_site()?;
    }
    if uses(|p| matches!(p, Peer::Browser | Peer::HeliaBrowser)) {
        // Chromium itself.
        crate::install::wasm_toolchain()?;
    }
    Ok(())
}

/// Runs `rows`, all of them `repeat` times over (round after round, so that what slows the
/// machine for a while slows every row alike), printing each result as it comes and, when
/// repeating, each row's median and range at the end.
fn run(
    bin: &Path,
    rows: Vec<Row>,
    repeat: u64,
    json: Option<&Path>,
) -> anyhow::Result<Vec<RowResult>> {
    println!(
        "{:<22} {:<22} {:<13} {:<6} {:>10} {:>10}  error",
        "dialer", "listener", "transport", "result", "connect", "blocks"
    );
    let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
    let mut results = Vec::new();
    let mut chromium = Chromium::default();
    for _ in 0..repeat {
        for &(dialer, listener, transport) in &rows {
            let outcome = run_row(bin, &mut chromium, dialer, listener, transport);
            let result = RowResult {
                dialer: dialer.name(),
                listener: listener.name(),
                transport: transport.name(),
                ok: outcome.is_ok(),
                connect_ms: ms(outcome.as_ref().ok().map(|o| o.connect)),
                blocks_ms: ms(outcome.as_ref().ok().and_then(|o| o.blocks)),
                error: outcome.as_ref().err().map(|e| format!("{e:#}")),
            };
            println!(
                "{:<22} {:<22} {:<13} {:<6} {:>10} {:>10}  {}",
                result.dialer,
                result.listener,
                result.transport,
                if result.ok { "pass" } else { "FAIL" },
                shown(result.connect_ms),
                shown(result.blocks_ms),
                result.error.as_deref().unwrap_or(""),
            );
            results.push(result);
        }
    }
    let passed = results.iter().filter(|r| r.ok).count();
    println!("{passed} passed, {} failed", results.len() - passed);
    if repeat > 1 {
        summarize(&rows, &results);
    }
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(results)
}

/// A row's listener, running.
enum Listening {
    Daemon(Daemon),
    Helia(HeliaNode),
    Kubo(KuboNode),
}

/// Starts the listener, then the dialer, and times the dialer's connect; between a daemon and
/// Kubo, then moves a block each way.
fn run_row(
    bin: &Path,
    chromium: &mut Chromium,
    dialer: Peer,
    listener: Peer,
    transport: Transport,
) -> anyhow::Result<Outcome> {
    let tmp = tempfile::tempdir().context("temporary directory")?;
    if transport == Transport::HolePunch {
        return hole_punch(bin, tmp.path());
    }
    // The relay of the rows through one, and the reservation the listener makes on it.
    let relay = match transport {
        Transport::Relay | Transport::WebRtc => {
            Some(daemon::start_relay(bin, &tmp.path().join("relay"))?)
        }
        _ => None,
    };
    if transport == Transport::WebRtc {
        let relay = relay.as_ref().context("started above")?;
        return webrtc_row(bin, tmp.path(), chromium, relay, dialer, listener);
    }
    let circuit = |dialer: Peer| -> anyhow::Result<multiaddr::Multiaddr> {
        let relay = relay.as_ref().context("a relay row")?;
        // A page reaches the relay over ws, everyone else over TCP.
        let over = match dialer {
            Peer::Browser | Peer::HeliaBrowser => "ws",
            _ => "tcp",
        };
        Ok(daemon::addr(relay, over)?.with(multiaddr::Protocol::P2pCircuit))
    };
    let mut listening = match listener {
        Peer::SwitchboardDaemon => {
            let mut listen = vec![transport.listen_addr()];
            if relay.is_some() {
                listen.push(circuit(dialer)?.to_string());
            }
            let listen: Vec<&str> = listen.iter().map(String::as_str).collect();
            Listening::Daemon(daemon::start(
                bin,
                &tmp.path().join("listener"),
                &listen,
                &[],
            )?)
        }
        Peer::HeliaNode if relay.is_some() => {
            Listening::Helia(HeliaNode::start_listening(&[circuit(dialer)?])?)
        }
        Peer::HeliaNode => Listening::Helia(HeliaNode::start()?),
        Peer::Kubo(key) => Listening::Kubo(KuboNode::start(key)?),
        Peer::Browser | Peer::HeliaBrowser => bail!("a browser page cannot listen"),
        Peer::Example(_) => bail!("the example does not listen"),
    };
    let target = match &listening {
        // Its reservation: the relay's address it reserved through, `/p2p-circuit`.
        Listening::Daemon(daemon) if relay.is_some() => {
            let through = circuit(dialer)?;
            daemon
                .wait_for_addr(DEADLINE, |a| through_relay(a, &through))?
                .to_string()
        }
        Listening::Helia(helia) if relay.is_some() => {
            let through = circuit(dialer)?;
            helia
                .addrs()
                .iter()
                .find(|a| through_relay(a, &through))
                .with_context(|| format!("Helia has no reservation: {:?}", helia.addrs()))?
                .to_string()
        }
        Listening::Daemon(daemon) => daemon
            .addr_where(|_| true)
            .context("the listener reported no address")?
            .to_string(),
        Listening::Helia(helia) => {
            let addr = helia
                .addr(transport.name())
                .context("Helia does not listen on the transport")?;
            format!("{addr}/p2p/{}", helia.peer_id)
        }
        Listening::Kubo(kubo) => kubo_listener(transport)
            .and_then(|l| kubo.addr(l))
            .context("Kubo does not listen on the transport")?,
    };
    // A row through a relay dials the relay's circuit, nothing else.
    anyhow::ensure!(
        (relay.is_some()) == target.contains("/p2p-circuit/"),
        "the row would dial {target}"
    );
    let outcome = |connect| Outcome {
        connect,
        blocks: None,
    };
    match dialer {
        Peer::SwitchboardDaemon => {
            // The dialer trusts the listener's self-signed certificate, as an operator would.
            let trust = match &listening {
                Listening::Daemon(daemon) => vec![daemon.repo.join("tls/cert.pem")],
                Listening::Helia(_) | Listening::Kubo(_) => Vec::new(),
            };
            // libp2p-webrtc dials from its listening socket, so a WebRTC dialer listens too.
            let webrtc = transport.listen_addr();
            let listen: &[&str] = match transport {
                Transport::WebRtcDirect => &["/ip4/127.0.0.1/tcp/0", &webrtc],
                _ => &["/ip4/127.0.0.1/tcp/0"],
            };
            let dialing = daemon::start(bin, &tmp.path().join("dialer"), listen, &trust)?;
            let connect = dialing.connect(&target.parse()?)?;
            let blocks = match &mut listening {
                Listening::Kubo(kubo) => Some(blocks_both_ways(&dialing, kubo)?),
                Listening::Daemon(listener) if relay.is_some() => {
                    Some(block_across(listener, &dialing)?)
                }
                _ => None,
            };
            Ok(Outcome { connect, blocks })
        }
        Peer::HeliaNode => HeliaNode::start()?.dial(&target.parse()?).map(outcome),
        Peer::Kubo(key) => {
            let mut kubo = KuboNode::start(key)?;
            let connect = kubo.dial(&target)?;
            let blocks = match &listening {
                Listening::Daemon(daemon) => Some(blocks_both_ways(daemon, &mut kubo)?),
                _ => None,
            };
            Ok(Outcome { connect, blocks })
        }
        Peer::Example(runtime) => {
            let Listening::Daemon(daemon) = &listening else {
                bail!("the example fetches from a daemon");
            };
            fetch_with_example(daemon, runtime, &target)
        }
        Peer::Browser => chromium.dial(Page::Switchboard, &target).map(outcome),
        Peer::HeliaBrowser => chromium.dial(Page::Helia, &target).map(outcome),
    }
}

/// A `/webrtc` row: the listener reserves on `relay` and listens on `/webrtc`, the dialer dials
/// its `/webrtc` address through the relay and fetches a 1 MiB block from it, which only the
/// direct connection can carry (a circuit carries 128 KiB); the dialer's connection to the
/// listener must be a `/webrtc` one.
fn webrtc_row(
    bin: &Path,
    tmp: &Path,
    chromium: &mut Chromium,
    relay: &Daemon,
    dialer: Peer,
    listener: Peer,
) -> anyhow::Result<Outcome> {
    // Both reach the relay through the listener's reservation: over ws where a page is one
    // of them, over TCP between daemons.
    let page = |peer: Peer| matches!(peer, Peer::Browser | Peer::HeliaBrowser);
    let over = if page(dialer) || page(listener) {
        "ws"
    } else {
        "tcp"
    };
    let through = daemon::addr(relay, over)?;
    let big: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let listening_daemon;
    let mut listening_page = None;
    let (target, cid) = match listener {
        Peer::Browser | Peer::HeliaBrowser => {
            let (target, cid, listening) =
                chromium.listen(page_of(listener)?, &through.to_string())?;
            listening_page = Some(listening);
            (target, cid)
        }
        Peer::SwitchboardDaemon => {
            let circuit = through.clone().with(multiaddr::Protocol::P2pCircuit);
            let listen = [
                "/ip4/127.0.0.1/tcp/0".to_owned(),
                circuit.to_string(),
                "/webrtc".to_owned(),
            ];
            let listen: Vec<&str> = listen.iter().map(String::as_str).collect();
            listening_daemon =
                daemon::start_configured(bin, &tmp.join("listener"), &listen, NO_DCUTR, &[])?;
            let target = listening_daemon.wait_for_addr(DEADLINE, |a| {
                through_relay(a, &circuit) && a.iter().any(|p| p == multiaddr::Protocol::WebRTC)
            })?;
            (target.to_string(), listening_daemon.put(&big)?)
        }
        _ => bail!("{} does not listen on /webrtc", listener.name()),
    };
    let outcome = webrtc_dial(bin, tmp, chromium, dialer, &target, &cid, big.len());
    if std::env::var_os("XTASK_PAGE_DEBUG").is_some()
        && let Some(log) = listening_page.as_ref().and_then(|b| b.page_log(300))
    {
        eprintln!("the listening page's last console lines:\n{log}");
    }
    outcome
}

/// The `/webrtc` rows' daemons do not hole-punch: over loopback DCUtR connects them over TCP
/// too, sometimes before WebRTC, and the row is about WebRTC (the dcutr row tests it).
const NO_DCUTR: &[(&str, &str)] = &[("relay.hole-punching", "false")];

/// `dialer` dials `target` over `/webrtc` and fetches `cid` (`len` bytes).
fn webrtc_dial(
    bin: &Path,
    tmp: &Path,
    chromium: &mut Chromium,
    dialer: Peer,
    target: &str,
    cid: &str,
    len: usize,
) -> anyhow::Result<Outcome> {
    match dialer {
        Peer::Browser | Peer::HeliaBrowser => chromium.dial_webrtc(page_of(dialer)?, target, cid),
        Peer::SwitchboardDaemon => {
            let dialing = daemon::start_configured(
                bin,
                &tmp.join("dialer"),
                &["/ip4/127.0.0.1/tcp/0"],
                NO_DCUTR,
                &[],
            )?;
            let connect = dialing.connect(&target.parse()?)?;
            let started = std::time::Instant::now();
            let fetched = dialing.get(cid, DEADLINE)?;
            anyhow::ensure!(
                fetched.len() == len,
                "fetched {} bytes of 1 MiB (a circuit carries 128 KiB)",
                fetched.len()
            );
            let blocks = started.elapsed();
            let peer = target.rsplit('/').next().unwrap_or_default().to_owned();
            let peers = String::from_utf8(dialing.exec(&["swarm", "peers"], b"")?)?;
            let via = peers
                .lines()
                .find(|l| l.ends_with(&peer))
                .unwrap_or_default();
            anyhow::ensure!(
                via.contains("/webrtc"),
                "the dialer's connection is {via:?}"
            );
            Ok(Outcome {
                connect,
                blocks: Some(blocks),
            })
        }
        _ => bail!("{} does not dial /webrtc", dialer.name()),
    }
}

/// The page a browser peer is.
fn page_of(peer: Peer) -> anyhow::Result<Page> {
    match peer {
        Peer::Browser => Ok(Page::Switchboard),
        Peer::HeliaBrowser => Ok(Page::Helia),
        _ => bail!("{} is not a page", peer.name()),
    }
}

/// Whether `addr` is a reservation through `circuit` (a relay's address, `/p2p-circuit`).
fn through_relay(addr: &multiaddr::Multiaddr, circuit: &multiaddr::Multiaddr) -> bool {
    addr.iter().take(circuit.iter().count()).eq(circuit.iter())
}

/// A block put on `from`, fetched by `to` over their connection; how long the fetch took.
fn block_across(from: &Daemon, to: &Daemon) -> anyhow::Result<Duration> {
    let data = format!("across the matrix {}", std::process::id()).into_bytes();
    let cid = from.put(&data)?;
    let started = std::time::Instant::now();
    let fetched = to.get(&cid, DEADLINE)?;
    anyhow::ensure!(fetched == data, "fetched {} other bytes", fetched.len());
    Ok(started.elapsed())
}

/// The hole-punching row: a relay on the public side, two daemons each behind its own NAT
/// router (`testkit::net::Nat`); one dials the other through the relay and the row times the
/// dial until `swarm peers` shows a direct connection, then moves 1 MiB (eight times what a
/// circuit carries) over it.
fn hole_punch(bin: &Path, tmp: &Path) -> anyhow::Result<Outcome> {
    use switchboard_testkit::net::Nat;
    let nat = Nat::try_new()?;
    let switchboard = daemon::switchboard(bin);
    let start =
        |ns: &switchboard_testkit::net::Namespace, name: &str, listen: &[String], args: &[&str]| {
            let repo = tmp.join(name);
            switchboard.init(&repo)?;
            let listen: Vec<&str> = listen
                .iter()
                .flat_map(|a| ["--listen", a.as_str()])
                .collect();
            let args: Vec<&str> = listen.into_iter().chain(args.iter().copied()).collect();
            switchboard.start_daemon(&ns.prefix(), &repo, &args)
        };
    let relay_listen = format!("/ip4/{}/tcp/4001", Nat::PUBLIC);
    let relay = start(
        nat.public(),
        "relay",
        std::slice::from_ref(&relay_listen),
        &["--profile", "relay"],
    )?;
    let relay_addr = format!("{relay_listen}/p2p/{}", relay.peer_id());
    let hidden = start(
        nat.host(1),
        "hidden",
        &[
            "/ip4/198.19.2.2/tcp/4001".into(),
            format!("{relay_addr}/p2p-circuit"),
        ],
        &[],
    )?;
    let circuit: multiaddr::Multiaddr = format!("{relay_addr}/p2p-circuit").parse()?;
    let reachable = hidden.wait_for_addr(DEADLINE, |a| through_relay(a, &circuit))?;
    let dialer = start(
        nat.host(0),
        "dialer",
        &["/ip4/198.19.1.2/tcp/4001".into()],
        &[],
    )?;
    // Knowing the relay first, the dialer learns its public address from it (identify).
    dialer.exec(&["swarm", "connect", &relay_addr], b"")?;
    let started = std::time::Instant::now();
    dialer.exec(&["swarm", "connect", &reachable.to_string()], b"")?;
    let hidden_id = hidden.peer_id();
    let direct = switchboard_testkit::within(DEADLINE, || {
        let peers = String::from_utf8(dialer.exec(&["swarm", "peers"], b"").ok()?).ok()?;
        peers
            .lines()
            .any(|l| !l.contains("p2p-circuit") && l.ends_with(&hidden_id))
            .then_some(())
    });
    direct.context("no direct connection by hole punching")?;
    let connect = started.elapsed();
    let big: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let cid = hidden.put(&big)?;
    let started = std::time::Instant::now();
    let fetched = dialer.get(&cid, DEADLINE)?;
    anyhow::ensure!(
        fetched == big,
        "1 MiB did not come across the direct connection"
    );
    Ok(Outcome {
        connect,
        blocks: Some(started.elapsed()),
    })
}

/// The `block_exchange` example on `runtime` dials `target` (the daemon) and fetches a block
/// the daemon stored; its connect time as it reports it, and the fetch's.
fn fetch_with_example(daemon: &Daemon, runtime: Runtime, target: &str) -> anyhow::Result<Outcome> {
    let data = format!(
        "for the example on {} {}",
        runtime.name(),
        std::process::id()
    );
    let cid = daemon.put(data.as_bytes())?;
    // Built by `prepare` outside the namespace; only its path is needed here.
    let example = crate::target_dir().join("debug/examples/block_exchange");
    let out = Command::new(example)
        .args(["--runtime", runtime.name(), "--from", target, "--cid", &cid])
        .output()
        .context("cannot run the block_exchange example")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "block_exchange on {} failed: {}",
        runtime.name(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    anyhow::ensure!(
        stdout.contains(&data),
        "the example fetched other bytes: {stdout}"
    );
    let millis = |key: &str| -> anyhow::Result<Duration> {
        let value = stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .with_context(|| format!("no `{key}` line in the example's output: {stdout}"))?;
        Ok(Duration::from_secs_f64(
            value.trim_end_matches(" ms").parse::<f64>()? / 1e3,
        ))
    };
    Ok(Outcome {
        connect: millis("connect: ")?,
        blocks: Some(millis("fetch: ")?),
    })
}

/// A block from the daemon to Kubo (a raw block, which Kubo's UnixFS get returns as it is), and
/// a file from Kubo to the daemon (`ipfs add` of a small file: one dag-pb block holding the
/// bytes), over the connection the row made; how long both took.
fn blocks_both_ways(daemon: &Daemon, kubo: &mut KuboNode) -> anyhow::Result<Duration> {
    let started = std::time::Instant::now();
    let ours = format!("from switchboard to kubo {}", std::process::id()).into_bytes();
    let cid = daemon.put(&ours)?;
    let fetched = kubo.get(&cid).context("Kubo fetching the daemon's block")?;
    anyhow::ensure!(
        fetched == ours,
        "Kubo fetched {} other bytes",
        fetched.len()
    );
    let theirs = format!("from kubo to switchboard {}", std::process::id()).into_bytes();
    let cid = kubo.add(&theirs)?;
    let block = daemon
        .get(&cid, DEADLINE)
        .context("the daemon fetching Kubo's block")?;
    anyhow::ensure!(
        block.windows(theirs.len()).any(|w| w == theirs),
        "the daemon fetched a block of {} bytes without Kubo's data",
        block.len()
    );
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns() {
        let name = "switchboard-daemon -> switchboard-daemon over wss";
        assert!(matches("wss", name));
        assert!(matches("daemon*wss", name));
        assert!(matches("*over wss", name));
        assert!(!matches("browser", name));
        assert!(!matches("quic*daemon", name));
    }
}
