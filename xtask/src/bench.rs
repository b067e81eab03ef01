//! `cargo xtask bench <name>`: runs a benchmark of the workspace, built with the bench
//! (release) profile. Benchmarks print their own table; none runs in `ci`, since wall times on
//! shared machines are figures to read, not assertions.

use crate::{cargo, exec};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which benchmark.
    name: Bench,
    /// Passed to the benchmark: the exchange bench takes transport and store names
    /// (`tcp`, `quic-v1`, `memory`, `redb`, `helia`) to run only those rows, the browser bench
    /// transport names (`ws`, `webrtc-direct`).
    #[arg(last = true)]
    filters: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Bench {
    /// Bitswap fetch of 256 MiB in 256 KiB blocks over TCP and QUIC, with the raw perf-protocol
    /// throughput of the same transport and Helia fetching from Helia, side by side.
    Exchange,
    /// A page in headless Chromium fetching 16 MiB from a daemon over ws and WebRTC-direct:
    /// switchboard-js next to Helia.
    Browser,
    /// One daemon serving 10, then 1,000 concurrent fetching peers over loopback TCP: errors,
    /// peak RSS, aggregate throughput.
    Scale,
    /// Round trips from dial to first block through a delaying proxy, TCP and QUIC, next to
    /// Helia.
    Latency,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    match args.name {
        Bench::Browser => crate::browser_bench::run(&args.filters),
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
