//! `cargo xtask ci`.

use std::process::Command;
use std::time::Instant;

use crate::netns::Namespace;
use crate::{cargo, exec};

/// System tools the tests need: (command, Debian package).
const TOOLS: &[(&str, &str)] = &[("ip", "iproute2")];

pub(crate) fn run() -> anyhow::Result<()> {
    install_missing_tools()?;
    install_js_peers()?;
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
    step("test", || {
        exec(cargo().args(["test", "--workspace", "--locked"]))
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
    step("example direct_dial", || {
        exec(cargo().args([
            "run",
            "--locked",
            "-q",
            "-p",
            "switchboard-examples",
            "--example",
            "direct_dial",
        ]))
    })?;
    step(
        "example discover_localhost (in a network namespace)",
        discover_in_namespace,
    )?;
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

fn has(command: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {command}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs the Debian packages of missing tools (CI runs as root on Debian).
fn install_missing_tools() -> anyhow::Result<()> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(cmd, _)| !has(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("==> installing {}", missing.join(" "));
    exec(Command::new("apt-get").arg("update").arg("-q"))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
    )
}

/// Runs the mDNS example inside a network namespace of its own, whose only link is a veth pair
/// with both ends inside, so its multicast never reaches a real interface.
fn discover_in_namespace() -> anyhow::Result<()> {
    exec(cargo().args([
        "build",
        "--locked",
        "-q",
        "-p",
        "switchboard-examples",
        "--example",
        "discover_localhost",
    ]))?;
    let example = crate::target_dir().join("debug/examples/discover_localhost");
    let ns = Namespace::create("ex")?;
    exec(&mut ns.command(example))
}

/// Installs the JavaScript peers the interop tests run (Helia, on a Node 22 from npm) from
/// their lockfile, unless `node_modules` already matches it.
pub(crate) fn install_js_peers() -> anyhow::Result<()> {
    install_npm_package("interop/helia", &[])
}

/// `npm ci` in the package at `path` (relative to the workspace) with `flags`, unless its
/// `node_modules` already matches its lockfile.
pub(crate) fn install_npm_package(path: &str, flags: &[&str]) -> anyhow::Result<()> {
    let dir = crate::root().join(path);
    let installed = dir.join("node_modules/.package-lock.json");
    let lock = dir.join("package-lock.json");
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    if installed.exists() && modified(&installed) >= modified(&lock) {
        return Ok(());
    }
    println!("==> npm ci in {}", dir.display());
    exec(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .args(flags)
            .current_dir(&dir),
    )
}
