//! `cargo xtask bench scale`: one `switchboard daemon` (a real process, release build) serving
//! many concurrent fetching peers over real loopback TCP.
//!
//! The peers are light in-process clients: a bare libp2p swarm each (TCP, noise, yamux and
//! libp2p-stream), which sends one Bitswap want-block message for its blocks and reads the
//! blocks the daemon sends back. Each scenario gets a fresh daemon, so its peak RSS is its own.
//! Prints, for 10 peers and for 1,000 (`SWITCHBOARD_BENCH_PEERS` changes the larger count):
//! errors, the daemon's peak RSS, the time until every peer had its blocks, and the aggregate
//! throughput, side by side.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm};
use switchboard_node::exchange::{
    Block, Cid, Codec, Hash, Message, Version, Want, WantType, read_message, write_message,
};
use switchboard_node::transport::{Context, Stack, Tcp, Transport};
use switchboard_node::{InitProfile, Repo};

/// Blocks the daemon holds.
const BLOCKS: usize = 64;
/// Their size.
const BLOCK: usize = 64 * 1024;
/// Blocks each peer fetches (a different window of the daemon's blocks per peer).
const PER_PEER: usize = 8;
/// How long a peer may take before it counts as an error.
const PEER_DEADLINE: Duration = Duration::from_secs(120);

fn blocks() -> Vec<Block> {
    (0..BLOCKS as u64)
        .map(|i| {
            let mut data = vec![7u8; BLOCK];
            data[..8].copy_from_slice(&i.to_le_bytes());
            Block::encode(Codec::Raw, Hash::Sha2_256, data).expect("block")
        })
        .collect()
}

/// A daemon on a fresh repo holding `blocks`, with limits for `peers` peers; its process and
/// TCP address.
fn daemon(dir: &Path, blocks: &[Block], peers: usize) -> (Child, Multiaddr) {
    let mut repo = Repo::init(dir, InitProfile::Test).expect("init");
    let room = (peers as u32 + 64).max(1024);
    repo.update_config(|c| {
        c.addresses.swarm = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")];
        c.limits.max_connections = room;
        c.limits.high_water = room;
        c.limits.low_water = room;
        c.limits.max_pending = room;
        c.limits.max_bitswap_streams = room;
    })
    .expect("config");
    repo.blockstore()
        .expect("store")
        .put_many(blocks)
        .expect("put");
    drop(repo);
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--repo")
        .arg(dir)
        .arg("daemon")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("daemon");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut addr, mut peer) = (None, None);
    for line in lines.by_ref() {
        let line = line.expect("daemon output");
        if let Some(id) = line.strip_prefix("Peer ID: ") {
            peer = Some(id.parse::<PeerId>().expect("peer id"));
        }
        if let Some(a) = line.strip_prefix("Swarm listening on ") {
            addr = Some(a.parse::<Multiaddr>().expect("addr"));
        }
        if line == "Daemon is ready" {
            break;
        }
    }
    // Read on, so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let addr = addr
        .expect("a listen address")
        .with_p2p(peer.expect("a peer id"))
        .expect("no /p2p yet");
    (child, addr)
}

/// The daemon's peak resident memory so far, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

/// One light peer: dials, wants `cids`, reads blocks until it has them all.
async fn peer(target: Multiaddr, cids: Vec<Cid>) -> Result<usize, String> {
    let keypair = Keypair::generate_ed25519();
    let local = keypair.public().to_peer_id();
    let tcp: Arc<dyn Transport> = Arc::new(Tcp::new());
    let (stack, _) = Stack::build(
        &[tcp],
        &Context::new(
            keypair,
            switchboard_node::transport::runtime::Handle::new(
                switchboard_node::transport::runtime::Tokio::current().expect("tokio"),
            ),
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut swarm = Swarm::new(
        stack.boxed(),
        libp2p_stream::Behaviour::new(),
        local,
        libp2p::swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(60)),
    );
    let mut control = swarm.behaviour().new_control();
    let mut incoming = control
        .accept(StreamProtocol::new("/ipfs/bitswap/1.2.0"))
        .map_err(|e| e.to_string())?;
    let server = match target.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(peer)) => peer,
        _ => return Err("no /p2p in the target".into()),
    };
    swarm.dial(target).map_err(|e| e.to_string())?;
    let (up_tx, up) = tokio::sync::oneshot::channel();
    let mut up_tx = Some(up_tx);
    let mut driver = tokio::spawn(async move {
        while let Some(event) = swarm.next().await {
            match event {
                SwarmEvent::ConnectionEstablished { .. } => {
                    if let Some(tx) = up_tx.take() {
                        let _ = tx.send(());
                    }
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => return Err(error.to_string()),
                SwarmEvent::ConnectionClosed { cause, .. } => {
                    return Err(format!("connection closed: {cause:?}"));
                }
                _ => {}
            }
        }
        Ok(())
    });
    let fetch = async {
        up.await.map_err(|_| "never connected".to_owned())?;
        let mut stream = loop {
            match control
                .open_stream(server, StreamProtocol::new("/ipfs/bitswap/1.2.0"))
                .await
            {
                Ok(stream) => break stream,
                // Not connected yet: the dial is under way.
                Err(libp2p_stream::OpenStreamError::Io(_)) => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                Err(e) => return Err(format!("opening a stream: {e:?}")),
            }
        };
        let wants = Message {
            wants: cids
                .iter()
                .map(|cid| Want {
                    cid: *cid,
                    priority: 1,
                    cancel: false,
                    want_type: WantType::Block,
                    send_dont_have: true,
                })
                .collect(),
            full: true,
            ..Message::default()
        };
        write_message(&mut stream, &wants, Version::V1_2)
            .await
            .map_err(|e| format!("writing the wants: {e:?}"))?;
        let mut got = 0;
        let mut bytes = 0;
        while got < cids.len() {
            let Some((_, mut answer)) = incoming.next().await else {
                return Err("the node stopped".into());
            };
            while let Ok(Some(message)) = read_message(&mut answer).await {
                got += message.blocks.len();
                bytes += message.block_bytes();
                if got >= cids.len() {
                    break;
                }
            }
        }
        Ok(bytes)
    };
    let result = tokio::time::timeout(PEER_DEADLINE, fetch)
        .await
        .map_err(|_| "timed out".to_owned())
        .and_then(|r| r);
    if let Err(e) = &result {
        // The swarm may have seen why: give it a moment to say.
        if let Ok(Ok(Err(why))) = tokio::time::timeout(Duration::from_secs(1), &mut driver).await {
            return Err(format!("{e}: {why}"));
        }
    }
    driver.abort();
    result
}

struct Row {
    peers: usize,
    errors: usize,
    first_error: Option<String>,
    peak_rss: u64,
    elapsed: Duration,
    bytes: usize,
}

async fn scenario(peers: usize, blocks: &[Block]) -> Row {
    let tmp = tempfile::tempdir().expect("tmp");
    let (mut child, target) = daemon(&tmp.path().join("repo"), blocks, peers);
    let cids: Vec<Cid> = blocks.iter().map(|b| *b.cid()).collect();
    let started = Instant::now();
    let tasks: Vec<_> = (0..peers)
        .map(|i| {
            let wanted = (0..PER_PEER).map(|k| cids[(i + k) % BLOCKS]).collect();
            tokio::spawn(peer(target.clone(), wanted))
        })
        .collect();
    let (mut errors, mut bytes, mut first_error) = (0, 0, None);
    for task in tasks {
        match task.await.expect("peer task") {
            Ok(b) => bytes += b,
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let elapsed = started.elapsed();
    let peak_rss = peak_rss(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Row {
        peers,
        errors,
        first_error,
        peak_rss,
        elapsed,
        bytes,
    }
}

fn main() {
    let many: usize = std::env::var("SWITCHBOARD_BENCH_PEERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let blocks = blocks();
    println!(
        "scale benchmark: one daemon, peers fetching {PER_PEER} x {} KiB each over loopback TCP, one run\n",
        BLOCK / 1024
    );
    let rows: Vec<Row> = runtime.block_on(async {
        let mut rows = Vec::new();
        for peers in [10, many] {
            rows.push(scenario(peers, &blocks).await);
        }
        rows
    });
    println!(
        "{:>6} {:>7} {:>12} {:>10} {:>12} {:>12}",
        "peers", "errors", "daemon RSS", "all done", "aggregate", "vs 10 peers"
    );
    let base = rows[0].bytes as f64 / rows[0].elapsed.as_secs_f64();
    for row in &rows {
        let rate = row.bytes as f64 / row.elapsed.as_secs_f64();
        println!(
            "{:>6} {:>7} {:>8.1} MiB {:>8.2} s {:>7.1} MB/s {:>11.2}x",
            row.peers,
            row.errors,
            row.peak_rss as f64 / (1 << 20) as f64,
            row.elapsed.as_secs_f64(),
            rate / 1e6,
            rate / base
        );
        if let Some(e) = &row.first_error {
            println!("       first error: {e}");
        }
    }
}
