//! A hostile peer on a real loopback connection: a bare libp2p peer (no identify) that speaks
//! Bitswap badly. The node drops it and goes on serving everyone else.

use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm};
use switchboard_node::exchange::{
    Block, Codec, Hash, MAX_MESSAGE_SIZE, Message, Version, Want, WantType, write_message,
};
use switchboard_node::transport::{Context, Stack, Tcp, Transport};
use switchboard_node::{Event, Events};

use switchboard_testkit::{DEADLINE, addr_of, init_tracing, tcp_node};

/// A peer with only a stream behaviour, connected to `target`; its swarm runs in a task.
pub(crate) async fn hostile(target: Multiaddr) -> (PeerId, libp2p_stream::Control) {
    let keypair = Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let tcp: Arc<dyn Transport> = Arc::new(Tcp::new());
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
    swarm.dial(target).expect("dial");
    tokio::spawn(async move {
        while let Some(event) = swarm.next().await {
            if let SwarmEvent::OutgoingConnectionError { error, .. } = event {
                panic!("hostile peer cannot connect: {error}");
            }
        }
    });
    (peer, control)
}

/// Waits for `peer` to be disconnected from the node whose events `events` carries.
pub(crate) async fn disconnected(events: &mut Events, peer: PeerId) {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match events.next().await.expect("node stopped") {
                Event::Disconnected { peer: p } if p == peer => return,
                _ => {}
            }
        }
    })
    .await
    .expect("the hostile peer was not dropped");
}

pub(crate) async fn bitswap_stream(
    control: &mut libp2p_stream::Control,
    to: PeerId,
) -> libp2p::Stream {
    control
        .open_stream(to, StreamProtocol::new("/ipfs/bitswap/1.2.0"))
        .await
        .expect("the node accepts bitswap streams")
}

pub(crate) fn raw(data: &[u8]) -> Block {
    Block::encode(Codec::Raw, Hash::Sha2_256, data.to_vec()).expect("block")
}

/// The node wants a block; the hostile peer answers with a forged one (same CID prefix, other
/// bytes), floods wants and sends garbage. It is dropped, the forged block is never stored,
/// and the real block still arrives from an honest peer.
#[tokio::test]
async fn a_forging_flooding_peer_is_dropped_and_the_fetch_goes_on() {
    init_tracing();
    let (victim, honest) = (tcp_node().await, tcp_node().await);
    let wanted = raw(b"the real block");
    honest.block().put_block(wanted.clone()).await.expect("put");
    let mut events = victim.subscribe();

    let fetch = {
        let victim = victim.clone();
        let cid = *wanted.cid();
        tokio::spawn(async move { victim.block().get_with_timeout(&cid, DEADLINE).await })
    };
    let (bad, mut control) = hostile(addr_of(&victim, "tcp").await).await;
    let mut stream = bitswap_stream(&mut control, victim.peer_id()).await;

    let forged = raw(b"not the real block");
    assert_eq!(forged.cid().codec(), wanted.cid().codec());
    let answer = Message {
        blocks: vec![forged.clone()],
        ..Message::default()
    };
    write_message(&mut stream, &answer, Version::V1_2)
        .await
        .expect("write");
    let flood = Message {
        wants: (0..2000u32)
            .map(|i| Want {
                cid: *raw(&i.to_le_bytes()).cid(),
                priority: 1,
                cancel: false,
                want_type: WantType::Block,
                send_dont_have: true,
            })
            .collect(),
        ..Message::default()
    };
    write_message(&mut stream, &flood, Version::V1_2)
        .await
        .expect("write");
    let mut garbage = bitswap_stream(&mut control, victim.peer_id()).await;
    garbage
        .write_all(&[4, 0xff, 0xff, 0xff, 0xff])
        .await
        .expect("write");
    garbage.flush().await.expect("flush");
    disconnected(&mut events, bad).await;

    victim
        .connect(addr_of(&honest, "tcp").await)
        .await
        .expect("connect");
    let block = fetch
        .await
        .expect("task")
        .expect("fetched from the honest peer");
    assert_eq!(block, wanted);
    assert_eq!(
        victim.block().stat(forged.cid()).await.expect("stat"),
        None,
        "a forged block is never stored"
    );
}

/// Length prefixes over the 4 MiB limit: the node reads no further and drops the peer after
/// three, while a peer connected all along keeps fetching.
#[tokio::test]
async fn oversize_messages_get_a_peer_dropped() {
    init_tracing();
    let (victim, honest) = (tcp_node().await, tcp_node().await);
    honest
        .connect(addr_of(&victim, "tcp").await)
        .await
        .expect("connect");
    let mut events = victim.subscribe();
    let (bad, mut control) = hostile(addr_of(&victim, "tcp").await).await;
    for _ in 0..3 {
        let mut stream = bitswap_stream(&mut control, victim.peer_id()).await;
        let mut prefix = unsigned_varint::encode::usize_buffer();
        let prefix = unsigned_varint::encode::usize(MAX_MESSAGE_SIZE + 1, &mut prefix);
        // The stream may already be reset by the node; what matters is what the node does.
        let _ = stream.write_all(prefix).await;
        let _ = stream.write_all(&[0u8; 1024]).await;
        let _ = stream.flush().await;
    }
    disconnected(&mut events, bad).await;

    let cid = victim.block().put(&b"still served"[..]).await.expect("put");
    let block = honest
        .block()
        .get_with_timeout(&cid, DEADLINE)
        .await
        .expect("the honest peer is still served");
    assert_eq!(block.data().as_ref(), b"still served");
}
