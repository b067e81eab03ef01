//! `cargo xtask bench browser`: a web page fetching blocks from a daemon, switchboard-js next
//! to Helia in the same Chromium, over ws and WebRTC-direct.
//!
//! One release daemon holds [`BLOCKS`] blocks of [`BLOCK_SIZE`]; for each transport and each
//! of [`ROUNDS`] rounds, a fresh page of each client dials it and fetches all the blocks at
//! once (switchboard-js: `examples/browser/dial.html`; Helia: `interop/browser/`). The table
//! gives each client's median and the ratio, measured side by side in one run. Runs in a
//! network namespace (WebRTC needs a default route and joins multicast groups).

use std::time::Duration;

use anyhow::Context as _;

use crate::daemon::{self, DEADLINE};
use crate::demo_page::Server;
use crate::netns::{self, Namespace};
use crate::webdriver::Browser;
use crate::{cargo, exec};

/// Blocks the pages fetch, each [`BLOCK_SIZE`] bytes.
const BLOCKS: usize = 64;
/// 256 KiB, the usual chunk size of UnixFS importers ([`crate::browser::bulk_block`]).
const BLOCK_SIZE: usize = 256 * 1024;
/// Fetches per client and transport; the table shows their median.
const ROUNDS: usize = 3;
const TRANSPORTS: [&str; 2] = ["ws", "webrtc-direct"];

/// Runs the bench; `only` names transports to run (all when empty).
pub(crate) fn run(only: &[String]) -> anyhow::Result<()> {
    if !Namespace::inside() {
        crate::install::wasm_toolchain()?;
        crate::install::helia_browser()?;
        exec(cargo().args([
            "build",
            "--locked",
            "-q",
            "--release",
            "-p",
            "switchboard-daemon",
            "--bin",
            "switchboard",
        ]))?;
        // Built out here too: the namespace has no network, and cargo may want the index.
        crate::demo_page::build_site()?;
        let ns = Namespace::create("bb")?;
        return exec(
            ns.command(std::env::current_exe()?)
                .args(["bench", "browser", "--"])
                .args(only),
        );
    }
    let bin = crate::target_dir().join("release/switchboard");
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let daemon = daemon::start(
        &bin,
        &tmp.path().join("daemon"),
        &[
            "/ip4/127.0.0.1/tcp/0/ws",
            &format!("/ip4/{}/udp/0/webrtc-direct", netns::HOST),
        ],
        &[],
    )?;
    let mut cids = Vec::with_capacity(BLOCKS);
    for i in 0..BLOCKS {
        cids.push(daemon.put(&crate::browser::bulk_block(i))?);
    }
    let cids = cids.join(",");
    let switchboard = Server::start(&crate::demo_page::build_site()?)?;
    let helia = Server::start(&crate::helia::build_browser_site()?)?;
    let browser = Browser::start()?;
    let megabytes = (BLOCKS * BLOCK_SIZE) as f64 / 1e6;
    println!(
        "{BLOCKS} x {} KiB = {megabytes:.1} MB fetched at once by a page in headless Chromium from a switchboard daemon, median of {ROUNDS}",
        BLOCK_SIZE / 1024
    );
    println!(
        "{:<14} {:>18} {:>18} {:>8}",
        "transport", "switchboard-js", "Helia", "ratio"
    );
    for transport in TRANSPORTS {
        if !only.is_empty() && !only.iter().any(|o| o == transport) {
            continue;
        }
        let addr = daemon::addr(&daemon, transport)?;
        let our_page = format!("dial.html?addr={addr}&cids={cids}");
        let their_page = format!("index.html?addr={addr}&cids={cids}");
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..ROUNDS {
            ours.push(
                fetch(&browser, switchboard.port, &our_page)
                    .with_context(|| format!("switchboard-js over {transport}"))?,
            );
            theirs.push(
                fetch(&browser, helia.port, &their_page)
                    .with_context(|| format!("Helia over {transport}"))?,
            );
        }
        let (ours, theirs) = (median(ours), median(theirs));
        let rate = |d: Duration| megabytes / d.as_secs_f64();
        println!(
            "{transport:<14} {:>13.1} MB/s {:>13.1} MB/s {:>7.2}x",
            rate(ours),
            rate(theirs),
            rate(ours) / rate(theirs)
        );
    }
    Ok(())
}

/// Opens a fetching page served on `port`; how long the fetch took, as the page measured it.
fn fetch(browser: &Browser, port: u16, page: &str) -> anyhow::Result<Duration> {
    let result = browser.page_result(&format!("http://127.0.0.1:{port}/{page}"), DEADLINE)?;
    anyhow::ensure!(
        result["ok"] == true && result["bytes"].as_u64() == Some((BLOCKS * BLOCK_SIZE) as u64),
        "the page failed: {result}"
    );
    let ms = result["fetchMs"].as_f64().context("no fetchMs")?;
    Ok(Duration::from_secs_f64(ms / 1e3))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
