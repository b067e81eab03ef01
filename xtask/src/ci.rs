//! `cargo xtask ci`.

use std::process::Command;
use std::time::Instant;

use crate::netns::Namespace;
use crate::{cargo, exec};

/// Debian packages the tests need on a fresh machine: `ip` for the network namespaces, `nft`
/// for the NAT routers of the hole-punching test.
const TOOLS: &[&str] = &["iproute2", "nftables"];

pub(crate) fn run() -> anyhow::Result<()> {
    // Everything is installed up front: the later steps run partly in network namespaces.
    crate::install::debian(TOOLS)?;
    crate::install::helia_node()?;
    crate::install::helia_browser()?;
    crate::install::kubo()?;
    crate::install::wasm_toolchain()?;
    step("fmt", || {
        exec(cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    step("clippy", || {
        exec(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("no tokio in a smol and async-std build", no_tokio)?;
    step("test", || {
        exec(cargo().args(["test", "--workspace", "--locked"]))
    })?;
    step("fuzz (10 s per target)", || {
        crate::fuzz::fuzz(crate::fuzz::TARGETS, 10)
    })?;
    step("browser (wasm32 node in headless Chromium)", || {
        crate::browser::run(&crate::browser::Args::default())
    })?;
    step("demo page (switchboard-js in headless Chromium)", || {
        crate::demo_page::run(&crate::demo_page::Args::check())
    })?;
    // Steps whose nodes may speak WebRTC or mDNS run in a network namespace of their own.
    step("demo (in a network namespace)", || {
        let ns = Namespace::create("demo")?;
        exec(ns.command(crate::switchboard()?).arg("demo"))
    })?;
    for runtime in RUNTIMES {
        for example in ["direct_dial", "block_exchange", "through_a_relay"] {
            step(&format!("example {example} on {runtime}"), || {
                exec(cargo().args([
                    "run",
                    "--locked",
                    "-q",
                    "-p",
                    "switchboard-examples",
                    "--example",
                    example,
                    "--",
                    "--runtime",
                    runtime,
                ]))
            })?;
        }
        step(
            &format!("example discover_localhost on {runtime} (in a network namespace)"),
            || discover_in_namespace(runtime),
        )?;
    }
    step("matrix (in a network namespace)", || {
        exec(
            Command::new(std::env::current_exe()?)
                .arg("matrix")
                .arg("--json")
                .arg(crate::target_dir().join("matrix.json")),
        )
    })?;
    println!("\nxtask ci: every step passed");
    Ok(())
}

/// A node built for smol and async-std only links no tokio; with QUIC, tokio's sync
/// primitives only, through quinn (it uses them on every runtime). Then that build passes
/// clippy: the cfgs that keep tokio out still compile.
fn no_tokio() -> anyhow::Result<()> {
    let dependents = |features: &str| -> anyhow::Result<String> {
        let output = cargo()
            .args([
                "tree",
                "--locked",
                "-p",
                "switchboard-node",
                "--no-default-features",
            ])
            .args([
                "--features",
                features,
                "-e",
                "normal",
                "-i",
                "tokio",
                "--depth",
                "1",
            ])
            .args(["--prefix", "none", "--format", "{p} [{f}]"])
            .output()?;
        anyhow::ensure!(output.status.success(), "cargo tree failed: {output:?}");
        Ok(String::from_utf8(output.stdout)?)
    };
    let bare = dependents("smol,async-std")?;
    anyhow::ensure!(
        bare.trim().is_empty(),
        "a smol and async-std build links tokio:\n{bare}"
    );
    let quic = dependents("smol,async-std,quic")?;
    let mut lines = quic.lines().filter(|l| !l.trim().is_empty());
    let tokio = lines.next().unwrap_or_default();
    let others: Vec<&str> = lines.filter(|l| !l.starts_with("quinn ")).collect();
    let features = tokio
        .split_once('[')
        .map(|(_, f)| f.trim_end_matches(']'))
        .unwrap_or_default();
    anyhow::ensure!(
        others.is_empty()
            && features
                .split(',')
                .all(|f| ["default", "sync"].contains(&f)),
        "with QUIC, tokio should come from quinn only, with its sync primitives:\n{quic}"
    );
    println!("smol, async-std: no tokio; with QUIC: {tokio}, through quinn only");
    for features in ["smol,async-std", "smol,async-std,quic"] {
        exec(
            cargo()
                .args(["clippy", "--locked", "-p", "switchboard-node"])
                .args([
                    "--no-default-features",
                    "--features",
                    features,
                    "--",
                    "-D",
                    "warnings",
                ]),
        )?;
    }
    Ok(())
}

/// The runtimes every example runs on.
const RUNTIMES: [&str; 3] = ["tokio", "smol", "async-std"];

fn step(name: &str, f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    println!("\n==> {name}");
    let started = Instant::now();
    let result = f();
    println!(
        "<== {name}: {} in {:.1} s",
        if result.is_ok() { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    result
}

/// Runs the mDNS example inside a network namespace of its own, whose only link is a veth pair
/// with both ends inside, so its multicast never reaches a real interface.
fn discover_in_namespace(runtime: &str) -> anyhow::Result<()> {
    let example = crate::example("discover_localhost")?;
    let ns = Namespace::create("ex")?;
    exec(ns.command(example).args(["--runtime", runtime]))
}
