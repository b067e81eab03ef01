//! Circuit relay v2 between in-process nodes on loopback: a peer that does not listen is
//! reached through a relay's reservation, the relay refuses what is over its limits with the
//! spec's status and keeps serving everyone else, and circuits close at their limits.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use switchboard_node::config::Relay as RelayConfig;
use switchboard_node::transport::{
    Relay as RelayClient, Transport, Unsupported, WebSocket, is_relayed,
};
use switchboard_node::{BuildError, DialError, Event, Events, ListenError, Node, profile};

use switchboard_testkit::{DEADLINE, addr_of, causes, connection_to, init_tracing};

/// A relay on loopback TCP and ws with `limits`.
async fn relay(limits: RelayConfig) -> Node {
    Node::builder(profile::Relay)
        .with_listen_addrs([
            "/ip4/127.0.0.1/tcp/0".parse().expect("addr"),
            "/ip4/127.0.0.1/tcp/0/ws".parse().expect("addr"),
        ])
        .with_relay(RelayConfig {
            serve: true,
            ..limits
        })
        .build()
        .await
        .expect("relay")
}

/// A daemon that listens nowhere itself, as one behind a NAT.
async fn unlistening() -> Node {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addrs([])
        .build()
        .await
        .expect("node")
}

/// The circuit address to reserve on `relay`.
async fn circuit(relay: &Node) -> Multiaddr {
    addr_of(relay, "tcp").await.with(Protocol::P2pCircuit)
}

/// Reserves on `relay`; the address `node` is reachable at, with its `/p2p`.
async fn reserve(node: &Node, relay: &Node) -> Multiaddr {
    let listening = node
        .listen(circuit(relay).await)
        .await
        .expect("the relay accepts the reservation");
    assert!(is_relayed(&listening), "{listening}");
    listening.with(Protocol::P2p(node.peer_id()))
}

/// Waits until `events` report the last connection to `peer` closed.
async fn disconnected(events: &mut Events, peer: PeerId) {
    while let Some(event) = events.next().await {
        if matches!(event, Event::Disconnected { peer: p } if p == peer) {
            return;
        }
    }
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

#[tokio::test]
async fn a_peer_that_listens_nowhere_is_reached_through_a_relay() {
    init_tracing();
    let relay = relay(RelayConfig::default()).await;
    let (hidden, dialer) = (unlistening().await, unlistening().await);
    let reachable = reserve(&hidden, &relay).await;
    assert!(
        hidden.listen_addrs().await.iter().any(is_relayed),
        "the reservation is a listen address"
    );
    assert!(
        hidden.identity().await.addresses.contains(&reachable),
        "id advertises {reachable}"
    );

    let cid = hidden
        .block()
        .put(&b"here is some data"[..])
        .await
        .expect("put");
    assert_eq!(
        dialer.connect(reachable.clone()).await.expect("dial"),
        hidden.peer_id()
    );
    let block = dialer
        .block()
        .get_with_timeout(&cid, DEADLINE)
        .await
        .expect("the block comes through the relay");
    assert_eq!(block.data().as_ref(), b"here is some data");
    let through = connection_to(&dialer, hidden.peer_id()).await;
    assert!(is_relayed(&through), "{through}");
    // The far end sees the relay's circuit too, not the bare id libp2p's relay names it by.
    let from = connection_to(&hidden, dialer.peer_id()).await;
    assert!(
        is_relayed(&from)
            && from
                .iter()
                .next()
                .is_some_and(|p| p == Protocol::Ip4(Ipv4Addr::LOCALHOST)),
        "{from}"
    );

    let usage = relay.resources().await.relay.expect("a relay");
    assert_eq!((usage.reservations, usage.circuits), (1, 1));
}

/// Hole punching (DCUtR) is offered by the dialing end of a relayed connection (the far end
/// starts it), and not by a node that turned it off (`[relay] hole-punching = false`).
#[tokio::test]
async fn hole_punching_is_offered_through_a_relay_unless_turned_off() {
    init_tracing();
    let relay = relay(RelayConfig::default()).await;
    for punching in [true, false] {
        let hidden = unlistening().await;
        let dialer = Node::builder(profile::Daemon)
            .with_mdns(false)
            .with_listen_addrs([])
            .with_hole_punching(punching)
            .build()
            .await
            .expect("node");
        let reachable = reserve(&hidden, &relay).await;
        let mut events = hidden.subscribe();
        dialer
            .connect(reachable)
            .await
            .expect("dial through the relay");
        let dialer_id = dialer.peer_id();
        let protocols = crate::nodes::wait_for(&mut events, |e| match e {
            Event::Identified {
                peer, protocols, ..
            } if peer == dialer_id => Some(protocols),
            _ => None,
        })
        .await;
        assert_eq!(
            protocols.iter().any(|p| p == "/libp2p/dcutr"),
            punching,
            "{protocols:?}"
        );
    }
}

/// A page reaches a relay over websockets only: a node with no other transport dials a peer
/// that reserved over TCP through the relay's ws address.
#[tokio::test]
async fn a_websocket_only_peer_dials_through_the_relays_ws_address() {
    init_tracing();
    let relay = relay(RelayConfig::default()).await;
    let hidden = unlistening().await;
    reserve(&hidden, &relay).await;
    let through_ws = addr_of(&relay, "ws")
        .await
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(hidden.peer_id()));
    let ws_only = Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addrs([])
        .with_transports([
            Arc::new(WebSocket::new()) as Arc<dyn Transport>,
            Arc::new(RelayClient::new()),
        ])
        .build()
        .await
        .expect("node");
    assert_eq!(
        within("dial", ws_only.connect(through_ws))
            .await
            .expect("dial through ws"),
        hidden.peer_id()
    );
}

#[tokio::test]
async fn a_relay_over_its_reservation_limit_refuses_and_keeps_serving() {
    init_tracing();
    let relay = relay(RelayConfig {
        max_reservations: 1,
        ..Default::default()
    })
    .await;
    let (first, second, dialer) = (
        unlistening().await,
        unlistening().await,
        unlistening().await,
    );
    let reachable = reserve(&first, &relay).await;
    let refused = second
        .listen(circuit(&relay).await)
        .await
        .expect_err("one reservation is the limit");
    let causes = causes(&refused);
    assert!(
        matches!(refused, ListenError::Failed { .. })
            && causes.to_lowercase().contains("resource limit exceeded"),
        "{causes}"
    );
    // The first keeps its reservation, and is reached through it.
    assert_eq!(
        within("dial", dialer.connect(reachable))
            .await
            .expect("dial"),
        first.peer_id()
    );
    let usage = relay.resources().await.relay.expect("a relay");
    assert_eq!(usage.reservations, 1);
    assert!(usage.refused >= 1, "{usage:?}");
}

#[tokio::test]
async fn a_circuit_closes_at_its_byte_limit_and_the_relay_serves_the_next() {
    init_tracing();
    let relay = relay(RelayConfig {
        max_circuit_bytes: 64 * 1024,
        ..Default::default()
    })
    .await;
    let (hidden, dialer) = (unlistening().await, unlistening().await);
    let reachable = reserve(&hidden, &relay).await;
    let big = hidden
        .block()
        .put(vec![7u8; 256 * 1024])
        .await
        .expect("put");
    let small = hidden.block().put(&b"small enough"[..]).await.expect("put");
    let mut events = dialer.subscribe();
    dialer.connect(reachable.clone()).await.expect("dial");
    let blocks = dialer.block();
    let fetch = blocks.get_with_timeout(&big, Duration::from_secs(5));
    let closed = disconnected(&mut events, hidden.peer_id());
    let (fetched, ()) = within("the circuit closes", futures::future::join(fetch, closed)).await;
    assert!(fetched.is_err(), "256 KiB crossed a 64 KiB circuit");

    // The relay and the reservation are still there: a new circuit carries a small block.
    dialer.connect(reachable).await.expect("dial again");
    let block = dialer
        .block()
        .get_with_timeout(&small, DEADLINE)
        .await
        .expect("the small block");
    assert_eq!(block.data().as_ref(), b"small enough");
}

#[tokio::test]
async fn a_circuit_closes_at_its_time_limit() {
    init_tracing();
    let relay = relay(RelayConfig {
        max_circuit_secs: 1,
        ..Default::default()
    })
    .await;
    let (hidden, dialer) = (unlistening().await, unlistening().await);
    let reachable = reserve(&hidden, &relay).await;
    let mut events = dialer.subscribe();
    dialer.connect(reachable).await.expect("dial");
    within(
        "the circuit closes",
        disconnected(&mut events, hidden.peer_id()),
    )
    .await;
}

#[tokio::test]
async fn a_lost_reservation_is_made_again() {
    init_tracing();
    let relay = relay(RelayConfig::default()).await;
    let hidden = unlistening().await;
    let mut events = hidden.subscribe();
    reserve(&hidden, &relay).await;
    // The relay drops the connection that holds the reservation.
    relay.disconnect(hidden.peer_id()).await;
    let mut expired = false;
    within("a new reservation", async {
        while let Some(event) = events.next().await {
            match event {
                Event::ListenAddrExpired(addr) if is_relayed(&addr) => expired = true,
                Event::ListenAddr(addr) if expired && is_relayed(&addr) => return,
                _ => {}
            }
        }
    })
    .await;
}

/// The seed's configuration listens and dials through `/p2p-webrtc-star` servers, which are
/// gone: both are refused, saying what replaced them.
#[tokio::test]
async fn webrtc_star_addresses_say_what_replaced_them() {
    let star: Multiaddr = "/dns4/wrtc-star1.par.dwebops.pub/tcp/443/wss/p2p-webrtc-star"
        .parse()
        .expect("the seed's address");
    let node = unlistening().await;
    let dialed = node
        .connect(star.clone().with(Protocol::P2p(node.peer_id())))
        .await
        .expect_err("retired");
    assert!(
        matches!(&dialed, DialError::Unsupported(Unsupported::Retired { .. }))
            && dialed.to_string().contains("p2p-circuit/webrtc"),
        "{dialed}"
    );
    let listened = node.listen(star.clone()).await.expect_err("retired");
    assert!(listened.to_string().contains("p2p-circuit"), "{listened}");
    let built = Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addrs([star])
        .build()
        .await
        .expect_err("retired");
    assert!(
        matches!(built, BuildError::Retired(_)) && built.to_string().contains("p2p-circuit"),
        "{built}"
    );
}
