//! `/webrtc` between in-process nodes on loopback: a node that listens nowhere reserves on a
//! relay and listens on `/webrtc`; another dials its `/webrtc` address, signals over the relayed
//! connection and connects directly (str0m, on the node's runtime), and a block larger than a
//! circuit carries moves over the direct connection.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use switchboard_node::config::Relay as RelayConfig;
use switchboard_node::transport::{WebRtc, is_relayed};
use switchboard_node::{Node, profile};

use switchboard_testkit::{DEADLINE, addr_of, connection_to, init_tracing};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn relay() -> Node {
    Node::builder(profile::Relay)
        .with_listen_addr("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .with_relay(RelayConfig {
            serve: true,
            ..Default::default()
        })
        .build()
        .await
        .expect("relay")
}

/// A daemon that listens nowhere itself and makes its WebRTC candidates on loopback.
async fn node() -> Node {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addrs([])
        .with_transport(Arc::new(WebRtc::new().with_local_addresses([LOOPBACK])))
        .build()
        .await
        .expect("node")
}

/// Reserves on `relay` and listens on `/webrtc`; the `/webrtc` address, with `/p2p`.
async fn listen_on_webrtc(node: &Node, relay: &Node) -> Multiaddr {
    let circuit = addr_of(relay, "tcp").await.with(Protocol::P2pCircuit);
    let (reserved, webrtc) = futures::join!(
        node.listen(circuit),
        node.listen(Multiaddr::empty().with(Protocol::WebRTC))
    );
    reserved.expect("the relay accepts the reservation");
    let webrtc = webrtc.expect("listening on /webrtc through the reservation");
    assert!(
        webrtc.iter().any(|p| p == Protocol::WebRTC) && !is_relayed(&webrtc),
        "{webrtc}"
    );
    webrtc.with(Protocol::P2p(node.peer_id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_larger_than_a_circuit_moves_over_webrtc_signalled_through_a_relay() {
    init_tracing();
    let relay = relay().await;
    let (hidden, dialer) = (node().await, node().await);
    let target = listen_on_webrtc(&hidden, &relay).await;
    assert!(
        hidden.identity().await.addresses.contains(&target),
        "id advertises {target}"
    );
    let data: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let cid = hidden.block().put(data.clone()).await.expect("put");

    let peer = tokio::time::timeout(DEADLINE, dialer.connect(target))
        .await
        .expect("in time")
        .expect("dial over /webrtc");
    assert_eq!(peer, hidden.peer_id());
    let block = dialer
        .block()
        .get_with_timeout(&cid, DEADLINE)
        .await
        .expect("1 MiB, where a circuit carries 128 KiB");
    assert_eq!(block.data().as_ref(), data.as_slice());
    let via = connection_to(&dialer, hidden.peer_id()).await;
    assert!(via.iter().any(|p| p == Protocol::WebRTC), "{via}");
    // The listener's side too: it counts the inbound circuit that signalled the `/webrtc`
    // connection as relayed, and reports (and opens its streams on, the block's among them)
    // the direct one.
    let from = connection_to(&hidden, dialer.peer_id()).await;
    assert!(from.iter().any(|p| p == Protocol::WebRTC), "{from}");
}

/// A node listening on loopback TCP and on `/webrtc` (no reservation needed: signalling works
/// over any connection), whose new connections have `upgrade_secs` to come up.
async fn webrtc_listener(upgrade_secs: u64) -> Node {
    let limits = switchboard_node::config::Limits {
        upgrade_timeout_secs: upgrade_secs,
        ..Default::default()
    };
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_limits(limits)
        .with_listen_addrs([
            "/ip4/127.0.0.1/tcp/0".parse().expect("addr"),
            Multiaddr::empty().with(Protocol::WebRTC),
        ])
        .with_transport(Arc::new(WebRtc::new().with_local_addresses([LOOPBACK])))
        .build()
        .await
        .expect("node")
}

/// One signalling message as the wire carries it.
fn frame(r#type: u8, data: &[u8]) -> Vec<u8> {
    let mut message = vec![0x08, r#type, 0x12];
    let mut len = unsigned_varint::encode::usize_buffer();
    message.extend_from_slice(unsigned_varint::encode::usize(data.len(), &mut len));
    message.extend_from_slice(data);
    let mut framed = unsigned_varint::encode::usize(message.len(), &mut len).to_vec();
    framed.extend(message);
    framed
}

/// Opens a signalling stream to `victim` and sends `bytes` (then nothing); waits for the
/// attempt to be over on the victim's side (no connection being set up), and checks that
/// the connection the stream went over still carries a ping.
async fn signal_badly(bytes: Vec<u8>, upgrade_secs: u64) {
    use futures::{AsyncReadExt, AsyncWriteExt};
    let victim = webrtc_listener(upgrade_secs).await;
    let (_, mut control) = crate::hostile::hostile(addr_of(&victim, "tcp").await).await;
    let mut stream = control
        .open_stream(
            victim.peer_id(),
            libp2p::StreamProtocol::new("/webrtc-signaling/0.0.1"),
        )
        .await
        .expect("the victim answers signalling");
    stream.write_all(&bytes).await.expect("write");
    stream.flush().await.expect("flush");
    let pending = || async { victim.resources().await.connections.pending_inbound };
    // The attempt is a connection being set up until it ends, at once or at the deadline.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while pending().await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the signalling attempt still holds a pending connection"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the victim ends the signalling stream");
    let mut ping = control
        .open_stream(
            victim.peer_id(),
            libp2p::StreamProtocol::new("/ipfs/ping/1.0.0"),
        )
        .await
        .expect("the connection still takes streams");
    ping.write_all(&[7; 32]).await.expect("ping");
    let mut echo = [0; 32];
    ping.read_exact(&mut echo).await.expect("pong");
    assert_eq!(echo, [7; 32]);
}

#[tokio::test]
async fn a_signalling_peer_that_falls_silent_is_given_up_at_the_deadline() {
    init_tracing();
    signal_badly(Vec::new(), 1).await;
}

#[tokio::test]
async fn an_oversize_signalling_message_ends_the_attempt_unread() {
    init_tracing();
    let mut declared = unsigned_varint::encode::u64_buffer();
    signal_badly(
        unsigned_varint::encode::u64(64 * 1024 * 1024, &mut declared).to_vec(),
        20,
    )
    .await;
}

#[tokio::test]
async fn an_offer_that_is_no_sdp_ends_the_attempt() {
    init_tracing();
    signal_badly(frame(0, b"v=0\r\nthis is not an offer\r\n"), 20).await;
}

#[tokio::test]
async fn an_answer_where_an_offer_belongs_ends_the_attempt() {
    init_tracing();
    signal_badly(frame(1, b"an answer first"), 20).await;
}

/// A peer that vanishes without a word (a closed tab, a killed process) is noticed: its
/// WebRTC connection ends once ICE stops hearing from it, and the node drops the peer.
#[test]
fn a_peer_that_vanishes_is_noticed() {
    init_tracing();
    let ours = tokio::runtime::Runtime::new().expect("runtime");
    let theirs = tokio::runtime::Runtime::new().expect("runtime");
    let (relay, hidden, mut events, target) = ours.block_on(async {
        let relay = relay().await;
        let hidden = node().await;
        let events = hidden.subscribe();
        let target = listen_on_webrtc(&hidden, &relay).await;
        (relay, hidden, events, target)
    });
    let dialer = theirs.block_on(node());
    let gone = dialer.peer_id();
    theirs
        .block_on(dialer.connect(target))
        .expect("dial over /webrtc");
    // The dialer's process dies: its tasks and sockets go, nothing is said.
    theirs.shutdown_background();
    ours.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(event) = events.next().await {
                if matches!(event, switchboard_node::Event::Disconnected { peer } if peer == gone) {
                    return;
                }
            }
        })
        .await
        .expect("the vanished peer is dropped");
    });
    drop((relay, hidden));
}
