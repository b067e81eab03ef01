//! `cargo xtask browser`: the node built for `wasm32-unknown-unknown` and tested in headless
//! Chromium against a real daemon.
//!
//! The toolchain comes from Debian and crates.io, installed when missing (see
//! `../shared/notes/wasm-browser-recipe.md` and [`crate::install::wasm_toolchain`]): Debian's
//! `rustc-web` with its std sources (rustup cannot add targets here, so std is built with
//! `-Zbuild-std`), `rust-web-llvm` and `lld-22` behind its `rust-lld`, `chromium` and
//! `chromium-driver`, and `wasm-bindgen-cli` at the exact version of wasm-bindgen in
//! Cargo.lock.
//!
//! The run: a daemon listening on `/ws` and `/wss` (self-signed; the test Chromium ignores
//! certificate errors), one block put on it, and one `switchboard block get` per transport
//! waiting in the background for the block the page will put; then `node/tests/browser.rs`
//! in Chromium fetches the daemon's block and puts its own; finally each background get must
//! have printed the page's bytes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::daemon::{self, DEADLINE, Daemon};
use crate::demo_page::Server;
use crate::netns::{self, Namespace};
use crate::webdriver::Browser;
use crate::{exec, root};

/// What the daemon serves; `node/tests/browser.rs` knows it too.
const DAEMON_BLOCK: &[u8] = b"served by the switchboard daemon";
/// Bulk blocks on the daemon (`node/tests/browser.rs` makes the same): more than one WebRTC
/// message holds, and more than js-libp2p lets wait unread on a stream (4 MiB) in all.
const BULK_BLOCKS: usize = 24;
/// The transports the page dials the daemon over, as `node/tests/browser.rs` names them.
const TRANSPORTS: [&str; 3] = ["ws", "wss", "webrtc-direct"];

/// Bulk block `i` of 256 KiB: its index (little-endian u64), then zeros. The browser bench
/// fetches these too.
pub(crate) fn bulk_block(i: usize) -> Vec<u8> {
    let mut block = vec![0; 256 * 1024];
    block[..8].copy_from_slice(&(i as u64).to_le_bytes());
    block
}

/// What the page puts over `transport`; `node/tests/browser.rs` makes the same text.
fn browser_block(transport: &str) -> String {
    format!("put by the switchboard browser node over {transport}")
}

/// `cargo xtask browser` options.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Args {
    /// Only Helia in Chromium against the daemon (no wasm build, no Switchboard page):
    /// for working on interop.
    #[arg(long)]
    helia_only: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    if !Namespace::inside() {
        // Everything that may download (packages, crates) happens out here; the run itself
        // is in a namespace, where WebRTC's multicast stays and Chromium has a default route.
        if !args.helia_only {
            crate::install::wasm_toolchain()?;
        }
        crate::install::helia_browser()?;
        crate::switchboard()?;
        if !args.helia_only {
            clippy()?;
            exec(tests().arg("--no-run"))?;
        }
        let ns = Namespace::create("br")?;
        let mut inside = ns.command(std::env::current_exe()?);
        inside.arg("browser");
        if args.helia_only {
            inside.arg("--helia-only");
        }
        return exec(&mut inside);
    }
    let bin = crate::switchboard()?;
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let daemon = daemon::start(
        &bin,
        &tmp.path().join("daemon"),
        &[
            "/ip4/127.0.0.1/tcp/0/ws",
            "/ip4/127.0.0.1/tcp/0/wss",
            // Chromium's ICE checks come from its host candidate, which loopback is not.
            &format!("/ip4/{}/udp/0/webrtc-direct", netns::HOST),
        ],
        &[],
    )?;
    let daemon_cid = daemon.put(DAEMON_BLOCK)?;
    let bulk = (0..BULK_BLOCKS)
        .map(|i| daemon.put(&bulk_block(i)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.helia_only {
        return helia_in_chromium(&daemon, &daemon_cid, &bulk);
    }
    let scratch = tmp.path().join("scratch");
    let mut waiting = Vec::new();
    for transport in TRANSPORTS {
        let cid = offline_cid(&bin, &scratch, browser_block(transport).as_bytes())?;
        let get = daemon
            .command(&["block", "get", &cid, "--timeout", "10m"])
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start switchboard block get")?;
        waiting.push((transport, get));
    }

    let tests = tests()
        .env(
            "SWITCHBOARD_BROWSER_WS",
            daemon::addr(&daemon, "ws")?.to_string(),
        )
        .env(
            "SWITCHBOARD_BROWSER_WSS",
            daemon::addr(&daemon, "wss")?.to_string(),
        )
        .env(
            "SWITCHBOARD_BROWSER_WEBRTC_DIRECT",
            daemon::addr(&daemon, "webrtc-direct")?.to_string(),
        )
        .status()
        .context("cannot run the browser tests")?;
    // Every background get is reaped, whatever the others did.
    let fetched: Vec<anyhow::Result<()>> = waiting
        .into_iter()
        .map(|(transport, get)| check_fetched(transport, get, tests.success()))
        .collect();
    anyhow::ensure!(tests.success(), "the browser tests failed");
    fetched.into_iter().collect::<anyhow::Result<()>>()?;
    helia_in_chromium(&daemon, &daemon_cid, &bulk)
}

/// Helia (js-libp2p 3, `interop/browser/`) in a Chromium page, a third-party browser client:
/// it dials the daemon over ws, then over WebRTC-direct, and fetches the daemon's block and the
/// bulk blocks each time. WebRTC-direct needs the FIN_ACK of `patches/libp2p-webrtc-utils`:
/// js-libp2p waits for it on every stream it closes, Helia's Bitswap before it reads a message
/// (and it gives up on a stream with 4 MiB unread).
fn helia_in_chromium(daemon: &Daemon, cid: &str, bulk: &[String]) -> anyhow::Result<()> {
    let site = crate::helia::build_browser_site()?;
    let server = Server::start(&site)?;
    let browser = Browser::start()?;
    for transport in ["ws", "webrtc-direct"] {
        let url = format!(
            "http://127.0.0.1:{}/index.html?addr={}&cid={cid}&cids={}",
            server.port,
            daemon::addr(daemon, transport)?,
            bulk.join(",")
        );
        let result = browser.page_result(&url, DEADLINE)?;
        let bytes = DAEMON_BLOCK.len() + bulk.len() * bulk_block(0).len();
        anyhow::ensure!(
            result["ok"] == true
                && result["data"].as_str() == std::str::from_utf8(DAEMON_BLOCK).ok()
                && result["bytes"].as_u64() == Some(bytes as u64),
            "Helia in Chromium over {transport}: {result}"
        );
        println!(
            "Helia in Chromium fetched the daemon's {} blocks ({bytes} bytes) over {transport}: connect {:.1} ms, fetch {:.1} ms",
            bulk.len() + 1,
            result["connectMs"].as_f64().unwrap_or_default(),
            result["fetchMs"].as_f64().unwrap_or_default()
        );
    }
    Ok(())
}

/// Clippy on what builds for wasm32 (the browser code is invisible to the native clippy run),
/// with warnings as errors.
fn clippy() -> anyhow::Result<()> {
    for targets in [
        &["-p", "switchboard-node", "--lib", "--test", "browser"][..],
        &[
            "-p",
            "switchboard-js",
            "-p",
            "switchboard-transport",
            "-p",
            "switchboard-exchange",
            "--lib",
        ],
    ] {
        exec(
            wasm_cargo()
                .args(["clippy", "--locked"])
                .args(targets)
                .args(wasm_target_args())
                .args(["--", "-D", "warnings"]),
        )?;
    }
    Ok(())
}

/// `cargo test` of `node/tests/browser.rs` for wasm32, run by wasm-bindgen-test-runner in
/// Chromium.
fn tests() -> Command {
    let mut command = wasm_cargo();
    command
        .args([
            "test",
            "--locked",
            "-p",
            "switchboard-node",
            "--test",
            "browser",
        ])
        .args(wasm_target_args())
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("CHROMEDRIVER", "/usr/bin/chromedriver");
    command
}

/// The CID `switchboard block put` gives `data`, from a scratch repo with no daemon.
fn offline_cid(bin: &Path, repo: &Path, data: &[u8]) -> anyhow::Result<String> {
    let switchboard = daemon::switchboard(bin);
    if !repo.exists() {
        switchboard.init(repo)?;
    }
    switchboard.block_put(&[], repo, data)
}

/// Waits for a background `block get` and checks it printed the page's block. When the tests
/// failed, a get still running is stopped rather than waited for.
fn check_fetched(transport: &str, mut get: Child, wait: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    while wait && started.elapsed() < DEADLINE && get.try_wait()?.is_none() {
        std::thread::park_timeout(std::time::Duration::from_millis(20));
    }
    if get.try_wait()?.is_none() {
        let _ = get.kill();
        let _ = get.wait();
        bail!("the daemon did not fetch the block the page put over {transport}");
    }
    let out = get.wait_with_output()?;
    anyhow::ensure!(
        out.status.success() && out.stdout == browser_block(transport).as_bytes(),
        "the daemon's block get over {transport} printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    println!("the daemon fetched the page's block over {transport}");
    Ok(())
}

/// `cargo` of the Debian toolchain, which builds std for wasm32 (`-Zbuild-std` needs nightly
/// features, which `RUSTC_BOOTSTRAP` unlocks on this stable compiler).
pub(crate) fn wasm_cargo() -> Command {
    let mut command = Command::new("rustup");
    command
        .args(["run", crate::install::WASM_TOOLCHAIN, "cargo"])
        .env("RUSTC_BOOTSTRAP", "1")
        .envs(crate::install::WASM_CC)
        .current_dir(root());
    command
}

pub(crate) fn wasm_target_args() -> [&'static str; 3] {
    [
        "--target",
        "wasm32-unknown-unknown",
        "-Zbuild-std=std,panic_abort",
    ]
}
