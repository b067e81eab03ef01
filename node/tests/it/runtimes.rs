//! Nodes on smol and async-std (the async-io reactor) next to a node on tokio: each connects
//! to each over loopback TCP, QUIC and ws and fetches the other's block.

use std::sync::Arc;

use futures::executor::block_on;
use libp2p::multiaddr::Protocol;
use switchboard_node::runtime::{AsyncStd, Runtime, Smol, Tokio};
use switchboard_node::transport::{
    BuildError as TransportError, Kind, Quic, Tcp, Transport, WebSocket,
};
use switchboard_node::{BuildError, Node, profile};
use switchboard_testkit::addr_of;

/// A node on `runtime` with TCP, QUIC and ws on loopback, mDNS off.
async fn node_on(runtime: impl Runtime) -> Node {
    Node::builder(profile::Daemon)
        .with_runtime(runtime)
        .with_mdns(false)
        .with_transports([
            Arc::new(Tcp::new()) as Arc<dyn Transport>,
            Arc::new(Quic::new()),
            Arc::new(WebSocket::new()),
        ])
        .with_listen_addrs([
            "/ip4/127.0.0.1/tcp/0".parse().expect("addr"),
            "/ip4/127.0.0.1/udp/0/quic-v1".parse().expect("addr"),
            "/ip4/127.0.0.1/tcp/0/ws".parse().expect("addr"),
        ])
        .build()
        .await
        .expect("node")
}

#[test]
fn nodes_on_smol_async_std_and_tokio_exchange_blocks() {
    switchboard_testkit::init_tracing();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    // Fresh nodes per transport, so that each fetch crosses a connection of that transport.
    for transport in ["tcp", "quic-v1", "ws"] {
        let nodes = [
            (
                "tokio",
                tokio.block_on(async { node_on(Tokio::current().expect("tokio")).await }),
            ),
            ("smol", smol::block_on(node_on(Smol::new()))),
            ("async-std", async_std::task::block_on(node_on(AsyncStd))),
        ];
        for (i, (from_name, from)) in nodes.iter().enumerate() {
            let data = format!("a block from the node on {from_name} over {transport}");
            let cid = block_on(from.block().put(data.clone().into_bytes())).expect("put");
            for (j, (to_name, to)) in nodes.iter().enumerate() {
                if i == j {
                    continue;
                }
                block_on(async {
                    let addr = addr_of(from, transport).await;
                    to.connect(addr).await.unwrap_or_else(|e| {
                        panic!("{to_name} cannot dial {from_name} over {transport}: {e}")
                    });
                    let block = to.block().get(&cid).await.unwrap_or_else(|e| {
                        panic!("{to_name} cannot fetch from {from_name} over {transport}: {e}")
                    });
                    assert_eq!(block.data(), data.as_bytes(), "{from_name} -> {to_name}");
                });
            }
        }
        for (_, node) in nodes {
            block_on(node.shutdown());
        }
    }
}

/// On async-io, `/dns*` names are resolved with the system resolver (here `localhost`, from
/// `/etc/hosts`: nothing is asked of a DNS server) before TCP, ws and QUIC dial.
#[test]
fn nodes_on_smol_dial_dns_names() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let target = tokio.block_on(async { node_on(Tokio::current().expect("tokio")).await });
    let dialer = smol::block_on(node_on(Smol::new()));
    block_on(async {
        for transport in ["tcp", "quic-v1", "ws"] {
            let addr = addr_of(&target, transport).await;
            let named: libp2p::Multiaddr = std::iter::once(Protocol::Dns4("localhost".into()))
                .chain(addr.iter().skip(1))
                .collect();
            let peer = dialer
                .connect(named.clone())
                .await
                .unwrap_or_else(|e| panic!("smol dialing {named}: {e}"));
            assert_eq!(peer, target.peer_id());
        }
        dialer.shutdown().await;
        target.shutdown().await;
    });
}

/// A transport that needs tokio (WebRTC-direct) is refused on an async-io runtime, naming both.
/// (mDNS runs on async-io; `cargo xtask ci` runs `discover_localhost` on smol and async-std
/// in a network namespace, as multicast must not reach real interfaces.)
#[test]
fn tokio_only_transports_are_refused_on_smol() {
    let built = smol::block_on(
        Node::builder(profile::Daemon)
            .with_runtime(Smol::new())
            .with_mdns(false)
            .build(),
    );
    match built {
        Err(BuildError::Transport(TransportError::UnsupportedRuntime { kind, runtime })) => {
            assert_eq!((kind, runtime), (Kind::WebRtcDirect, "smol"));
        }
        other => panic!("expected WebRTC-direct to be refused on smol, got {other:?}"),
    }
}

/// A node given a tokio runtime's handle is built and used from outside that runtime (a plain
/// executor on this thread): its sockets are made on the runtime.
#[test]
fn a_tokio_node_is_built_from_outside_its_runtime() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let rt = Tokio::from_handle(tokio.handle().clone());
    let a = block_on(node_on(rt.clone()));
    let b = block_on(node_on(rt));
    block_on(async {
        let cid = a.block().put(&b"built outside"[..]).await.expect("put");
        b.connect(addr_of(&a, "quic-v1").await)
            .await
            .expect("connect");
        assert_eq!(
            &b.block().get(&cid).await.expect("get").data()[..],
            b"built outside"
        );
        a.shutdown().await;
        b.shutdown().await;
    });
}

/// `without_transport` drops the transport and the listen addresses only it served.
#[test]
fn without_a_transport_its_addresses_go_too() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let node = tokio.block_on(async {
        Node::builder(profile::Daemon)
            .with_mdns(false)
            .with_listen_addrs([
                "/ip4/127.0.0.1/tcp/0".parse().expect("addr"),
                "/ip4/127.0.0.1/udp/0/quic-v1".parse().expect("addr"),
                "/ip4/127.0.0.1/tcp/0/ws".parse().expect("addr"),
            ])
            .without_transport(Kind::Quic)
            .without_transport(Kind::WebRtcDirect)
            .build()
            .await
            .expect("node")
    });
    let mut labels: Vec<_> = tokio
        .block_on(node.listen_addrs())
        .iter()
        .map(switchboard_testkit::transport_of)
        .collect();
    labels.sort_unstable();
    assert_eq!(labels, ["tcp", "ws"]);
    tokio.block_on(node.shutdown());
}

/// Without a runtime given, a node built outside tokio says how to give it one.
#[test]
fn a_node_built_outside_any_runtime_says_what_it_needs() {
    let built = block_on(Node::builder(profile::Daemon).with_mdns(false).build());
    let error = built.expect_err("no runtime");
    assert!(matches!(error, BuildError::NoRuntime), "{error:?}");
    assert!(error.to_string().contains("with_runtime"), "{error}");
}
