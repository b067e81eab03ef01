//! Helia as a peer of the xtask's runs: in Node (testkit's `Helia`, `interop/helia/peer.mjs`
//! driven by JSON lines) and in Chromium (`interop/browser/`, a page bundled with esbuild).

use std::path::PathBuf;
use std::process::Command;

pub(crate) use switchboard_testkit::helia::Helia as HeliaNode;

use crate::{exec, root};

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
