//! The resource manager's bounds, each against a peer that tries to exceed it over a real
//! loopback connection, while an honest peer keeps being served.

use std::time::Duration;

use futures::{AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm};
use switchboard_node::config::Limits;
use switchboard_node::exchange::{Message, Version, Want, WantType, write_message};
use switchboard_node::transport::{Context, Stack, Tcp, Transport};
use switchboard_node::{DialError, Exceeded, Node, StreamUsage, profile};

use crate::hostile::{bitswap_stream, disconnected, hostile, raw};
use switchboard_testkit::{DEADLINE, addr_of, init_tracing};

async fn node_with(limits: Limits) -> Node {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_limits(limits)
        .with_listen_addr("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .build()
        .await
        .expect("node")
}

/// Polls `check` on `node`'s resources until it holds, failing after [`DEADLINE`].
async fn until(node: &Node, what: &str, check: impl Fn(&switchboard_node::Resources) -> bool) {
    let start = tokio::time::Instant::now();
    loop {
        let resources = node.resources().await;
        if check(&resources) {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for {what}: {resources:?}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn bitswap(resources: &switchboard_node::Resources) -> &StreamUsage {
    resources
        .streams
        .iter()
        .find(|s| s.service == "bitswap")
        .expect("a bitswap service")
}

/// An honest peer fetches a block from `node` over a fresh connection.
async fn still_serves(node: &Node) {
    let honest = node_with(Limits::default()).await;
    let cid = node.block().put(&b"still served"[..]).await.expect("put");
    honest
        .connect(addr_of(node, "tcp").await)
        .await
        .expect("connect");
    let block = honest
        .block()
        .get_with_timeout(&cid, DEADLINE)
        .await
        .expect("the honest peer is served");
    assert_eq!(block.data().as_ref(), b"still served");
    honest.shutdown().await;
}

/// Forty silent streams from one peer: it gets its 32, the rest are refused, and everyone
/// else still has slots.
#[tokio::test]
async fn one_peer_cannot_hold_every_bitswap_stream() {
    init_tracing();
    let victim = node_with(Limits::default()).await;
    let (_, mut control) = hostile(addr_of(&victim, "tcp").await).await;
    let mut streams = Vec::new();
    for _ in 0..40 {
        streams.push(bitswap_stream(&mut control, victim.peer_id()).await);
    }
    until(&victim, "40 streams accepted or refused", |r| {
        let b = bitswap(r);
        u64::from(b.open) + b.refused >= 40
    })
    .await;
    let usage = victim.resources().await;
    assert_eq!(bitswap(&usage).busiest_peer, 32, "{usage:?}");
    assert_eq!(bitswap(&usage).refused, 8, "{usage:?}");
    still_serves(&victim).await;
}

/// A stream kept alive with empty messages is dropped after the idle time all the same.
#[tokio::test]
async fn empty_messages_do_not_keep_a_stream() {
    init_tracing();
    let limits = Limits {
        bitswap_stream_idle_secs: 1,
        ..Limits::default()
    };
    let victim = node_with(limits).await;
    let (_, mut control) = hostile(addr_of(&victim, "tcp").await).await;
    let mut stream = bitswap_stream(&mut control, victim.peer_id()).await;
    until(&victim, "the stream to be served", |r| bitswap(r).open == 1).await;
    let keepalive = tokio::spawn(async move {
        // Traffic, not synchronisation: an empty message every 100 ms, until the node hangs
        // up.
        while write_message(&mut stream, &Message::default(), Version::V1_2)
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    until(&victim, "the idle stream to be dropped", |r| {
        bitswap(r).open == 0
    })
    .await;
    keepalive.abort();
}

/// Every stream of one peer declares a 4 MiB message and sends a little of it: the peer holds
/// its 16 MiB share of the read budget, no more, and others are served meanwhile.
#[tokio::test]
async fn declared_messages_hold_at_most_the_peers_budget() {
    init_tracing();
    let victim = node_with(Limits::default()).await;
    let (_, mut control) = hostile(addr_of(&victim, "tcp").await).await;
    let mut streams = Vec::new();
    for _ in 0..16 {
        let mut stream = bitswap_stream(&mut control, victim.peer_id()).await;
        let mut prefix = unsigned_varint::encode::usize_buffer();
        let prefix = unsigned_varint::encode::usize(4 << 20, &mut prefix);
        stream.write_all(prefix).await.expect("prefix");
        stream.write_all(&[0u8; 1024]).await.expect("a little");
        stream.flush().await.expect("flush");
        streams.push(stream);
    }
    until(&victim, "the peer's budget to be taken", |r| {
        r.bitswap_reading == 16 << 20
    })
    .await;
    still_serves(&victim).await;
    assert_eq!(victim.resources().await.bitswap_reading, 16 << 20);
}

/// A peer that asks for blocks and never reads them, then keeps sending wants: the answers
/// waiting for it pile up to the limit, and it is disconnected.
#[tokio::test]
async fn a_peer_that_stops_reading_is_disconnected() {
    init_tracing();
    let limits = Limits {
        max_queued_messages_per_peer: 16,
        ..Limits::default()
    };
    let victim = node_with(limits).await;
    let mut events = victim.subscribe();
    let mut cids = Vec::new();
    for i in 0..8u8 {
        cids.push(victim.block().put(vec![i; 1 << 20]).await.expect("put"));
    }
    let (bad, mut control) = hostile(addr_of(&victim, "tcp").await).await;
    // Streams the node opens to it are accepted and never read.
    let mut incoming = control
        .accept(StreamProtocol::new("/ipfs/bitswap/1.2.0"))
        .expect("accept");
    let unread = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Some(stream) = incoming.next().await {
            kept.push(stream);
        }
    });
    let mut stream = bitswap_stream(&mut control, victim.peer_id()).await;
    let want = |cid, want_type| Want {
        cid,
        priority: 1,
        cancel: false,
        want_type,
        send_dont_have: true,
    };
    let blocks = Message {
        wants: cids.iter().map(|c| want(*c, WantType::Block)).collect(),
        ..Message::default()
    };
    write_message(&mut stream, &blocks, Version::V1_2)
        .await
        .expect("write");
    for i in 0..200u32 {
        let missing = Message {
            wants: vec![want(*raw(&i.to_le_bytes()).cid(), WantType::Have)],
            ..Message::default()
        };
        if write_message(&mut stream, &missing, Version::V1_2)
            .await
            .is_err()
        {
            break;
        }
    }
    disconnected(&mut events, bad).await;
    unread.abort();
    still_serves(&victim).await;
}

/// A peer listening on loopback TCP, with only a stream behaviour; its swarm runs in a task,
/// and its address comes back.
async fn listening_peer(keypair: Keypair) -> (PeerId, libp2p_stream::Control, Multiaddr) {
    let peer = keypair.public().to_peer_id();
    let tcp: std::sync::Arc<dyn Transport> = std::sync::Arc::new(Tcp::new());
    let (stack, _) = Stack::build(
        &[tcp],
        &Context::new(keypair, switchboard_testkit::tokio_rt()),
    )
    .expect("transport");
    let mut swarm = Swarm::new(
        stack.boxed(),
        libp2p_stream::Behaviour::new(),
        peer,
        libp2p::swarm::Config::with_executor(|task| {
            tokio::spawn(task);
        })
        .with_idle_connection_timeout(Duration::from_secs(60)),
    );
    let control = swarm.behaviour().new_control();
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .expect("listen");
    let addr = loop {
        if let Some(SwarmEvent::NewListenAddr { address, .. }) = swarm.next().await {
            break address;
        }
    };
    tokio::spawn(async move { while swarm.next().await.is_some() {} });
    (peer, control, addr.with_p2p(peer).expect("no /p2p yet"))
}

/// A peer that sent blocks nobody asked for is banned: dropped, and neither dialed nor
/// accepted again for the ban's length.
#[tokio::test]
async fn a_misbehaving_peer_is_banned() {
    init_tracing();
    let victim = node_with(Limits::default()).await;
    let mut events = victim.subscribe();
    let (bad, mut control, bad_addr) = listening_peer(Keypair::generate_ed25519()).await;
    victim.connect(bad_addr.clone()).await.expect("connect");
    // Its swarm may learn of the inbound connection a moment after the victim's dial returns.
    let start = tokio::time::Instant::now();
    let mut stream = loop {
        match control
            .open_stream(victim.peer_id(), StreamProtocol::new("/ipfs/bitswap/1.2.0"))
            .await
        {
            Ok(stream) => break stream,
            Err(e) => assert!(start.elapsed() < DEADLINE, "no stream: {e}"),
        }
        tokio::task::yield_now().await;
    };
    for i in 0..3u32 {
        let junk = Message {
            blocks: vec![raw(&i.to_le_bytes())],
            ..Message::default()
        };
        write_message(&mut stream, &junk, Version::V1_2)
            .await
            .expect("write");
    }
    disconnected(&mut events, bad).await;
    match victim.connect(bad_addr).await {
        Err(DialError::Limit {
            exceeded: Exceeded::Banned { peer, .. },
            ..
        }) => assert_eq!(peer, bad),
        other => panic!("a banned peer was dialed: {other:?}"),
    }
    assert_eq!(victim.resources().await.connections.banned, 1);
    still_serves(&victim).await;
}

/// Past the high-water mark, the connection manager closes connections down to the low-water
/// mark.
#[tokio::test]
async fn the_connection_manager_trims_to_low_water() {
    init_tracing();
    let limits = Limits {
        high_water: 4,
        low_water: 2,
        grace_period_secs: 0,
        ..Limits::default()
    };
    let hub = node_with(limits).await;
    let mut spokes = Vec::new();
    for _ in 0..5 {
        let spoke = node_with(Limits::default()).await;
        spoke
            .connect(addr_of(&hub, "tcp").await)
            .await
            .expect("connect");
        spokes.push(spoke);
    }
    until(&hub, "trimming to the low-water mark", |r| {
        r.connections.established == 2 && r.connections.trimmed == 3
    })
    .await;
    for spoke in spokes {
        spoke.shutdown().await;
    }
}
