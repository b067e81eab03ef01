//! In-process helpers for the crates' own tests: nodes on loopback, the runtime, tracing.

use libp2p::Multiaddr;

/// Logs to stderr when `RUST_LOG` is set, for debugging a failing test.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// An in-process daemon listening on loopback TCP, mDNS off.
pub async fn tcp_node() -> switchboard_node::Node {
    switchboard_node::Node::builder(switchboard_node::profile::Daemon)
        .with_mdns(false)
        .with_listen_addr("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .build()
        .await
        .expect("node")
}

/// `node`'s first listen address of `transport`, with `/p2p`.
pub async fn addr_of(node: &switchboard_node::Node, transport: &str) -> Multiaddr {
    let addr = node
        .listen_addrs()
        .await
        .into_iter()
        .find(|a| transport_of(a) == transport)
        .expect("listener");
    addr.with_p2p(node.peer_id()).expect("no /p2p yet")
}

/// The address `node` reaches `peer` at, as `swarm peers` shows it (a direct connection over
/// a relayed one).
pub async fn connection_to(node: &switchboard_node::Node, peer: libp2p::PeerId) -> Multiaddr {
    node.peers()
        .await
        .into_iter()
        .find(|p| p.peer == peer)
        .expect("connected")
        .addr
}

/// The tokio runtime the caller runs in, as a node or transport takes it.
pub fn tokio_rt() -> switchboard_node::transport::runtime::Handle {
    use switchboard_node::transport::runtime::{Handle, Tokio};
    Handle::new(Tokio::current().expect("inside a tokio runtime"))
}

/// Which transport a listen address belongs to, as the matrix names them.
pub fn transport_of(addr: &Multiaddr) -> &'static str {
    switchboard_node::transport::label(addr).expect("an address of a known transport")
}

impl crate::Daemon {
    /// Its listen address of `transport` (as [`transport_of`] names them), with `/p2p`.
    pub fn addr(&self, transport: &str) -> Multiaddr {
        self.addr_where(|a| switchboard_node::transport::label(a) == Some(transport))
            .unwrap_or_else(|| panic!("no {transport} listen address in {:?}", self.listen_addrs))
    }
}
