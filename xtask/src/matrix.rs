//! `cargo xtask matrix`: every (dialer, listener, transport) row as real processes on loopback.
//!
//! A row is a dialer [`Peer`], a listener [`Peer`] and a [`Transport`]; the rows are every
//! combination both peers support. The peers: the Switchboard daemon, the Switchboard node in
//! Chromium (switchboard-js), Helia in Node and Helia in Chromium. Adding a peer implementation
//! means a [`Peer`] variant and its arms in `run_row`; adding a transport means a [`Transport`]
//! variant.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::daemon::{DEADLINE, Daemon};
use crate::demo_page::Server;
use crate::exec;
use crate::helia::HeliaNode;
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
    /// Helia (js-libp2p 3) in Node: `interop/helia/peer.mjs`, TCP and ws on 127.0.0.1.
    HeliaNode,
    /// Helia in a headless Chromium page (`interop/browser/`).
    HeliaBrowser,
}

impl Peer {
    const ALL: [Peer; 4] = [
        Peer::SwitchboardDaemon,
        Peer::Browser,
        Peer::HeliaNode,
        Peer::HeliaBrowser,
    ];

    fn name(self) -> &'static str {
        match self {
            Peer::SwitchboardDaemon => "switchboard-daemon",
            Peer::Browser => "browser",
            Peer::HeliaNode => "helia-node",
            Peer::HeliaBrowser => "helia-browser",
        }
    }

    fn can_listen(self, transport: Transport) -> bool {
        match self {
            Peer::SwitchboardDaemon => true,
            Peer::HeliaNode => matches!(transport, Transport::Tcp | Transport::Ws),
            Peer::Browser | Peer::HeliaBrowser => false,
        }
    }

    fn can_dial(self, transport: Transport) -> bool {
        match self {
            Peer::SwitchboardDaemon => true,
            // Helia in Node has no WebRTC here (node-datachannel downloads a native binary)
            // and would not trust the daemon's self-signed wss certificate.
            Peer::HeliaNode => matches!(transport, Transport::Tcp | Transport::Ws),
            Peer::Browser | Peer::HeliaBrowser => matches!(
                transport,
                Transport::Ws | Transport::Wss | Transport::WebRtcDirect
            ),
        }
    }
}

/// A page the matrix opens in Chromium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    /// switchboard-js's dial page.
    Switchboard,
    /// The Helia page, without a block to fetch.
    Helia,
}

/// A site served on 127.0.0.1.
struct Site {
    _server: Server,
    base: String,
}

impl Site {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let server = Server::start(dir)?;
        Ok(Self {
            base: format!("http://127.0.0.1:{}", server.port),
            _server: server,
        })
    }
}

/// Chromium and the pages' sites, each started for the first row that needs it and kept for
/// the others.
#[derive(Default)]
struct Chromium {
    browser: Option<Browser>,
    switchboard: Option<Site>,
    helia: Option<Site>,
}

impl Chromium {
    /// Opens `page` on `target`; the connect time the page measured.
    fn dial(&mut self, page: Page, target: &str) -> anyhow::Result<Duration> {
        let (site, path, key) = match page {
            Page::Switchboard => {
                if self.switchboard.is_none() {
                    crate::browser::install_toolchain()?;
                    self.switchboard = Some(Site::start(&crate::demo_page::build_site()?)?);
                }
                (&self.switchboard, "dial.html?filter=all&", "ms")
            }
            Page::Helia => {
                if self.helia.is_none() {
                    self.helia = Some(Site::start(&crate::helia::build_browser_site()?)?);
                }
                (&self.helia, "index.html?", "connectMs")
            }
        };
        let url = format!(
            "{}/{path}addr={target}",
            site.as_ref().context("the site was just started")?.base
        );
        let browser = match &mut self.browser {
            Some(browser) => browser,
            browser => browser.insert(Browser::start()?),
        };
        let result = browser.page_result(&url, DEADLINE)?;
        match result[key].as_f64() {
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
        // The namespace has no way out: the JavaScript peers are installed out here.
        crate::ci::install_js_peers()?;
        crate::ci::install_npm_package("interop/browser", &["--legacy-peer-deps"])?;
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
        "{:<22} {:<22} {:<13} {:<6} {:>10}  error",
        "dialer", "listener", "transport", "result", "connect"
    );
    let mut results = Vec::new();
    let mut chromium = Chromium::default();
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
            "{:<22} {:<22} {:<13} {:<6} {:>10}  {}",
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

/// A row's listener, running.
enum Listening {
    Daemon(Daemon),
    Helia(HeliaNode),
}

/// Starts the listener, then the dialer, and times the dialer's connect.
fn run_row(
    bin: &Path,
    chromium: &mut Chromium,
    dialer: Peer,
    listener: Peer,
    transport: Transport,
) -> anyhow::Result<Duration> {
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let listening = match listener {
        Peer::SwitchboardDaemon => Listening::Daemon(Daemon::start(
            bin,
            &tmp.path().join("listener"),
            &[&transport.listen_addr()],
            &[],
        )?),
        Peer::HeliaNode => Listening::Helia(HeliaNode::start()?),
        Peer::Browser | Peer::HeliaBrowser => bail!("a browser page cannot listen"),
    };
    let target = match &listening {
        Listening::Daemon(daemon) => {
            let addr = daemon
                .listen_addrs
                .first()
                .context("the listener reported no address")?;
            format!("{addr}/p2p/{}", daemon.peer_id)
        }
        Listening::Helia(helia) => {
            let addr = helia
                .addr(transport.name())
                .context("Helia does not listen on the transport")?;
            format!("{addr}/p2p/{}", helia.peer_id)
        }
    };
    match dialer {
        Peer::SwitchboardDaemon => {
            // The dialer trusts the listener's self-signed certificate, as an operator would.
            let trust = match &listening {
                Listening::Daemon(daemon) => vec![daemon.repo.join("tls/cert.pem")],
                Listening::Helia(_) => Vec::new(),
            };
            // libp2p-webrtc dials from its listening socket, so a WebRTC dialer listens too.
            let webrtc = transport.listen_addr();
            let listen: &[&str] = match transport {
                Transport::WebRtcDirect => &["/ip4/127.0.0.1/tcp/0", &webrtc],
                _ => &["/ip4/127.0.0.1/tcp/0"],
            };
            let dialing = Daemon::start(bin, &tmp.path().join("dialer"), listen, &trust)?;
            dialing.connect(&target)
        }
        Peer::HeliaNode => HeliaNode::start()?.dial(&target),
        Peer::Browser => chromium.dial(Page::Switchboard, &target),
        Peer::HeliaBrowser => chromium.dial(Page::Helia, &target),
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
