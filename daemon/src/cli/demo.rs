//! `switchboard demo`: the seed's "Node Daemon to Node Daemon" scenario in one process.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use switchboard_node::{Event, InitProfile, Node, Repo, profile};

/// The transports the demo walks through, named as the matrix names them.
const TRANSPORTS: [&str; 5] = ["tcp", "quic-v1", "ws", "wss", "webrtc-direct"];

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub(crate) async fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    outln!("Switchboard demo: two daemons on temporary repos, loopback only, mDNS off.\n");

    let t = Instant::now();
    let repo_a = Repo::init(tmp.path().join("node-a"), InitProfile::Test)?;
    let a = Node::builder(profile::Daemon)
        .with_repo(&repo_a)?
        .build()
        .await?;
    outln!(
        "node A  {}  repo {}  (up in {})",
        a.peer_id(),
        repo_a.path().display(),
        ms(t.elapsed())
    );

    // B trusts A's self-signed certificate for wss, as an operator would with `[websocket] trust`.
    let mut repo_b = Repo::init(tmp.path().join("node-b"), InitProfile::Test)?;
    let a_cert = repo_a.path().join(&repo_a.config().websocket.certificate);
    repo_b.update_config(|c| {
        c.addresses.swarm.clear();
        c.websocket.trust.push(a_cert);
    })?;

    outln!(
        "\n{:<9} {:<70} {:>10} {:>10}",
        "transport",
        "A's address (B dials it)",
        "connect",
        "ping"
    );
    let a_addrs = a.listen_addrs().await;
    let mut failures = 0;
    for transport in TRANSPORTS {
        let addr = a_addrs
            .iter()
            .find(|addr| switchboard_node::transport::label(addr) == Some(transport))
            .with_context(|| format!("node A has no {transport} listener"))?
            .clone()
            .with_p2p(a.peer_id())
            .expect("a listen address has no /p2p");
        // A fresh B per transport, so each row is a new connection over that transport.
        // libp2p-webrtc dials from its listening socket, so B listens for that row.
        let fresh_b = || async {
            let mut b = Node::builder(profile::Daemon).with_repo(&repo_b)?;
            if transport == "webrtc-direct" {
                b = b.with_listen_addr("/ip4/127.0.0.1/udp/0/webrtc-direct".parse()?);
            }
            anyhow::Ok(b.build().await?)
        };
        let mut b = fresh_b().await?;
        let t = Instant::now();
        let mut result = b.connect(addr.clone()).await;
        // webrtc-rs now and then loses a first WebRTC-direct handshake on a loaded machine (ICE
        // connects, the noise data channel opens on one side only, the dial times out); a
        // second dial is what a user would try. From a fresh B: A still holds the failed
        // attempt, and its UDP mux hands that attempt whatever comes from the same port. Other
        // transports get one attempt.
        if result.is_err() && transport == "webrtc-direct" {
            outln!(
                "{transport:<9} first dial failed ({}); dialing again",
                result
                    .as_ref()
                    .err()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            drop(b);
            b = fresh_b().await?;
            result = b.connect(addr.clone()).await;
        }
        let connect = t.elapsed();
        match result {
            Ok(_) => {
                let rtt = b.ping(&addr, 1.try_into().expect("1 is not zero")).await?;
                outln!(
                    "{transport:<9} {addr:<70} {:>10} {:>10}",
                    ms(connect),
                    ms(rtt[0])
                );
            }
            Err(e) => {
                failures += 1;
                outln!("{transport:<9} {addr:<70} FAILED: {e}");
            }
        }
        b.shutdown().await;
    }

    // Both sides see the connection: A learns of it from its own swarm, so wait for the event.
    let mut a_events = a.subscribe();
    let b = Node::builder(profile::Daemon)
        .with_repo(&repo_b)?
        .build()
        .await?;
    b.connect(a_addrs[0].clone().with_p2p(a.peer_id()).expect("no /p2p"))
        .await?;
    let b_id = b.peer_id();
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(event) = a_events.next().await {
            if matches!(event, Event::Connected { peer, .. } if peer == b_id) {
                break;
            }
        }
    })
    .await
    .context("A never saw B connect")?;
    let a_peers: Vec<_> = a.peers().await.into_iter().map(|p| p.peer).collect();
    let b_peers: Vec<_> = b.peers().await.into_iter().map(|p| p.peer).collect();
    let list = |peers: &[libp2p::PeerId]| {
        peers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    outln!(
        "\nswarm peers on A: {}\nswarm peers on B: {}",
        list(&a_peers),
        list(&b_peers)
    );
    anyhow::ensure!(
        a_peers.contains(&b_id) && b_peers.contains(&a.peer_id()),
        "the nodes do not list each other"
    );

    // The seed's first sample: ipfs1.block.put('here is some data'), ipfs2.block.get(cid).
    let t = Instant::now();
    let cid = a.block().put(&b"here is some data"[..]).await?;
    outln!(
        "\nA: block put 'here is some data' -> {cid} ({})",
        ms(t.elapsed())
    );
    let t = Instant::now();
    let block = b
        .block()
        .get_with_timeout(&cid, Duration::from_secs(10))
        .await?;
    let text = String::from_utf8_lossy(block.data());
    outln!(
        "B: block get {cid} -> '{text}' over Bitswap ({})",
        ms(t.elapsed())
    );
    anyhow::ensure!(
        block.data().as_ref() == b"here is some data",
        "B got other bytes"
    );

    b.shutdown().await;
    a.shutdown().await;
    outln!("\nDone in {}.", ms(started.elapsed()));
    anyhow::ensure!(failures == 0, "{failures} transport(s) failed");
    Ok(())
}
