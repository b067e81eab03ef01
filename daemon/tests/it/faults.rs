//! Faults on real processes and real sockets: a provider killed mid-fetch, a link cut, packet
//! loss on QUIC (a userspace UDP proxy; this kernel has no netem), a full disk (a small tmpfs),
//! and a daemon whose output nobody reads.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use switchboard_node::exchange::{Block, Cid, Codec, Hash};
use switchboard_node::{GetError, Node, Repo, profile};

use crate::support::{DEADLINE, api_port, bin, eventually, http_status, init_repo, start_daemon};
use switchboard_testkit::require_root;

/// `count` blocks of `size` bytes, distinct by their first bytes.
fn blocks(count: usize, size: usize, salt: u8) -> Vec<Block> {
    (0..count)
        .map(|i| {
            let mut data = vec![salt; size];
            data[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Block::encode(Codec::Raw, Hash::Sha2_256, data).expect("block")
        })
        .collect()
}

/// A test repo at `name` holding `blocks`, written before its daemon starts.
fn repo_with(tmp: &Path, name: &str, blocks: &[Block]) -> std::path::PathBuf {
    let dir = init_repo(tmp, name);
    let repo = Repo::open(&dir).expect("open");
    repo.blockstore()
        .expect("store")
        .put_many(blocks)
        .expect("put");
    dir
}

async fn fetcher() -> Node {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addrs([
            "/ip4/127.0.0.1/tcp/0".parse().expect("addr"),
            "/ip4/127.0.0.1/udp/0/quic-v1".parse().expect("addr"),
        ])
        .build()
        .await
        .expect("node")
}

/// Fetches every CID at once, each within `timeout`; the results in the CIDs' order.
async fn fetch_all(node: &Node, cids: &[Cid], timeout: Duration) -> Vec<Result<Block, GetError>> {
    let gets: Vec<_> = cids
        .iter()
        .map(|cid| {
            let (node, cid) = (node.clone(), *cid);
            tokio::spawn(async move { node.block().get_with_timeout(&cid, timeout).await })
        })
        .collect();
    let mut results = Vec::new();
    for get in gets {
        results.push(get.await.expect("get task"));
    }
    results
}

async fn received(node: &Node) -> u64 {
    node.block()
        .bitswap_stat()
        .await
        .expect("stat")
        .blocks_received
}

/// Two daemons hold the same blocks; one is killed (SIGKILL) once the fetch is under way. The
/// fetch completes from the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_killed_mid_fetch_is_replaced_by_the_other() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = blocks(128, 1 << 20, 1);
    let a = start_daemon(&repo_with(tmp.path(), "a", &data), &[]);
    let b = start_daemon(&repo_with(tmp.path(), "b", &data), &[]);
    let node = fetcher().await;
    node.connect(a.addr("tcp")).await.expect("connect a");
    node.connect(b.addr("tcp")).await.expect("connect b");
    let cids: Vec<Cid> = data.iter().map(|b| *b.cid()).collect();
    let fetch = {
        let (node, cids) = (node.clone(), cids.clone());
        tokio::spawn(async move { fetch_all(&node, &cids, DEADLINE).await })
    };
    let start = tokio::time::Instant::now();
    while received(&node).await == 0 {
        assert!(start.elapsed() < DEADLINE, "the fetch never started");
        tokio::task::yield_now().await;
    }
    a.kill();
    let at_kill = received(&node).await;
    let results = fetch.await.expect("task");
    assert!(
        at_kill < 128,
        "the fetch was over before the kill; the test proves nothing"
    );
    for (result, block) in results.iter().zip(&data) {
        let _ = block;
        result
            .as_ref()
            .expect("every block arrives from the survivor");
    }
    let mut got: Vec<Cid> = results.into_iter().map(|r| *r.expect("ok").cid()).collect();
    got.sort();
    let mut want = cids;
    want.sort();
    assert_eq!(got, want);
    drop(b);
}

/// A TCP proxy between two peers whose connections can be cut at once.
struct Proxy {
    addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn to(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cut = Arc::new(AtomicBool::new(false));
        let cut_seen = cut.clone();
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { return };
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                            continue;
                        };
                        links.spawn(async move {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        });
                    }
                    // Checked often: cutting aborts every link (both sockets close).
                    () = tokio::time::sleep(Duration::from_millis(10)) => {
                        if cut_seen.load(Ordering::SeqCst) {
                            links.abort_all();
                            return;
                        }
                    }
                }
            }
        });
        Self { addr, cut, task }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn socket_of(addr: &Multiaddr) -> std::net::SocketAddr {
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(v4) => ip = Some(std::net::IpAddr::V4(v4)),
            Protocol::Tcp(p) | Protocol::Udp(p) => port = Some(p),
            _ => {}
        }
    }
    (ip.expect("an ip"), port.expect("a port")).into()
}

fn via(addr: std::net::SocketAddr, proto: Protocol<'static>, peer: libp2p::PeerId) -> Multiaddr {
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        panic!("IPv4 proxies only")
    };
    let mut out = Multiaddr::empty().with(Protocol::Ip4(ip));
    match proto {
        Protocol::Tcp(_) => out.push(Protocol::Tcp(addr.port())),
        _ => {
            out.push(Protocol::Udp(addr.port()));
            out.push(Protocol::QuicV1);
        }
    }
    out.with(Protocol::P2p(peer))
}

/// The only link to the provider is cut mid-transfer. Either the peers reconnect by themselves
/// (each knows the other's listen addresses from identify, and opening a Bitswap stream dials
/// them) and the fetch completes, or the gets that were cut off fail with a timeout, a clear error;
/// nothing else. Then, connected again, every block arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_cut_mid_transfer_recovers_or_fails_clearly() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = blocks(128, 1 << 20, 2);
    let a = start_daemon(&repo_with(tmp.path(), "a", &data), &[]);
    let peer: libp2p::PeerId = a.peer_id().parse().expect("peer id");
    let proxy = Proxy::to(socket_of(&a.addr("tcp"))).await;
    let node = fetcher().await;
    node.connect(via(proxy.addr, Protocol::Tcp(0), peer))
        .await
        .expect("connect through the proxy");
    let cids: Vec<Cid> = data.iter().map(|b| *b.cid()).collect();
    let fetch = {
        let (node, cids) = (node.clone(), cids.clone());
        tokio::spawn(async move { fetch_all(&node, &cids, Duration::from_secs(5)).await })
    };
    let start = tokio::time::Instant::now();
    while received(&node).await == 0 {
        assert!(start.elapsed() < DEADLINE, "the fetch never started");
        tokio::task::yield_now().await;
    }
    proxy.cut();
    let at_cut = received(&node).await;
    let results = fetch.await.expect("task");
    assert!(
        at_cut < 128,
        "the fetch was over before the cut; the test proves nothing"
    );
    for (result, block) in results.iter().zip(&data) {
        match result {
            Ok(fetched) => assert_eq!(fetched, block),
            Err(GetError::Timeout { .. }) => {}
            Err(other) => panic!("a cut link gave {other}"),
        }
    }
    if results.iter().all(Result::is_ok) {
        // Recovered over a new connection, ours to its address or its back to ours.
        let peers = node.peers().await;
        assert!(
            peers
                .iter()
                .any(|p| p.peer == peer && socket_of(&p.addr) != proxy.addr),
            "the fetch completed without a new connection: {peers:?}"
        );
    }
    node.connect(a.addr("tcp")).await.expect("reconnect");
    for (result, block) in fetch_all(&node, &cids, DEADLINE)
        .await
        .into_iter()
        .zip(&data)
    {
        assert_eq!(&result.expect("every block arrives once connected"), block);
    }
}

/// A UDP proxy that drops one datagram in `1 / drop_one_in` and delays each by `delay`, both
/// ways, between one client and `target`.
async fn lossy_udp_proxy(
    target: std::net::SocketAddr,
    drop_one_in: u32,
    delay: Duration,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let outside = Arc::new(
        tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    );
    let inside = Arc::new(
        tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    );
    let addr = outside.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut client = None;
        let (mut a, mut b) = ([0u8; 65536], [0u8; 65536]);
        let mut counter = 0u32;
        loop {
            let (to, from_client, len) = tokio::select! {
                r = outside.recv_from(&mut a) => {
                    let Ok((len, from)) = r else { return };
                    client = Some(from);
                    (target, true, len)
                }
                r = inside.recv_from(&mut b) => {
                    let Ok((len, _)) = r else { return };
                    let Some(client) = client else { continue };
                    (client, false, len)
                }
            };
            counter = counter.wrapping_add(1);
            if counter.is_multiple_of(drop_one_in) {
                continue;
            }
            let (socket, packet) = if from_client {
                (inside.clone(), a[..len].to_vec())
            } else {
                (outside.clone(), b[..len].to_vec())
            };
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = socket.send_to(&packet, to).await;
            });
        }
    });
    (addr, task)
}

/// QUIC through a link that loses one datagram in thirty and delays each by 5 ms: the
/// connection comes up (its handshake packets are lost too) and every block arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_fetches_through_packet_loss() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = blocks(16, 64 * 1024, 3);
    let a = start_daemon(&repo_with(tmp.path(), "a", &data), &[]);
    let peer: libp2p::PeerId = a.peer_id().parse().expect("peer id");
    let (proxy, task) =
        lossy_udp_proxy(socket_of(&a.addr("quic-v1")), 30, Duration::from_millis(5)).await;
    let node = fetcher().await;
    node.connect(via(proxy, Protocol::QuicV1, peer))
        .await
        .expect("connect through the lossy link");
    let cids: Vec<Cid> = data.iter().map(|b| *b.cid()).collect();
    for (result, block) in fetch_all(&node, &cids, DEADLINE)
        .await
        .into_iter()
        .zip(&data)
    {
        let _ = block;
        result.expect("every block arrives through the loss");
    }
    task.abort();
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount");
        assert!(status.success(), "mount tmpfs");
        Self {
            dir: dir.to_owned(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// The repo's disk fills up under `block put`: the put that does not fit fails with one clear
/// line, no temporary file is left, and every put that succeeded still reads back verified.
#[test]
fn a_full_disk_fails_a_put_clearly_and_loses_nothing() {
    require_root("mounting a tmpfs");
    let tmp = tempfile::tempdir().expect("tmp");
    let disk = Tmpfs::mount(&tmp.path().join("disk"), "3m");
    let repo = init_repo(&disk.dir, "repo");
    let mut stored = Vec::new();
    let error = loop {
        let data = vec![stored.len() as u8; 512 * 1024];
        let file = tmp.path().join("block");
        std::fs::write(&file, &data).expect("write");
        let out = Command::new(bin())
            .arg("--repo")
            .arg(&repo)
            .args(["block", "put"])
            .arg(&file)
            .output()
            .expect("switchboard runs");
        if !out.status.success() {
            break String::from_utf8(out.stderr).expect("utf-8");
        }
        let cid = String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned();
        stored.push((cid, data));
        assert!(stored.len() < 16, "3 MiB held more than 8 MiB of blocks");
    };
    assert_eq!(error.trim().lines().count(), 1, "{error}");
    assert!(error.contains("No space left on device"), "{error}");
    assert!(!stored.is_empty(), "not even one block fitted");
    let leftovers: Vec<_> = walk(&repo.join("blocks"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".put-"))
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    for (cid, data) in &stored {
        let out = Command::new(bin())
            .arg("--repo")
            .arg(&repo)
            .args(["block", "get", cid])
            .output()
            .expect("switchboard runs");
        assert!(out.status.success(), "{cid} does not read back");
        assert_eq!(&out.stdout, data, "{cid} reads back other bytes");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A daemon started with nobody reading its output (the reading ends of its stdout and stderr
/// closed at once) keeps serving: its status lines are dropped, not fatal.
#[test]
fn a_daemon_whose_output_is_closed_keeps_serving() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = init_repo(tmp.path(), "a");
    let mut child = Command::new(bin())
        .arg("--repo")
        .arg(&repo)
        .arg("daemon")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts");
    drop(child.stdout.take());
    drop(child.stderr.take());
    eventually("the daemon's api file", || {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the daemon died with its output closed"
        );
        repo.join("api").exists().then_some(())
    });
    let port = api_port(&repo);
    let post = "POST /api/v0/id HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(http_status(port, post), 200);
    let out = Command::new(bin())
        .arg("--repo")
        .arg(&repo)
        .arg("shutdown")
        .output()
        .expect("shutdown");
    assert!(out.status.success());
    let status = eventually("the daemon to exit", || child.try_wait().expect("wait"));
    assert!(status.success(), "{status}");
}
