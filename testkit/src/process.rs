//! The `switchboard` binary as real child processes: one-shot commands and daemons.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use multiaddr::{Multiaddr, Protocol};

use crate::DEADLINE;

/// The `switchboard` binary under test (a test or bench gets its path from
/// `env!("CARGO_BIN_EXE_switchboard")`, xtask from its build).
#[derive(Debug, Clone)]
pub struct Switchboard {
    bin: PathBuf,
    echo_stderr: bool,
}

impl Switchboard {
    /// The binary at `bin`. Daemons' standard error is shown as the test's own (captured by
    /// the test harness unless the test fails); see [`Switchboard::with_stderr_shown`].
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            echo_stderr: true,
        }
    }

    /// Whether daemons' standard error is shown; it is kept for error messages either way.
    pub fn with_stderr_shown(mut self, shown: bool) -> Self {
        self.echo_stderr = shown;
        self
    }

    /// Its path.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// `switchboard --repo REPO`, or `prefix… switchboard --repo REPO` (e.g. `ip netns exec
    /// <ns> switchboard`).
    pub fn command(&self, prefix: &[String], repo: &Path) -> Command {
        let mut command = match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        command.arg("--repo").arg(repo);
        command
    }

    /// Runs `switchboard ARGS` on `repo` with `stdin` and waits for it.
    pub fn output(
        &self,
        prefix: &[String],
        repo: &Path,
        args: &[&str],
        stdin: &[u8],
    ) -> anyhow::Result<Output> {
        let mut child = self
            .command(prefix, repo)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        let mut pipe = child.stdin.take().context("piped stdin")?;
        // A command that does not read its input closes the pipe: not an error here.
        let _ = pipe.write_all(stdin);
        drop(pipe);
        Ok(child.wait_with_output()?)
    }

    /// Runs `switchboard ARGS` and returns its stdout; an error with its stderr when it fails.
    pub fn exec(
        &self,
        prefix: &[String],
        repo: &Path,
        args: &[&str],
        stdin: &[u8],
    ) -> anyhow::Result<Vec<u8>> {
        let out = self.output(prefix, repo, args, stdin)?;
        anyhow::ensure!(
            out.status.success(),
            "switchboard {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(out.stdout)
    }

    /// `switchboard init --profile test` at `repo` (everything on 127.0.0.1 port 0, mDNS
    /// off).
    pub fn init(&self, repo: &Path) -> anyhow::Result<()> {
        self.exec(&[], repo, &["init", "--profile", "test"], b"")
            .map(drop)
    }

    /// `switchboard block put` of `data` on `repo` (through its daemon, if one runs); the CID.
    pub fn block_put(&self, prefix: &[String], repo: &Path, data: &[u8]) -> anyhow::Result<String> {
        let out = self.exec(prefix, repo, &["block", "put"], data)?;
        Ok(String::from_utf8(out)?.trim().to_owned())
    }

    /// Starts `switchboard daemon ARGS` on `repo`, with `prefix` before the binary, and waits
    /// for "Daemon is ready".
    pub fn start_daemon(
        &self,
        prefix: &[String],
        repo: &Path,
        args: &[&str],
    ) -> anyhow::Result<Daemon> {
        Daemon::start(self.clone(), prefix, repo, args)
    }

    // The shorthands tests use: each panics with the error.

    /// Runs `switchboard` with `args` on `repo` and waits for it.
    pub fn run(&self, repo: &Path, args: &[&str]) -> Output {
        self.output(&[], repo, args, b"").expect("switchboard runs")
    }

    /// Runs `switchboard` with `input` on stdin; its stdout, failing the test when it fails.
    pub fn run_with_stdin(&self, repo: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
        self.exec(&[], repo, args, input)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Runs `switchboard` and returns stdout, failing the test with stderr when it fails.
    pub fn run_ok(&self, repo: &Path, args: &[&str]) -> String {
        let out = self.run_with_stdin(repo, args, b"");
        String::from_utf8(out).expect("utf-8 output")
    }

    /// Runs `switchboard`, expects failure, and returns its stderr (which must be one line).
    pub fn run_err(&self, repo: &Path, args: &[&str]) -> String {
        let out = self.run(repo, args);
        assert!(
            !out.status.success(),
            "switchboard {args:?} should have failed"
        );
        let stderr = String::from_utf8(out.stderr).expect("utf-8 output");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "one line of error, got: {stderr}"
        );
        stderr.trim_end().to_owned()
    }

    /// `switchboard init --profile test` in a fresh directory under `tmp`.
    pub fn init_repo(&self, tmp: &Path, name: &str) -> PathBuf {
        let repo = tmp.join(name);
        self.init(&repo).unwrap_or_else(|e| panic!("{e:#}"));
        repo
    }

    /// Starts a daemon on `repo` and waits for "Daemon is ready".
    pub fn daemon(&self, repo: &Path, args: &[&str]) -> Daemon {
        self.daemon_with(&[], repo, args)
    }

    /// Starts a daemon on `repo` with `prefix` before the binary (e.g. `ip netns exec ns`)
    /// and waits for "Daemon is ready".
    pub fn daemon_with(&self, prefix: &[String], repo: &Path, args: &[&str]) -> Daemon {
        self.start_daemon(prefix, repo, args)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }
}

/// How many of a daemon's last stderr lines an error message quotes.
const STDERR_KEPT: usize = 20;

/// A `switchboard daemon` child process, stopped with SIGTERM when dropped.
pub struct Daemon {
    switchboard: Switchboard,
    child: Child,
    prefix: Vec<String>,
    /// The repo it runs on.
    pub repo: PathBuf,
    /// What it printed before "Daemon is ready".
    pub stdout: Vec<String>,
    peer_id: String,
    /// Its listen addresses, as it printed them (without `/p2p`).
    pub listen_addrs: Vec<Multiaddr>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// Reads `pipe` to its end on a thread of its own, even once nobody listens (a daemon writing
/// to a closed pipe gets EPIPE), handing each line to `each`.
fn drain(pipe: impl Read + Send + 'static, mut each: impl FnMut(String) + Send + 'static) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            each(line);
        }
    });
}

impl Daemon {
    fn start(
        switchboard: Switchboard,
        prefix: &[String],
        repo: &Path,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let mut child = switchboard
            .command(prefix, repo)
            .arg("daemon")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start the daemon")?;
        let (tx, rx) = mpsc::channel();
        drain(child.stdout.take().context("piped stdout")?, move |line| {
            let _ = tx.send(line);
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (kept, echo) = (stderr.clone(), switchboard.echo_stderr);
        drain(child.stderr.take().context("piped stderr")?, move |line| {
            if echo {
                eprintln!("daemon: {line}");
            }
            let mut kept = kept.lock().expect("no panics while held");
            if kept.len() == STDERR_KEPT {
                kept.pop_front();
            }
            kept.push_back(line);
        });
        let mut daemon = Self {
            switchboard,
            child,
            prefix: prefix.to_vec(),
            repo: repo.to_owned(),
            stdout: Vec::new(),
            peer_id: String::new(),
            listen_addrs: Vec::new(),
            stderr,
        };
        let started = Instant::now();
        loop {
            match rx.recv_timeout(DEADLINE.saturating_sub(started.elapsed())) {
                Ok(line) if line == "Daemon is ready" => break,
                Ok(line) => {
                    if let Some(id) = line.strip_prefix("Peer ID: ") {
                        daemon.peer_id = id.to_owned();
                    }
                    if let Some(addr) = line.strip_prefix("Swarm listening on ") {
                        daemon.listen_addrs.push(
                            addr.parse()
                                .with_context(|| format!("the daemon listens on {addr:?}"))?,
                        );
                    }
                    daemon.stdout.push(line);
                }
                Err(_) => {
                    let _ = daemon.child.kill();
                    let _ = daemon.child.wait();
                    bail!(
                        "the daemon on {} did not become ready; it printed {:?}, then {}",
                        repo.display(),
                        daemon.stdout,
                        daemon.stderr_tail()
                    );
                }
            }
        }
        anyhow::ensure!(!daemon.peer_id.is_empty(), "the daemon printed no peer id");
        Ok(daemon)
    }

    /// Its peer id, as it printed it.
    pub fn peer_id(&self) -> String {
        self.peer_id.clone()
    }

    /// The last lines the daemon wrote to stderr, for an error message.
    pub fn stderr_tail(&self) -> String {
        let kept = self.stderr.lock().expect("no panics while held");
        if kept.is_empty() {
            return "nothing on stderr".into();
        }
        kept.iter().cloned().collect::<Vec<_>>().join(" | ")
    }

    /// The first listen address `pick` accepts, with `/p2p`.
    pub fn addr_where(&self, pick: impl Fn(&Multiaddr) -> bool) -> Option<Multiaddr> {
        let peer = self.peer_id.parse().ok()?;
        self.listen_addrs
            .iter()
            .find(|a| pick(a))
            .map(|a| a.clone().with(Protocol::P2p(peer)))
    }

    /// Its listen addresses now, with `/p2p` (`swarm addrs local --id`): relay reservations
    /// come after it started.
    pub fn local_addrs(&self) -> anyhow::Result<Vec<Multiaddr>> {
        let out = String::from_utf8(self.exec(&["swarm", "addrs", "local", "--id"], b"")?)?;
        out.lines()
            .map(|l| {
                l.parse()
                    .with_context(|| format!("`swarm addrs local` printed {l:?}"))
            })
            .collect()
    }

    /// Its first listen address `pick` accepts, waiting up to `deadline` for one (a relay
    /// reservation, say), with `/p2p`.
    pub fn wait_for_addr(
        &self,
        deadline: Duration,
        pick: impl Fn(&Multiaddr) -> bool,
    ) -> anyhow::Result<Multiaddr> {
        let mut last = Vec::new();
        let found = crate::within(deadline, || match self.local_addrs() {
            Ok(addrs) => {
                let found = addrs.iter().find(|a| pick(a)).cloned();
                last = addrs;
                found
            }
            Err(_) => None,
        });
        found.with_context(|| format!("no such listen address in {deadline:?}; it has {last:?}"))
    }

    /// Runs `switchboard ARGS` against this daemon (in its network namespace, if any); its
    /// stdout.
    pub fn exec(&self, args: &[&str], stdin: &[u8]) -> anyhow::Result<Vec<u8>> {
        self.switchboard.exec(&self.prefix, &self.repo, args, stdin)
    }

    /// `switchboard ARGS` against this daemon (in its network namespace, if any), to run as
    /// the caller likes (in the background, say).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.switchboard.command(&self.prefix, &self.repo);
        command.args(args);
        command
    }

    /// `switchboard block put` through the daemon; the CID.
    pub fn put(&self, data: &[u8]) -> anyhow::Result<String> {
        self.switchboard.block_put(&self.prefix, &self.repo, data)
    }

    /// `switchboard block get` through the daemon (from peers over Bitswap when it lacks the
    /// block), waiting up to `timeout`; the block's bytes.
    pub fn get(&self, cid: &str, timeout: Duration) -> anyhow::Result<Vec<u8>> {
        let timeout = format!("{}ms", timeout.as_millis());
        self.exec(&["block", "get", cid, "--timeout", &timeout], b"")
    }

    /// The base URL of its RPC API (`http://127.0.0.1:PORT/api/v0`), reachable from its own
    /// network namespace.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}/api/v0", api_port(&self.repo))
    }

    /// `swarm/connect` over the RPC API, timed from request to answer (a command line would
    /// add its own start-up to the time); must be called from the daemon's network namespace.
    pub fn connect(&self, target: &Multiaddr) -> anyhow::Result<Duration> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(DEADLINE))
            .build()
            .into();
        let url = format!("{}/swarm/connect?arg={target}", self.api());
        let started = Instant::now();
        let mut response = agent.post(&url).send_empty().context("RPC request")?;
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

    /// Runs a client command against this daemon; its stdout, failing the test when it fails.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.exec(args, b"").unwrap_or_else(|e| panic!("{e:#}"));
        String::from_utf8(out).expect("utf-8 output")
    }

    /// `Some` once the process has exited.
    pub fn exited(&mut self) -> Option<()> {
        matches!(self.child.try_wait(), Ok(Some(_))).then_some(())
    }

    /// Kills the daemon with SIGKILL, as a crash would, and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the daemon with SIGTERM and waits for it to exit.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let exited = crate::within(DEADLINE, || self.exited());
        if exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// The port of the RPC API a daemon on `repo` serves, from its `api` file.
pub fn api_port(repo: &Path) -> u16 {
    let api = std::fs::read_to_string(repo.join("api")).expect("api file");
    let addr: Multiaddr = api.trim().parse().expect("api multiaddr");
    addr.iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("tcp port")
}

/// Sends a raw HTTP request (`PORT` in it replaced by the port) to the API on `port`; the
/// connection, to read the answer from.
pub fn http_request(port: u16, request: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to API");
    stream
        .write_all(request.replace("PORT", &port.to_string()).as_bytes())
        .expect("send");
    stream
}

/// Sends a raw HTTP request and returns the status code.
pub fn http_status(port: u16, request: &str) -> u16 {
    try_http_status(port, request).expect("an HTTP answer with a status line")
}

/// Sends a raw HTTP request and returns the status code; `None` when the connection is refused,
/// closed or reset before a status line arrives (a server at its client limit does that).
pub fn try_http_status(port: u16, request: &str) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(request.replace("PORT", &port.to_string()).as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}
