//! Command-line parsing and the commands that talk to a daemon over its RPC API.

/// `println!` for command output: a closed stdout (`switchboard … | head -1`) ends the
/// process quietly instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

mod block;
mod daemon;
mod demo;

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use switchboard_daemon::api::Client;
use switchboard_filters::Rule;
use switchboard_node::{InitProfile, Repo};

/// Connect peers in every environment IPFS and OrbitDB users run in.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    /// The repo directory.
    #[arg(long, global = true, env = "SWITCHBOARD_REPO", value_name = "DIR")]
    repo: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a repo: identity, config.toml and a self-signed certificate for /wss.
    Init {
        /// Starting configuration: `server` (standard ports on every interface, mDNS on) or
        /// `test` (127.0.0.1 port 0 everywhere, mDNS off).
        #[arg(long, value_enum, default_value = "server")]
        profile: ProfileArg,
    },
    /// Run a daemon on the repo; prints its listen addresses and writes DIR/api.
    Daemon(daemon::Args),
    /// Show the daemon's identity as JSON, like Kubo's `ipfs id`.
    Id,
    /// Manage connections.
    Swarm {
        #[command(subcommand)]
        command: SwarmCommand,
    },
    /// Store and fetch blocks, like Kubo's `ipfs block`.
    Block {
        #[command(subcommand)]
        command: block::BlockCommand,
    },
    /// Show what Bitswap has fetched and served, like Kubo's `ipfs bitswap stat`.
    Bitswap {
        #[command(subcommand)]
        command: BitswapCommand,
    },
    /// Ping a peer by multiaddr or peer id.
    Ping {
        /// A multiaddr (connected to first) or a peer id.
        #[arg(value_parser = parse_target)]
        target: Multiaddr,
        /// How many pings.
        #[arg(short = 'n', long, default_value = "10")]
        count: NonZeroU32,
    },
    /// Show or set a config.toml value by dotted key, like `ipfs config`; a running daemon
    /// picks changes up when it restarts.
    Config {
        /// The key, such as `discovery.mdns` or `websocket.trust`.
        key: String,
        /// The new value: a string, or JSON with `--json`.
        value: Option<String>,
        /// Parse the value as JSON (`true`, `10`, `["a", "b"]`).
        #[arg(long)]
        json: bool,
    },
    /// Measure raw stream throughput to a peer with the libp2p perf protocol (/perf/1.0.0).
    Perf {
        /// A multiaddr (connected to first) or a peer id.
        #[arg(value_parser = parse_target)]
        target: Multiaddr,
        /// Bytes to send.
        #[arg(long, default_value = "0")]
        upload_bytes: u64,
        /// Bytes to receive.
        #[arg(long, default_value = "67108864")]
        download_bytes: u64,
        /// Print libp2p perf's JSON line instead of a sentence.
        #[arg(long)]
        json: bool,
    },
    /// Stop the running daemon.
    Shutdown,
    /// Two nodes on temporary repos connect by multiaddr over tcp, quic-v1, ws, wss and
    /// webrtc-direct, and move a block.
    Demo,
}

#[derive(Debug, Subcommand)]
enum BitswapCommand {
    /// Counters, wantlist and partners.
    Stat {
        /// Print Kubo's JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SwarmCommand {
    /// Connect to a peer by multiaddr (ending in /p2p/<peer id> to check who answers).
    Connect {
        /// The peer's multiaddr.
        addr: Multiaddr,
    },
    /// List connected peers, one MULTIADDR/p2p/ID a line.
    Peers,
    /// List addresses.
    Addrs {
        #[command(subcommand)]
        command: AddrsCommand,
    },
    /// What the daemon has in use next to its limits (connections, streams, read budget).
    Resources {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AddrsCommand {
    /// The daemon's listen addresses.
    Local {
        /// Append /p2p/<peer id> to each.
        #[arg(long)]
        id: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProfileArg {
    Server,
    Test,
    Relay,
}

impl From<ProfileArg> for InitProfile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Server => InitProfile::Server,
            ProfileArg::Test => InitProfile::Test,
            ProfileArg::Relay => InitProfile::Relay,
        }
    }
}

/// Log lines to stderr, dropped when stderr is closed or nobody reads it: tracing-subscriber
/// reports a failed write with `eprintln!`, which panics on a broken stderr, and a daemon
/// started with its output closed died at its first log line.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// A ping target: a peer id becomes `/p2p/<id>`.
fn parse_target(s: &str) -> Result<Multiaddr, String> {
    if let Ok(peer) = PeerId::from_str(s) {
        return Ok(Multiaddr::empty().with(Protocol::P2p(peer)));
    }
    Multiaddr::from_str(s).map_err(|e| format!("not a peer id or multiaddr: {e}"))
}

/// A target as the API takes it: a bare peer id, or the multiaddr.
fn target_arg(target: &Multiaddr) -> String {
    match target.iter().collect::<Vec<_>>().as_slice() {
        [Protocol::P2p(peer)] => peer.to_string(),
        _ => target.to_string(),
    }
}

/// Parses a filter rule for clap.
pub(crate) fn parse_rule(s: &str) -> Result<Rule, String> {
    Rule::from_str(s).map_err(|e| e.to_string())
}

fn repo_dir(repo: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match repo {
        Some(dir) => Ok(dir),
        None => {
            let home = std::env::var_os("HOME").context("no --repo given and HOME is not set")?;
            Ok(PathBuf::from(home).join(".switchboard"))
        }
    }
}

pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Usage errors get one line, like every other error; help and version print as usual.
        Err(e) if e.use_stderr() => {
            let text = e.to_string();
            eprintln!(
                "{}",
                text.lines().next().unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // webrtc-rs warns about every ICE check before a pair forms and every packet
                // after a connection closes: routine, not the operator's concern.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(
                        "warn,webrtc=error,webrtc_ice=error,webrtc_sctp=error,dtls=error",
                    )
                }),
        )
        .with_writer(|| LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            use std::io::Write as _;
            // Not `eprintln!`, which panics when nobody reads stderr.
            let _ = writeln!(std::io::stderr(), "Error: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line.
fn chain(error: &anyhow::Error) -> String {
    switchboard_daemon::api::one_line(error.chain())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = repo_dir(cli.repo)?;
    match cli.command {
        Command::Init { profile } => {
            let repo = Repo::init(&dir, profile.into())?;
            outln!("initialized switchboard repo at {}", dir.display());
            outln!("peer identity: {}", repo.keypair().public().to_peer_id());
            Ok(())
        }
        Command::Daemon(args) => runtime()?.block_on(daemon::run(&dir, args)),
        Command::Demo => runtime()?.block_on(demo::run()),
        Command::Id => {
            let id = Client::for_repo(&dir)?.id()?;
            outln!("{}", serde_json::to_string_pretty(&id)?);
            Ok(())
        }
        Command::Swarm { command } => {
            let client = Client::for_repo(&dir)?;
            match command {
                SwarmCommand::Connect { addr } => {
                    for line in client.swarm_connect(&addr)? {
                        outln!("{line}");
                    }
                }
                SwarmCommand::Peers => {
                    for peer in client.swarm_peers()?.peers {
                        outln!("{}/p2p/{}", peer.addr, peer.peer);
                    }
                }
                SwarmCommand::Addrs {
                    command: AddrsCommand::Local { id },
                } => {
                    for addr in client.swarm_addrs_local(id)? {
                        outln!("{addr}");
                    }
                }
                SwarmCommand::Resources { json } => {
                    let resources = client.swarm_resources()?;
                    if json {
                        outln!("{}", serde_json::to_string_pretty(&resources)?);
                    } else {
                        outln!(
                            "{:<26} {:<20} {:>12} {:>12}",
                            "Scope",
                            "Resource",
                            "Usage",
                            "Limit"
                        );
                        for row in resources.rows {
                            let limit = row.limit.map_or("-".into(), |l| l.to_string());
                            outln!(
                                "{:<26} {:<20} {:>12} {:>12}",
                                row.scope,
                                row.resource,
                                row.usage,
                                limit
                            );
                        }
                    }
                }
            }
            Ok(())
        }
        Command::Ping { target, count } => {
            let arg = target_arg(&target);
            for line in Client::for_repo(&dir)?.ping(&arg, count.get())? {
                if !line.success {
                    anyhow::bail!("{}", line.text);
                }
                if line.text.is_empty() {
                    outln!("Pong received: time={:.2} ms", line.time as f64 / 1e6);
                } else {
                    outln!("{}", line.text);
                }
            }
            Ok(())
        }
        Command::Shutdown => Ok(Client::for_repo(&dir)?.shutdown()?),
        Command::Bitswap {
            command: BitswapCommand::Stat { json },
        } => {
            let stat = Client::for_repo(&dir)?.bitswap_stat()?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&stat)?);
            } else {
                // Kubo's layout.
                outln!("bitswap status");
                outln!("\tprovides buffer: {} / 256", stat.provide_buf_len);
                outln!("\tblocks received: {}", stat.blocks_received);
                outln!("\tblocks sent: {}", stat.blocks_sent);
                outln!("\tdata received: {}", stat.data_received);
                outln!("\tdata sent: {}", stat.data_sent);
                outln!("\tdup blocks received: {}", stat.dup_blks_received);
                outln!("\tdup data received: {} B", stat.dup_data_received);
                outln!("\twantlist [{} keys]", stat.wantlist.len());
                for link in &stat.wantlist {
                    outln!("\t\t{}", link.cid);
                }
                outln!("\tpartners [{}]", stat.peers.len());
            }
            Ok(())
        }
        Command::Block { command } => block::run(&dir, command),
        Command::Perf {
            target,
            upload_bytes,
            download_bytes,
            json,
        } => {
            let report =
                Client::for_repo(&dir)?.perf(&target_arg(&target), upload_bytes, download_bytes)?;
            let seconds = report.upload_seconds + report.download_seconds;
            if json {
                let line = serde_json::json!({
                    "type": "final",
                    "timeSeconds": seconds,
                    "uploadBytes": report.upload_bytes,
                    "downloadBytes": report.download_bytes,
                });
                outln!("{line}");
            } else {
                let rate = |bytes: u64, s: f64| {
                    if s > 0.0 {
                        bytes as f64 / s / (1 << 20) as f64
                    } else {
                        0.0
                    }
                };
                outln!(
                    "upload {} B in {:.3} s ({:.1} MiB/s), download {} B in {:.3} s ({:.1} MiB/s)",
                    report.upload_bytes,
                    report.upload_seconds,
                    rate(report.upload_bytes, report.upload_seconds),
                    report.download_bytes,
                    report.download_seconds,
                    rate(report.download_bytes, report.download_seconds),
                );
            }
            Ok(())
        }
        Command::Config {
            key, value: None, ..
        } => {
            let value = Repo::config_value(&dir, &key)?;
            outln!("{}", serde_json::to_string_pretty(&value)?);
            Ok(())
        }
        Command::Config {
            key,
            value: Some(value),
            json,
        } => {
            let value: toml::Value = if json {
                let json: serde_json::Value = serde_json::from_str(&value)
                    .with_context(|| format!("`{value}` is not JSON"))?;
                toml::Value::try_from(json).context("the JSON value has no TOML form (null?)")?
            } else {
                toml::Value::String(value)
            };
            Ok(Repo::set_config_value(&dir, &key, value)?)
        }
    }
}
