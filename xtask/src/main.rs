//! `cargo xtask`: the project's automation, in Rust.
//!
//! - `cargo xtask ci`: what `.ci/run` runs: installs missing system tools, then fmt, clippy,
//!   the tests (doc tests included), the demo, the examples and the matrix.
//! - `cargo xtask browser`: the node built for wasm32, tested in headless Chromium against a
//!   daemon (installs Debian's wasm toolchain, Chromium and wasm-bindgen-cli when missing).
//! - `cargo xtask demo-page [--serve]`: the browser demo page (`examples/browser/`) on the JS
//!   package against a daemon, checked in headless Chromium or served for a person.
//! - `cargo xtask matrix [--only PATTERN] [--json PATH]`: real processes for every environment
//!   pair x transport x implementation, a table of pass/fail and connect times.
//! - `cargo xtask bench exchange`: Bitswap throughput next to raw streams and Helia;
//!   `cargo xtask bench browser`: a page fetching from a daemon, switchboard-js next to Helia;
//!   `cargo xtask bench scale`: one daemon serving 1,000 peers; `cargo xtask bench latency`:
//!   round trips from dial to first block under an injected delay.
//! - `cargo xtask fuzz [TARGET] [--time S]`: the fuzz targets of `fuzz/` (cargo-fuzz).
//! - `cargo xtask proto`: regenerates the committed Rust code of the `.proto` schemas.

mod bench;
mod browser;
mod browser_bench;
mod ci;
mod daemon;
mod demo_page;
mod fuzz;
mod helia;
mod install;
mod kubo;
mod matrix;
mod netns;
mod proto;
mod webdriver;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Everything CI checks, in order; stops at the first failure.
    Ci,
    /// The node in a web page: builds it for wasm32 and runs its tests in headless Chromium
    /// against a daemon (installs the toolchain and Chromium when missing).
    Browser(browser::Args),
    /// The browser demo page on the JS package, against a daemon: checked in headless
    /// Chromium (screenshot and figures), or served for a person with `--serve`.
    DemoPage(demo_page::Args),
    /// The cross-environment connection matrix.
    Matrix(matrix::Args),
    /// Benchmarks, built optimised; prints a table of figures measured side by side.
    Bench(bench::Args),
    /// Fuzz targets for what peers and clients control (installs cargo-fuzz).
    Fuzz(fuzz::Args),
    /// Regenerates the Rust code of the protobuf schemas (needs `protoc`).
    Proto,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Ci => ci::run(),
        Task::Browser(args) => browser::run(&args),
        Task::DemoPage(args) => demo_page::run(&args),
        Task::Matrix(args) => matrix::main(&args),
        Task::Proto => proto::run(),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it). Read from the environment `cargo run`
/// sets, not baked in at compile time: a build directory shared by several clones (CI's cache)
/// may hold an xtask compiled in another clone.
fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask is inside the workspace")
        .to_owned()
}

/// `cargo`, the same one that runs xtask.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs `command`, failing with its name when it fails.
fn exec(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    anyhow::ensure!(status.success(), "{command:?} failed with {status}");
    Ok(())
}

/// Builds the `switchboard` binary (debug); its path.
fn switchboard() -> anyhow::Result<PathBuf> {
    switchboard_built(false)
}

/// Builds the `switchboard` binary, optimised (as benchmarks run it) if `release`; its path.
fn switchboard_built(release: bool) -> anyhow::Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "--locked", "-q"]);
    if release {
        build.arg("--release");
    }
    exec(build.args(["-p", "switchboard-daemon", "--bin", "switchboard"]))?;
    let profile = if release { "release" } else { "debug" };
    Ok(target_dir().join(profile).join("switchboard"))
}

/// Builds an example of switchboard-examples (debug); its path.
fn example(name: &str) -> anyhow::Result<PathBuf> {
    exec(cargo().args([
        "build",
        "--locked",
        "-q",
        "-p",
        "switchboard-examples",
        "--example",
        name,
    ]))?;
    Ok(target_dir().join("debug/examples").join(name))
}

/// Where cargo puts build output.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}
