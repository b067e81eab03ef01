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

use switchboard_testkit::{DEADLINE, addr_of, init_tracing};

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
    let via = dialer
        .peers()
        .await
        .into_iter()
        .find(|p| p.peer == hidden.peer_id())
        .expect("connected")
        .addr;
    assert!(via.iter().any(|p| p == Protocol::WebRTC), "{via}");
}
