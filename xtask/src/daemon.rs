//! `switchboard` daemons for the xtask's runs, on testkit's process driver.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use multiaddr::{Multiaddr, Protocol};
pub(crate) use switchboard_testkit::Daemon;
use switchboard_testkit::Switchboard;

/// How long a process may take to become ready, and a connect or fetch to complete.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// The binary at `bin`; what its daemons print on stderr is shown with `XTASK_DAEMON_LOG=1`
/// (and `RUST_LOG`, which the daemon reads), for working on a failing run.
pub(crate) fn switchboard(bin: &Path) -> Switchboard {
    Switchboard::new(bin).with_stderr_shown(std::env::var_os("XTASK_DAEMON_LOG").is_some())
}

/// Initialises a repo at `repo` (test profile), trusts the `trust` certificates for `/wss`
/// dials, starts the daemon listening on `listen` and waits until it is ready.
pub(crate) fn start(
    bin: &Path,
    repo: &Path,
    listen: &[&str],
    trust: &[PathBuf],
) -> anyhow::Result<Daemon> {
    start_with(bin, repo, listen, trust, &[])
}

/// A relay (`daemon --profile relay`) on 127.0.0.1 over TCP and ws.
pub(crate) fn start_relay(bin: &Path, repo: &Path) -> anyhow::Result<Daemon> {
    start_with(
        bin,
        repo,
        &["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"],
        &[],
        &["--profile", "relay"],
    )
}

/// As [`start`], with more `daemon` arguments.
pub(crate) fn start_with(
    bin: &Path,
    repo: &Path,
    listen: &[&str],
    trust: &[PathBuf],
    args: &[&str],
) -> anyhow::Result<Daemon> {
    let json = serde_json::to_string(trust)?;
    let config: &[(&str, &str)] = match trust.is_empty() {
        true => &[],
        false => &[("websocket.trust", &json)],
    };
    start_configured(bin, repo, listen, config, args)
}

/// As [`start_with`], with `config` (key, JSON value) set in the repo's config first.
pub(crate) fn start_configured(
    bin: &Path,
    repo: &Path,
    listen: &[&str],
    config: &[(&str, &str)],
    args: &[&str],
) -> anyhow::Result<Daemon> {
    let switchboard = switchboard(bin);
    switchboard.init(repo)?;
    for (key, json) in config {
        switchboard.exec(&[], repo, &["config", key, "--json", json], b"")?;
    }
    let args: Vec<&str> = listen
        .iter()
        .flat_map(|addr| ["--listen", addr])
        .chain(args.iter().copied())
        .collect();
    switchboard.start_daemon(&[], repo, &args)
}

/// The daemon's first listen address of `transport` (`tcp`, `quic-v1`, `ws`, `wss`,
/// `webrtc-direct`), with `/p2p`.
pub(crate) fn addr(daemon: &Daemon, transport: &str) -> anyhow::Result<Multiaddr> {
    daemon
        .addr_where(|a| transport_of(a) == Some(transport))
        .with_context(|| format!("the daemon listens on no {transport} address"))
}

/// The transport of a listen address, named by its last protocol before any `/certhash`;
/// `p2p-circuit` for anything through a relay.
pub(crate) fn transport_of(addr: &Multiaddr) -> Option<&'static str> {
    if addr.iter().any(|p| p == Protocol::P2pCircuit) {
        return Some("p2p-circuit");
    }
    addr.iter()
        .filter(|p| !matches!(p, Protocol::Certhash(_) | Protocol::P2p(_)))
        .last()
        .and_then(|p| match p {
            Protocol::Tcp(_) => Some("tcp"),
            Protocol::QuicV1 => Some("quic-v1"),
            Protocol::Ws(_) => Some("ws"),
            Protocol::Wss(_) => Some("wss"),
            Protocol::WebRTCDirect => Some("webrtc-direct"),
            _ => None,
        })
}
