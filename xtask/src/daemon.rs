//! A `switchboard daemon` child process, driven through its command line and RPC API.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// `switchboard --repo REPO ARGS…`.
pub(crate) fn switchboard(bin: &Path, repo: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin);
    command.arg("--repo").arg(repo).args(args);
    command
}

/// `switchboard init --profile test` at `repo`.
pub(crate) fn init_repo(bin: &Path, repo: &Path) -> anyhow::Result<()> {
    let status = switchboard(bin, repo, &["init", "--profile", "test"])
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "switchboard init failed");
    Ok(())
}

/// Runs `put` (a `switchboard block put`) with `data` on stdin; the CID it prints.
pub(crate) fn block_put(put: &mut Command, data: &[u8]) -> anyhow::Result<String> {
    let mut child = put
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run switchboard block put")?;
    child.stdin.take().context("piped stdin")?.write_all(data)?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(out.status.success(), "switchboard block put failed");
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// How long a process may take to become ready, and a connect to complete.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// A `switchboard daemon` child process; stopped when dropped.
pub(crate) struct Daemon {
    child: Child,
    bin: PathBuf,
    pub(crate) repo: PathBuf,
    api: String,
    pub(crate) peer_id: String,
    pub(crate) listen_addrs: Vec<String>,
    agent: ureq::Agent,
}

impl Daemon {
    /// Initialises a repo at `repo` (test profile), trusts the `trust` certificates for `/wss`
    /// dials, starts the daemon listening on `listen` and waits until it is ready.
    pub(crate) fn start(
        bin: &Path,
        repo: &Path,
        listen: &[&str],
        trust: &[PathBuf],
    ) -> anyhow::Result<Self> {
        init_repo(bin, repo)?;
        if !trust.is_empty() {
            let json = serde_json::to_string(trust)?;
            let status =
                switchboard(bin, repo, &["config", "websocket.trust", "--json", &json]).status()?;
            anyhow::ensure!(status.success(), "switchboard config failed");
        }
        let mut command = switchboard(bin, repo, &["daemon"]);
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
            // `XTASK_DAEMON_LOG=1` (with `RUST_LOG`, which the daemon reads) shows what the
            // daemons print, for working on a failing run.
            let echo = std::env::var_os("XTASK_DAEMON_LOG").is_some();
            std::thread::spawn(move || {
                // Read to the end even once nobody listens: a daemon writing to a closed
                // pipe gets EPIPE on its log lines.
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("daemon: {line}");
                    }
                    let _ = tx.send(line);
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
            bin: bin.to_owned(),
            repo: repo.to_owned(),
            api: format!("http://127.0.0.1:{port}/api/v0"),
            peer_id: peer_id.context("the daemon printed no peer id")?,
            listen_addrs,
            agent,
        })
    }

    /// The first listen address whose last protocol is `last` (`ws`, `wss`, `webrtc-direct`
    /// before its `/certhash/…`), with `/p2p`.
    pub(crate) fn addr(&self, last: &str) -> anyhow::Result<String> {
        self.listen_addrs
            .iter()
            .find(|a| {
                let before_certhash = a.split("/certhash/").next().unwrap_or(a);
                before_certhash.rsplit('/').next() == Some(last)
            })
            .map(|a| format!("{a}/p2p/{}", self.peer_id))
            .with_context(|| format!("the daemon listens on no /{last} address"))
    }

    /// `switchboard block put` through the daemon; the CID.
    pub(crate) fn put(&self, data: &[u8]) -> anyhow::Result<String> {
        block_put(&mut self.command(&["block", "put"]), data)
    }

    /// `switchboard block get` through the daemon (from peers over Bitswap when it lacks the
    /// block), within [`DEADLINE`]; the block's bytes.
    pub(crate) fn get(&self, cid: &str) -> anyhow::Result<Vec<u8>> {
        let timeout = format!("{}s", DEADLINE.as_secs());
        let out = self
            .command(&["block", "get", cid, "--timeout", &timeout])
            .stderr(Stdio::piped())
            .output()
            .context("cannot run switchboard block get")?;
        anyhow::ensure!(
            out.status.success(),
            "switchboard block get {cid}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(out.stdout)
    }

    /// `switchboard …` on this daemon's repo (so through its RPC API).
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        switchboard(&self.bin, &self.repo, args)
    }

    /// `swarm/connect`, timed from request to answer.
    pub(crate) fn connect(&self, target: &str) -> anyhow::Result<Duration> {
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
