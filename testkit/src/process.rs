//! The `switchboard` binary as real child processes: one-shot commands and daemons.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use libp2p::Multiaddr;

use crate::{DEADLINE, transport_of};

/// The `switchboard` binary under test (a test or bench gets its path from
/// `env!("CARGO_BIN_EXE_switchboard")`).
#[derive(Debug, Clone, Copy)]
pub struct Switchboard {
    bin: &'static str,
}

impl Switchboard {
    /// The binary at `bin`.
    pub const fn new(bin: &'static str) -> Self {
        Self { bin }
    }

    /// Its path.
    pub fn bin(&self) -> &'static str {
        self.bin
    }

    /// `switchboard`, or `prefix… switchboard` (e.g. `ip netns exec <ns> switchboard`).
    fn command(&self, prefix: &[String]) -> Command {
        match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(self.bin);
                c
            }
            None => Command::new(self.bin),
        }
    }

    /// Runs `switchboard` with `args` on `repo` and waits for it.
    pub fn run(&self, repo: &Path, args: &[&str]) -> Output {
        self.run_in(&[], repo, args)
    }

    fn run_in(&self, prefix: &[String], repo: &Path, args: &[&str]) -> Output {
        self.command(prefix)
            .arg("--repo")
            .arg(repo)
            .args(args)
            .output()
            .expect("switchboard runs")
    }

    /// Runs `switchboard` with `input` on stdin; its stdout, failing the test when it fails.
    pub fn run_with_stdin(&self, repo: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut child = Command::new(self.bin)
            .arg("--repo")
            .arg(repo)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("switchboard runs");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input)
            .expect("write stdin");
        let out = child.wait_with_output().expect("switchboard finishes");
        assert!(
            out.status.success(),
            "switchboard {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs `switchboard` and returns stdout, failing the test with stderr when it fails.
    pub fn run_ok(&self, repo: &Path, args: &[&str]) -> String {
        self.run_ok_in(&[], repo, args)
    }

    fn run_ok_in(&self, prefix: &[String], repo: &Path, args: &[&str]) -> String {
        let out = self.run_in(prefix, repo, args);
        assert!(
            out.status.success(),
            "switchboard {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
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
        self.run_ok(&repo, &["init", "--profile", "test"]);
        repo
    }

    /// Starts a daemon on `repo` and waits for "Daemon is ready".
    pub fn daemon(&self, repo: &Path, args: &[&str]) -> Daemon {
        self.daemon_with(&[], repo, args)
    }

    /// Starts a daemon on `repo` with `prefix` before the binary (e.g. `ip netns exec ns`)
    /// and waits for "Daemon is ready".
    pub fn daemon_with(&self, prefix: &[String], repo: &Path, args: &[&str]) -> Daemon {
        Daemon::start(*self, prefix, repo, args)
    }
}

/// A `switchboard daemon` child process, stopped with SIGTERM when dropped.
pub struct Daemon {
    switchboard: Switchboard,
    child: Child,
    prefix: Vec<String>,
    /// The repo it runs on.
    pub repo: PathBuf,
    /// What it printed before "Daemon is ready".
    pub stdout: Vec<String>,
}

impl Daemon {
    fn start(switchboard: Switchboard, prefix: &[String], repo: &Path, args: &[&str]) -> Self {
        let prefix = prefix.to_vec();
        let mut child = switchboard
            .command(&prefix)
            .arg("--repo")
            .arg(repo)
            .arg("daemon")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("daemon starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end even once nobody listens: a daemon writing to a closed pipe
            // gets EPIPE.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            match rx.recv_timeout(left) {
                Ok(line) if line == "Daemon is ready" => break,
                Ok(line) => lines.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "daemon on {} did not become ready; stdout so far: {lines:?}",
                        repo.display()
                    );
                }
            }
        }
        Self {
            switchboard,
            child,
            prefix,
            repo: repo.to_owned(),
            stdout: lines,
        }
    }

    /// The listen address of `transport` from `swarm addrs local --id`.
    pub fn addr(&self, transport: &str) -> Multiaddr {
        self.run_ok(&["swarm", "addrs", "local", "--id"])
            .lines()
            .map(|l| l.parse::<Multiaddr>().expect("a multiaddr per line"))
            .find(|a| transport_of(a) == transport)
            .unwrap_or_else(|| panic!("no {transport} listen address"))
    }

    /// The peer id from `id`.
    pub fn peer_id(&self) -> String {
        let id: serde_json::Value =
            serde_json::from_str(&self.run_ok(&["id"])).expect("id is JSON");
        id["ID"].as_str().expect("ID is a string").to_owned()
    }

    /// Runs a client command against this daemon (in its network namespace, if any).
    pub fn run_ok(&self, args: &[&str]) -> String {
        self.switchboard.run_ok_in(&self.prefix, &self.repo, args)
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
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::park_timeout(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("tcp port")
}

/// Sends a raw HTTP request (`PORT` in it replaced by the port) to the API on `port`; the
/// connection, to read the answer from.
pub fn http_request(port: u16, request: &str) -> std::net::TcpStream {
    use std::io::Write as _;
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
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(request.replace("PORT", &port.to_string()).as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}
