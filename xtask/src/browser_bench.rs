//! `cargo xtask bench browser`: a web page fetching blocks from a daemon, switchboard-js next
//! to Helia in the same Chromium, over ws, WebRTC-direct (the daemon's webrtc-rs) and `/webrtc`
//! (the daemon's str0m, signalled through a relay daemon): the two native WebRTC stacks against
//! the same browser, and each client's time from dial to connection.
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
use crate::exec;
use crate::netns::{self, Namespace};
use crate::webdriver::Browser;

/// Blocks the pages fetch, each [`BLOCK_SIZE`] bytes.
const BLOCKS: usize = 64;
/// 256 KiB, the usual chunk size of UnixFS importers ([`crate::browser::bulk_block`]).
const BLOCK_SIZE: usize = 256 * 1024;
/// Fetches per client and transport; the table shows their median.
const ROUNDS: usize = 3;
const TRANSPORTS: [&str; 3] = ["ws", "webrtc-direct", "webrtc"];

/// Runs the bench; `only` names transports to run (all when empty).
pub(crate) fn run(only: &[String]) -> anyhow::Result<()> {
    if !Namespace::inside() {
        crate::install::wasm_toolchain()?;
        crate::install::helia_browser()?;
        crate::switchboard_built(true)?;
        // Built out here too: the namespace has no network, and cargo may want the index.
        crate::demo_page::build_site()?;
        let ns = Namespace::create("bb")?;
        return exec(
            ns.command(std::env::current_exe()?)
                .args(["bench", "browser", "--"])
                .args(only),
        );
    }
    let bin = crate::switchboard_built(true)?;
    let tmp = tempfile::tempdir().context("temporary directory")?;
    // `/webrtc` is signalled through a relay, which the pages reach over ws.
    let relay = daemon::start_relay(&bin, &tmp.path().join("relay"))?;
    let circuit = daemon::addr(&relay, "ws")?.with(multiaddr::Protocol::P2pCircuit);
    let daemon = daemon::start(
        &bin,
        &tmp.path().join("daemon"),
        &[
            "/ip4/127.0.0.1/tcp/0/ws",
            &format!("/ip4/{}/udp/0/webrtc-direct", netns::HOST),
            &circuit.to_string(),
            "/webrtc",
        ],
        &[],
    )?;
    let webrtc = daemon.wait_for_addr(DEADLINE, |a| {
        a.iter().take(circuit.iter().count()).eq(circuit.iter())
            && a.iter().any(|p| p == multiaddr::Protocol::WebRTC)
    })?;
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
        "{:<14} {:>18} {:>18} {:>8} {:>16} {:>16}",
        "transport", "switchboard-js", "Helia", "ratio", "connect (ours)", "connect (Helia)"
    );
    for transport in TRANSPORTS {
        if !only.is_empty() && !only.iter().any(|o| o == transport) {
            continue;
        }
        let addr = match transport {
            "webrtc" => webrtc.clone(),
            _ => daemon::addr(&daemon, transport)?,
        };
        let our_page = format!("dial.html?addr={addr}&cids={cids}");
        let debug = std::env::var("XTASK_PAGE_DEBUG")
            .map(|d| format!("&debug={d}"))
            .unwrap_or_default();
        let their_page = format!("index.html?addr={addr}&cids={cids}{debug}");
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
        let connects =
            |samples: &[(Duration, Duration)]| median(samples.iter().map(|s| s.0).collect());
        let fetches =
            |samples: &[(Duration, Duration)]| median(samples.iter().map(|s| s.1).collect());
        let (our_connect, their_connect) = (connects(&ours), connects(&theirs));
        let (ours, theirs) = (fetches(&ours), fetches(&theirs));
        let rate = |d: Duration| megabytes / d.as_secs_f64();
        println!(
            "{transport:<14} {:>13.1} MB/s {:>13.1} MB/s {:>7.2}x {:>13.1} ms {:>13.1} ms",
            rate(ours),
            rate(theirs),
            rate(ours) / rate(theirs),
            our_connect.as_secs_f64() * 1e3,
            their_connect.as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

/// Opens a fetching page served on `port`; how long its dial and its fetch took, as the page
/// measured them.
fn fetch(browser: &Browser, port: u16, page: &str) -> anyhow::Result<(Duration, Duration)> {
    // A slow transport may take a while over 16.8 MB; the pages give up after 60 s.
    let result = browser.page_result(&format!("http://127.0.0.1:{port}/{page}"), 3 * DEADLINE)?;
    anyhow::ensure!(
        result["ok"] == true && result["bytes"].as_u64() == Some((BLOCKS * BLOCK_SIZE) as u64),
        "the page failed: {result}"
    );
    let ms = |key: &str| -> anyhow::Result<Duration> {
        let ms = result[key].as_f64().with_context(|| format!("no {key}"))?;
        Ok(Duration::from_secs_f64(ms / 1e3))
    };
    // switchboard-js's dial page says `ms`, Helia's `connectMs`.
    let connect = ms("ms").or_else(|_| ms("connectMs"))?;
    Ok((connect, ms("fetchMs")?))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
