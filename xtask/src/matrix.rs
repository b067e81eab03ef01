//! `cargo xtask matrix`: every (dialer, listener, transport) row as real processes on loopback.
//!
//! A row is a dialer [`Peer`], a listener [`Peer`] and a [`Transport`]; the rows are every
//! combination both peers support. Adding a peer implementation (Helia in Node, a browser) means
//! a [`Peer`] variant and its `start`; adding a transport means a [`Transport`] variant.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::daemon::{DEADLINE, Daemon};
use crate::demo_page::Server;
use crate::exec;
use crate::netns::{self, Namespace};
use crate::webdriver::Browser;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only the rows whose name contains PATTERN (`*` matches anything), e.g. `wss` or
    /// `daemon*quic`.
    #[arg(long, value_name = "PATTERN")]
    only: Option<String>,
    /// Also write the rows as JSON here.
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
}

impl Transport {
    const ALL: [Transport; 5] = [
        Transport::Tcp,
        Transport::Quic,
        Transport::Ws,
        Transport::Wss,
        Transport::WebRtcDirect,
    ];

    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Quic => "quic-v1",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
            Transport::WebRtcDirect => "webrtc-direct",
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
}

impl Peer {
    const ALL: [Peer; 2] = [Peer::SwitchboardDaemon, Peer::Browser];

    fn name(self) -> &'static str {
        match self {
            Peer::SwitchboardDaemon => "switchboard-daemon",
            Peer::Browser => "browser",
        }
    }

    fn can_listen(self, _transport: Transport) -> bool {
        match self {
            Peer::SwitchboardDaemon => true,
            Peer::Browser => false,
        }
    }

    fn can_dial(self, transport: Transport) -> bool {
        match self {
            Peer::SwitchboardDaemon => true,
            Peer::Browser => matches!(
                transport,
                Transport::Ws | Transport::Wss | Transport::WebRtcDirect
            ),
        }
    }
}

/// Chromium on the dial page, started for the first browser row and kept for the others.
struct Chromium {
    browser: Browser,
    _server: Server,
    base: String,
}

impl Chromium {
    fn start() -> anyhow::Result<Self> {
        crate::browser::install_toolchain()?;
        let site = crate::demo_page::build_site()?;
        let server = Server::start(&site)?;
        Ok(Self {
            browser: Browser::start()?,
            base: format!("http://127.0.0.1:{}", server.port),
            _server: server,
        })
    }

    /// Opens the dial page on `target`; the connect time the page measured.
    fn dial(&self, target: &str) -> anyhow::Result<Duration> {
        let url = format!("{}/dial.html?filter=all&addr={target}", self.base);
        let result = self.browser.page_result(&url, DEADLINE)?;
        match result["ms"].as_f64() {
            Some(ms) if result["ok"] == true => Ok(Duration::from_secs_f64(ms / 1e3)),
            _ => bail!("{}", result["error"].as_str().unwrap_or("the page failed")),
        }
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
    error: Option<String>,
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
    if !Namespace::inside() {
        let ns = Namespace::create("mx")?;
        return exec(
            ns.command(std::env::current_exe()?)
                .args(std::env::args_os().skip(1)),
        );
    }
    let rows = run(args)?;
    let failed = rows.iter().filter(|r| !r.ok).count();
    anyhow::ensure!(failed == 0, "{failed} matrix row(s) failed");
    Ok(())
}

fn run(args: &Args) -> anyhow::Result<Vec<RowResult>> {
    let bin = crate::switchboard()?;
    let mut rows = Vec::new();
    for dialer in Peer::ALL {
        for listener in Peer::ALL {
            for transport in Transport::ALL {
                let name = row_name(dialer, listener, transport);
                let selected = args.only.as_deref().is_none_or(|p| matches(p, &name));
                if selected && dialer.can_dial(transport) && listener.can_listen(transport) {
                    rows.push((dialer, listener, transport));
                }
            }
        }
    }
    if rows.is_empty() {
        bail!("no matrix row matches {:?}", args.only);
    }
    println!(
        "{:<22} {:<22} {:<9} {:<6} {:>10}  error",
        "dialer", "listener", "transport", "result", "connect"
    );
    let mut results = Vec::new();
    let mut chromium = None;
    for (dialer, listener, transport) in rows {
        let outcome = run_row(&bin, &mut chromium, dialer, listener, transport);
        let result = RowResult {
            dialer: dialer.name(),
            listener: listener.name(),
            transport: transport.name(),
            ok: outcome.is_ok(),
            connect_ms: outcome.as_ref().ok().map(|d| d.as_secs_f64() * 1e3),
            error: outcome.as_ref().err().map(|e| format!("{e:#}")),
        };
        println!(
            "{:<22} {:<22} {:<9} {:<6} {:>10}  {}",
            result.dialer,
            result.listener,
            result.transport,
            if result.ok { "pass" } else { "FAIL" },
            result
                .connect_ms
                .map_or("-".into(), |ms| format!("{ms:.1} ms")),
            result.error.as_deref().unwrap_or(""),
        );
        results.push(result);
    }
    let passed = results.iter().filter(|r| r.ok).count();
    println!("{passed} passed, {} failed", results.len() - passed);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(results)
}

/// Starts the listener, then the dialer, and times the dialer's connect.
fn run_row(
    bin: &Path,
    chromium: &mut Option<Chromium>,
    dialer: Peer,
    listener: Peer,
    transport: Transport,
) -> anyhow::Result<Duration> {
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let listening = match listener {
        Peer::SwitchboardDaemon => Daemon::start(
            bin,
            &tmp.path().join("listener"),
            &[&transport.listen_addr()],
            &[],
        )?,
        Peer::Browser => bail!("a browser page cannot listen"),
    };
    let addr = listening
        .listen_addrs
        .first()
        .context("the listener reported no address")?;
    let target = format!("{addr}/p2p/{}", listening.peer_id);
    match dialer {
        Peer::SwitchboardDaemon => {
            // The dialer trusts the listener's self-signed certificate, as an operator would.
            let trust = [listening.repo.join("tls/cert.pem")];
            // libp2p-webrtc dials from its listening socket, so a WebRTC dialer listens too.
            let webrtc = transport.listen_addr();
            let listen: &[&str] = match transport {
                Transport::WebRtcDirect => &["/ip4/127.0.0.1/tcp/0", &webrtc],
                _ => &["/ip4/127.0.0.1/tcp/0"],
            };
            let dialing = Daemon::start(bin, &tmp.path().join("dialer"), listen, &trust)?;
            dialing.connect(&target)
        }
        Peer::Browser => {
            if chromium.is_none() {
                *chromium = Some(Chromium::start()?);
            }
            chromium
                .as_ref()
                .context("Chromium was just started")?
                .dial(&target)
        }
    }
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
