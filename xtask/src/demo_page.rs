//! `cargo xtask demo-page`: the browser demo in `examples/browser/`, on the JS package
//! `switchboard-js`, against a real daemon.
//!
//! Builds the package (wasm32, `web` profile, then wasm-bindgen's `--target web` glue), puts
//! the page and the package in `target/browser-demo/`, starts a daemon listening on `/ws` that
//! holds the seed's block and 4 MiB of test data and serves as a circuit relay, and serves the
//! page on 127.0.0.1. With `--serve` it prints the address for a person to open (in two tabs,
//! to connect them) and waits; otherwise, in a network namespace of its own, it opens the page
//! in headless Chromium the way a person would use it (connect, listen through the daemon,
//! fetch, put, fetch the test data), then the page again in a second Chromium, which dials the
//! first over WebRTC and fetches the block it put, and quits, which the first page must notice;
//! it checks what the pages show, saves a screenshot and prints the figures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::browser::{wasm_cargo, wasm_target_args};
use crate::daemon;
use crate::netns::Namespace;
use crate::webdriver::Browser;
use crate::{exec, root, target_dir};

/// The seed's block, which the page fetches by CID.
const SEED: &[u8] = b"here is some data";
/// Test data the page fetches to measure throughput: blocks of 256 KiB.
const TEST_BLOCKS: usize = 16;
const TEST_BLOCK_SIZE: usize = 256 * 1024;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Serve the page until interrupted instead of checking it.
    #[arg(long)]
    serve: bool,
    /// Where to save the screenshot of the checked page (default
    /// `target/browser-demo/screenshot.png`).
    #[arg(long, value_name = "PATH")]
    screenshot: Option<PathBuf>,
}

impl Args {
    /// Check the page, screenshot in the default place (what `ci` runs).
    pub(crate) fn check() -> Self {
        Self {
            serve: false,
            screenshot: None,
        }
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    if !args.serve && !Namespace::inside() {
        // WebRTC between the pages stays off the real interfaces, and Chromium gathers ICE
        // candidates only with a default route: the check runs in a namespace, built and
        // installed out here.
        crate::install::wasm_toolchain()?;
        build_site()?;
        crate::switchboard()?;
        let ns = Namespace::create("dp")?;
        let mut inside = ns.command(std::env::current_exe()?);
        inside.arg("demo-page");
        if let Some(path) = &args.screenshot {
            inside.arg("--screenshot").arg(path);
        }
        return exec(&mut inside);
    }
    if !Namespace::inside() {
        crate::install::wasm_toolchain()?;
    }
    let site = match Namespace::inside() {
        true => site_dir(),
        false => build_site()?,
    };
    let bin = crate::switchboard()?;
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let daemon = daemon::start_with(
        &bin,
        &tmp.path().join("daemon"),
        &["/ip4/127.0.0.1/tcp/0/ws"],
        &[],
        &["--profile", "relay"],
    )?;
    let seed = daemon.put(SEED)?;
    let test_data = (0..TEST_BLOCKS)
        .map(|i| daemon.put(&vec![i as u8; TEST_BLOCK_SIZE]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let server = Server::start(&site)?;
    let url = format!(
        "http://127.0.0.1:{}/index.html?daemon={}&cid={seed}&bench={}",
        server.port,
        daemon::addr(&daemon, "ws")?,
        test_data.join(",")
    );
    if args.serve {
        println!("\nOpen {url}\n(Ctrl-C stops the daemon and the server.)");
        loop {
            std::thread::park();
        }
    }
    let screenshot = args
        .screenshot
        .clone()
        .unwrap_or_else(|| site.join("screenshot.png"));
    let first = check(&format!("{url}&auto=1&listen=1"), &screenshot)?;
    let second = second_tab(&url, &first)?;
    gone(&first, second)
}

/// The second page's Chromium quits; the first page sees its peer go (the circuit ends with the
/// second page's connection to the relay, the WebRTC connection once ICE stops hearing from it)
/// within a minute.
fn gone(first: &FirstPage, second: SecondPage) -> anyhow::Result<()> {
    let count = format!(
        "return [...document.querySelectorAll('#events li')].filter((li) => li.textContent === 'disconnected {}').length",
        second.peer
    );
    let before = first.browser.eval(&count)?.as_u64().unwrap_or(0);
    let started = std::time::Instant::now();
    drop(second.browser);
    let seen = first
        .browser
        .wait_for(&format!("{count} > {before}"), Duration::from_secs(60));
    seen.context("the first page did not notice the second one was gone")?;
    println!(
        "page: the second page gone after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the first page left for a second one: its `/webrtc` address, and the block it put.
struct FirstPage {
    addr: String,
    cid: String,
    browser: Browser,
}

/// The second page: its peer id, and its Chromium.
struct SecondPage {
    peer: String,
    browser: Browser,
}

/// The page in a second Chromium, as a second person would open it: it dials the first page's
/// address (through the daemon as a relay, then directly over WebRTC) and fetches the block the
/// first page put.
fn second_tab(url: &str, first: &FirstPage) -> anyhow::Result<SecondPage> {
    let browser = Browser::start()?;
    browser.open(&format!(
        "{}&auto=1&peer={}&cid={}",
        url.split("&cid=").next().unwrap_or(url),
        first.addr,
        first.cid
    ))?;
    let done = browser.wait_for("return document.body.dataset.done", Duration::from_secs(90));
    let text = |id: &str| -> anyhow::Result<String> {
        let value = browser.eval(&format!(
            "return document.getElementById('{id}').textContent"
        ))?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    };
    let (peer, fetched) = (text("peer-state")?, text("fetched")?);
    println!(
        "second page: {peer}
second page: {fetched}"
    );
    done.context("the second page did not finish")?;
    anyhow::ensure!(peer.ends_with("over WebRTC"), "not over WebRTC: {peer}");
    anyhow::ensure!(
        fetched.ends_with("hello from the browser"),
        "the first page's block was not fetched: {fetched}"
    );
    Ok(SecondPage {
        peer: text("peer-id")?,
        browser,
    })
}

/// Where [`build_site`] puts the site.
pub(crate) fn site_dir() -> PathBuf {
    target_dir().join("browser-demo")
}

/// Builds the JS package and assembles the pages of `examples/browser/`; the site's
/// directory.
pub(crate) fn build_site() -> anyhow::Result<PathBuf> {
    exec(
        wasm_cargo()
            .args([
                "build",
                "--locked",
                "-p",
                "switchboard-js",
                "--profile",
                "web",
            ])
            .args(wasm_target_args()),
    )?;
    let wasm = target_dir().join("wasm32-unknown-unknown/web/switchboard_js.wasm");
    let site = site_dir();
    exec(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--out-dir"])
            .arg(site.join("pkg"))
            .arg(&wasm),
    )?;
    for file in [
        "index.html",
        "main.js",
        "style.css",
        "dial.html",
        "dial.js",
        "listen.html",
        "listen.js",
    ] {
        std::fs::copy(root().join("examples/browser").join(file), site.join(file))
            .with_context(|| format!("cannot copy {file}"))?;
    }
    let glued = site.join("pkg/switchboard_js_bg.wasm");
    println!(
        "switchboard-js: {} bytes of wasm, {} gzipped (gzip -9)",
        std::fs::metadata(&glued)?.len(),
        gzipped_size(&glued)?
    );
    Ok(site)
}

fn gzipped_size(path: &Path) -> anyhow::Result<usize> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .context("cannot run gzip")?;
    anyhow::ensure!(out.status.success(), "gzip failed");
    Ok(out.stdout.len())
}

/// Uses the page in headless Chromium as a person would, checks what it shows and saves a
/// screenshot; what a second page needs from it (the Chromium stays up with it).
fn check(url: &str, screenshot: &Path) -> anyhow::Result<FirstPage> {
    let browser = Browser::start()?;
    browser.open(url)?;
    let text = |id: &str| -> anyhow::Result<String> {
        let value = browser.eval(&format!(
            "return document.getElementById('{id}').textContent"
        ))?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    };
    let done = browser.wait_for("return document.body.dataset.done", Duration::from_secs(90));
    std::fs::write(screenshot, browser.screenshot()?)?;
    println!("screenshot: {}", screenshot.display());
    let (state, fetched, put, bench) = (
        text("state")?,
        text("fetched")?,
        text("put")?,
        text("bench-result")?,
    );
    println!("page: state: {state}\npage: {fetched}\npage: {put}\npage: test data: {bench}");
    done.context("the page did not finish")?;
    anyhow::ensure!(state.starts_with("connected"), "not connected: {state}");
    anyhow::ensure!(
        fetched.ends_with(std::str::from_utf8(SEED)?),
        "the seed's block was not fetched: {fetched}"
    );
    anyhow::ensure!(put.starts_with("put bafk"), "the put failed: {put}");
    anyhow::ensure!(
        bench.ends_with("MB/s"),
        "the test data was not fetched: {bench}"
    );
    let addr = text("my-addr")?;
    println!("page: listening at {addr}");
    anyhow::ensure!(
        addr.contains("/webrtc/"),
        "not listening on /webrtc: {addr}"
    );
    let cid = put
        .strip_prefix("put ")
        .and_then(|rest| rest.split_whitespace().next())
        .context("no CID in what the page put")?
        .to_owned();
    Ok(FirstPage { addr, cid, browser })
}

/// `python3 -m http.server` on 127.0.0.1 and a free port, serving `dir`; stopped when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
}

impl Server {
    pub(crate) fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start python3 -m http.server")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("piped stdout")?).read_line(&mut line)?;
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("no port in {line:?}"))?;
        Ok(Self { child, port })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
