//! `cargo xtask fuzz [TARGET] [--time S]`: the fuzz targets of `fuzz/` (cargo-fuzz, libFuzzer),
//! for what peers and clients control: Bitswap messages and the engine handling them, uvarint
//! framing, CIDs and block verification, filter rules and multiaddrs, `config.toml`, multipart
//! `block/put` through the real RPC router, and WebRTC message framing.
//!
//! Installs cargo-fuzz when missing. No nightly toolchain can be fetched here, so the targets
//! are built with the stable compiler (`RUSTC_BOOTSTRAP=1` for the unstable flags cargo-fuzz
//! passes) and without a sanitizer: libFuzzer's coverage guidance and Rust's own checks
//! (debug assertions, overflow checks, bounds) find the panics; there is no unsafe code of
//! ours for a sanitizer to watch. Corpora and crash artifacts live under the target
//! directory; a crash fails the run and names its input file.

use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;

use crate::{exec, root, target_dir};

/// The cargo-fuzz the targets are run with.
const CARGO_FUZZ: &str = "0.13.1";

/// Every target, as `fuzz/Cargo.toml` names them.
pub(crate) const TARGETS: &[&str] = &[
    "bitswap_message",
    "bitswap_engine",
    "uvarint_framing",
    "cid_block",
    "filter_rules",
    "config_toml",
    "block_put_multipart",
    "webrtc_framing",
];

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// One target (all when left out).
    target: Option<String>,
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    time: u64,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let targets: Vec<&str> = match &args.target {
        Some(t) => {
            anyhow::ensure!(
                TARGETS.contains(&t.as_str()),
                "no fuzz target {t}; the targets: {}",
                TARGETS.join(", ")
            );
            vec![t.as_str()]
        }
        None => TARGETS.to_vec(),
    };
    fuzz(&targets, args.time)
}

/// Runs each of `targets` for `seconds`; prints the executions of each.
pub(crate) fn fuzz(targets: &[&str], seconds: u64) -> anyhow::Result<()> {
    install()?;
    exec(&mut cargo_fuzz("build"))?;
    for target in targets {
        let corpus = target_dir().join("fuzz-corpus").join(target);
        let artifacts = target_dir().join("fuzz-artifacts").join(target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        let started = Instant::now();
        let out = cargo_fuzz("run")
            .arg(target)
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .output()
            .with_context(|| format!("cannot run cargo fuzz run {target}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow::bail!("fuzz target {target} failed:\n{}", tail.join("\n"));
        }
        let runs = log
            .lines()
            .find_map(|l| l.strip_prefix("Done ").and_then(|r| r.split(' ').next()))
            .unwrap_or("?")
            .to_owned();
        println!(
            "fuzz {target}: {runs} executions in {:.0} s, no crash",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `cargo fuzz SUBCOMMAND` on `fuzz/`, built in the shared target directory.
fn cargo_fuzz(subcommand: &str) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args(["fuzz", subcommand, "--sanitizer", "none", "--target-dir"])
        .arg(target_dir().join("fuzz"))
        .current_dir(root().join("fuzz"))
        .env("RUSTC_BOOTSTRAP", "1");
    command
}

/// Installs cargo-fuzz unless the pinned version is there.
fn install() -> anyhow::Result<()> {
    let have = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["fuzz", "--version"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if have.as_deref() == Some(&format!("cargo-fuzz {CARGO_FUZZ}")) {
        return Ok(());
    }
    println!("==> cargo install cargo-fuzz {CARGO_FUZZ} (found {have:?})");
    exec(crate::cargo().args([
        "install",
        "--locked",
        "cargo-fuzz",
        "--version",
        &format!("={CARGO_FUZZ}"),
    ]))
}
