//! `cargo xtask bench <name>`: runs a benchmark of the workspace, built with the bench
//! (release) profile. Benchmarks print their own table; none runs in `ci`, since wall times on
//! shared machines are figures to read, not assertions.

use std::process::Command;

use crate::{cargo, exec};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which benchmark.
    name: Bench,
    /// Passed to the benchmark: the exchange bench takes transport and store names
    /// (`tcp`, `quic-v1`, `memory`, `redb`, `helia`) to run only those rows, the browser bench
    /// transport names (`ws`, `webrtc-direct`, `webrtc`), the direct bench matrix patterns.
    #[arg(last = true)]
    filters: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Bench {
    /// Bitswap fetch of 256 MiB in 256 KiB blocks over TCP and QUIC, with the raw perf-protocol
    /// throughput of the same transport and Helia fetching from Helia, side by side.
    Exchange,
    /// A page in headless Chromium fetching 16 MiB from a daemon over ws, WebRTC-direct and
    /// `/webrtc`: switchboard-js next to Helia.
    Browser,
    /// One daemon serving 10, then 1,000 concurrent fetching peers over loopback TCP: errors,
    /// peak RSS, aggregate throughput.
    Scale,
    /// Round trips from dial to first block through a delaying proxy, TCP and QUIC, next to
    /// Helia.
    Latency,
    /// Time from dial to a direct connection on each path that starts relayed, five runs of
    /// each with optimised daemons: DCUtR between daemons behind NAT routers, and `/webrtc`
    /// between daemons, Switchboard pages and Helia pages, with the relayed connection alone
    /// (`p2p-circuit`) and WebRTC-direct (dialed directly) next to them. Filters, if any, are
    /// matrix patterns to run instead.
    Direct,
}

/// The matrix rows `bench direct` runs: every path through a relay.
const DIRECT_PATHS: [&str; 3] = ["over p2p-circuit", "over dcutr", "over webrtc"];

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    match args.name {
        Bench::Browser => crate::browser_bench::run(&args.filters),
        Bench::Direct => {
            let patterns: &[String] = if args.filters.is_empty() {
                &DIRECT_PATHS.map(String::from)
            } else {
                &args.filters
            };
            exec(
                Command::new(std::env::current_exe()?)
                    .args(["matrix", "--release", "--repeat", "5"])
                    .args(patterns.iter().flat_map(|p| ["--only", p.as_str()])),
            )
        }
        Bench::Latency => {
            crate::install::helia_node()?;
            exec(cargo().args([
                "bench",
                "--locked",
                "-p",
                "switchboard-node",
                "--bench",
                "latency",
            ]))
        }
        Bench::Scale => exec(cargo().args([
            "bench",
            "--locked",
            "-p",
            "switchboard-daemon",
            "--bench",
            "scale",
        ])),
        Bench::Exchange => {
            crate::install::helia_node()?;
            exec(
                cargo()
                    .args([
                        "bench",
                        "--locked",
                        "-p",
                        "switchboard-node",
                        "--bench",
                        "exchange",
                        "--",
                    ])
                    .args(&args.filters),
            )
        }
    }
}
