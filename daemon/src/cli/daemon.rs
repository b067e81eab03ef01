//! `switchboard daemon`.

/// A status line on stdout. A daemon keeps serving when nobody reads its output (stdout closed
/// or its reader gone): the line is dropped, where a client command's `outln!` exits.
macro_rules! status {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use std::path::Path;

use libp2p::Multiaddr;
use switchboard_daemon::api;
use switchboard_filters::{Policy, Rule};
use switchboard_node::{Event, InitProfile, Node, Repo, RepoError, profile};

/// The descriptors a daemon asks for (within the hard limit), as Kubo's default `IPFS_FD_MAX`.
const FD_MAX: u64 = 8192;

/// Options of `switchboard daemon`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Listen on this address instead of the config's `addresses.swarm` (repeatable).
    #[arg(long = "listen", value_name = "MULTIADDR")]
    listen: Vec<Multiaddr>,
    /// Serve the RPC API here instead of the config's `addresses.api`.
    #[arg(long, value_name = "MULTIADDR")]
    api: Option<Multiaddr>,
    /// Turn local discovery with mDNS off.
    #[arg(long)]
    no_mdns: bool,
    /// A filter rule, checked before the config's (repeatable), such as
    /// `deny websocket and not loopback`.
    #[arg(long = "filter", value_name = "RULE", value_parser = super::parse_rule)]
    filters: Vec<Rule>,
    /// Create the repo first if there is none.
    #[arg(long)]
    init: bool,
    /// The profile for `--init`.
    #[arg(long, value_enum, default_value = "server", requires = "init")]
    init_profile: super::ProfileArg,
    /// `relay`: also serve as a circuit relay v2 for other peers (whatever `relay.serve`
    /// says; the `[relay]` limits apply), with mDNS off.
    #[arg(long, value_enum, default_value = "daemon")]
    profile: NodeProfile,
}

/// What a daemon runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum NodeProfile {
    /// A daemon: connects, serves and fetches blocks.
    Daemon,
    /// A daemon that is also a circuit relay.
    Relay,
}

pub(crate) async fn run(dir: &Path, args: Args) -> anyhow::Result<()> {
    let repo = match Repo::open(dir) {
        Err(RepoError::NotInitialized(_)) if args.init => {
            Repo::init(dir, InitProfile::from(args.init_profile))?
        }
        other => other?,
    };
    let config = repo.config();
    let mut builder = match args.profile {
        NodeProfile::Daemon => Node::builder(profile::Daemon).with_repo(&repo)?,
        NodeProfile::Relay => Node::builder(profile::Relay)
            .with_repo(&repo)?
            .with_mdns(false)
            .with_relay(switchboard_node::config::Relay {
                serve: true,
                ..config.relay.clone()
            }),
    };
    if !args.listen.is_empty() {
        builder = builder.with_listen_addrs(args.listen);
    }
    if args.no_mdns {
        builder = builder.with_mdns(false);
    }
    if !args.filters.is_empty() {
        let policy = Policy::new()
            .with_default(config.filters.default_action())
            .with_rules(args.filters)
            .with_rules(config.filters.rules().iter().cloned());
        builder = builder.with_policy(policy);
    }
    // As Kubo (`IPFS_FD_MAX`): a daemon holding a thousand connections needs more descriptors
    // than the usual soft limit of 1024.
    match rlimit::increase_nofile_limit(FD_MAX) {
        Ok(limit) => tracing::debug!(limit, "file descriptor limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the file descriptor limit"),
    }
    let node = builder.build().await?;
    // Addresses that come later (relay reservations) are printed as they come; subscribed
    // before the listen addresses are read, so none falls between.
    let mut events = node.subscribe();
    status!("Peer ID: {}", node.peer_id());
    for addr in node.listen_addrs().await {
        status!("Swarm listening on {addr}");
    }
    let api_addr = args.api.unwrap_or_else(|| config.addresses.api.clone());
    let server = api::serve(node.clone(), &api_addr).await?;
    repo.write_api_addr(server.local_addr())?;
    status!("RPC API server listening on {}", server.local_addr());
    // Handlers first: a SIGTERM right after "ready" would otherwise end the process at once,
    // leaving its `api` file behind.
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    status!("Daemon is ready");
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::ListenAddr(addr) => status!("Swarm listening on {addr}"),
                Event::ListenAddrExpired(addr) => status!("Swarm no longer listening on {addr}"),
                _ => {}
            }
        }
    });

    tokio::select! {
        _ = interrupt.recv() => status!("Received interrupt signal, shutting down..."),
        _ = terminate.recv() => status!("Received terminate signal, shutting down..."),
        () = server.shutdown_requested() => status!("Shutdown requested, shutting down..."),
    }
    repo.remove_api_addr();
    node.shutdown().await;
    Ok(())
}
