//! `cargo xtask matrix`: every (dialer, listener, transport) row as real processes on loopback.
//!
//! A row is a dialer [`Peer`], a listener [`Peer`] and a [`Transport`]; the rows are every
//! combination both peers support. Adding a peer implementation (Helia in Node, a browser) means
//! a [`Peer`] variant and its `start`; adding a transport means a [`Transport`] variant.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

/// How long a process may take to become ready, and a connect to complete.
const DEADLINE: Duration = Duration::from_secs(30);

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

impl Args {
    pub(crate) fn everything(json: PathBuf) -> Self {
        Self {
            only: None,
            json: Some(json),
        }
    }
}

/// A transport a row connects over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Quic,
    Ws,
    Wss,
}

impl Transport {
    const ALL: [Transport; 4] = [
        Transport::Tcp,
        Transport::Quic,
        Transport::Ws,
        Transport::Wss,
    ];

    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Quic => "quic-v1",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// A loopback listen address on a free port.
    fn listen_addr(self) -> &'static str {
        match self {
            Transport::Tcp => "/ip4/127.0.0.1/tcp/0",
            Transport::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
            Transport::Ws => "/ip4/127.0.0.1/tcp/0/ws",
            Transport::Wss => "/ip4/127.0.0.1/tcp/0/wss",
        }
    }
}

/// An implementation in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// `switchboard daemon`, a native process.
    SwitchboardDaemon,
}

impl Peer {
    const ALL: [Peer; 1] = [Peer::SwitchboardDaemon];

    fn name(self) -> &'static str {
        match self {
            Peer::SwitchboardDaemon => "switchboard-daemon",
        }
    }

    fn can_listen(self, _transport: Transport) -> bool {
        match self {
            Peer::SwitchboardDaemon => true,
        }
    }

    fn can_dial(self, _transport: Transport) -> bool {
        match self {
            Peer::SwitchboardDaemon => true,
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

pub(crate) fn run(args: &Args) -> anyhow::Result<Vec<RowResult>> {
    crate::exec(crate::cargo().args([
        "build",
        "--locked",
        "-q",
        "-p",
        "switchboard-node",
        "--bin",
        "switchboard",
    ]))?;
    let bin = crate::target_dir().join("debug/switchboard");
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
    for (dialer, listener, transport) in rows {
        let outcome = run_row(&bin, dialer, listener, transport);
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
    dialer: Peer,
    listener: Peer,
    transport: Transport,
) -> anyhow::Result<Duration> {
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let listening = match listener {
        Peer::SwitchboardDaemon => Daemon::start(
            bin,
            &tmp.path().join("listener"),
            &[transport.listen_addr()],
            &[],
        )?,
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
            let dialing = Daemon::start(
                bin,
                &tmp.path().join("dialer"),
                &["/ip4/127.0.0.1/tcp/0"],
                &trust,
            )?;
            dialing.connect(&target)
        }
    }
}

/// A `switchboard daemon` child process; stopped when dropped.
struct Daemon {
    child: Child,
    repo: PathBuf,
    api: String,
    peer_id: String,
    listen_addrs: Vec<String>,
    agent: ureq::Agent,
}

impl Daemon {
    fn start(bin: &Path, repo: &Path, listen: &[&str], trust: &[PathBuf]) -> anyhow::Result<Self> {
        let status = Command::new(bin)
            .arg("--repo")
            .arg(repo)
            .args(["init", "--profile", "test"])
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "switchboard init failed");
        if !trust.is_empty() {
            let json = serde_json::to_string(trust)?;
            let status = Command::new(bin)
                .arg("--repo")
                .arg(repo)
                .args(["config", "websocket.trust", "--json", &json])
                .status()?;
            anyhow::ensure!(status.success(), "switchboard config failed");
        }
        let mut command = Command::new(bin);
        command.arg("--repo").arg(repo).arg("daemon");
        for addr in listen {
            command.args(["--listen", addr]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start the daemon")?;
        let (tx, rx) = mpsc::channel();
        for pipe in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as _),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let started = Instant::now();
        let (mut peer_id, mut listen_addrs, mut seen) = (None, Vec::new(), Vec::new());
        loop {
            match rx.recv_timeout(DEADLINE.saturating_sub(started.elapsed())) {
                Ok(line) if line == "Daemon is ready" => break,
                Ok(line) => {
                    if let Some(id) = line.strip_prefix("Peer ID: ") {
                        peer_id = Some(id.to_owned());
                    }
                    if let Some(addr) = line.strip_prefix("Swarm listening on ") {
                        listen_addrs.push(addr.to_owned());
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    bail!("daemon not ready: {}", seen.join(" | "));
                }
            }
        }
        let api_addr = std::fs::read_to_string(repo.join("api")).context("no api file")?;
        let port = api_addr
            .trim()
            .rsplit('/')
            .next()
            .context("api address has no port")?
            .to_owned();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(DEADLINE))
            .build()
            .into();
        Ok(Self {
            child,
            repo: repo.to_owned(),
            api: format!("http://127.0.0.1:{port}/api/v0"),
            peer_id: peer_id.context("the daemon printed no peer id")?,
            listen_addrs,
            agent,
        })
    }

    /// `swarm/connect`, timed from request to answer.
    fn connect(&self, target: &str) -> anyhow::Result<Duration> {
        let url = format!("{}/swarm/connect?arg={}", self.api, target);
        let started = Instant::now();
        let mut response = self.agent.post(&url).send_empty().context("RPC request")?;
        let elapsed = started.elapsed();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        if !response.status().is_success() {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["Message"].as_str().map(String::from))
                .unwrap_or(body);
            bail!("{message}");
        }
        Ok(elapsed)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self
            .agent
            .post(&format!("{}/shutdown", self.api))
            .send_empty();
        let started = Instant::now();
        while started.elapsed() < DEADLINE {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::park_timeout(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
