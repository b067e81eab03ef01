//! What Switchboard's tests, benches and `cargo xtask` drive: the `switchboard` binary as real
//! child processes ([`Switchboard`], [`Daemon`]), hosts on a LAN of network namespaces
//! ([`lan::Lan`]), and a Helia peer ([`helia::Helia`]). Unpublished; everything here panics
//! with a clear message instead of returning errors, as a test wants.

pub mod helia;
pub mod lan;
mod process;

use std::time::{Duration, Instant};

use libp2p::Multiaddr;
pub use process::{Daemon, Switchboard, api_port, http_request, http_status, try_http_status};

/// How long any one condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Logs to stderr when `RUST_LOG` is set, for debugging a failing test.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::yield_now();
        // A short park between polls of another process's state; the deadline bounds the wait.
        std::thread::park_timeout(Duration::from_millis(50));
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

/// The tokio runtime the caller runs in, as a node or transport takes it.
pub fn tokio_rt() -> switchboard_node::transport::runtime::Handle {
    use switchboard_node::transport::runtime::{Handle, Tokio};
    Handle::new(Tokio::current().expect("inside a tokio runtime"))
}

/// Which transport a listen address belongs to, as the matrix names them.
pub fn transport_of(addr: &Multiaddr) -> &'static str {
    switchboard_node::transport::label(addr).expect("an address of a known transport")
}

/// Fails the test in one line unless it runs as root, saying what needs root and how to run
/// it: network namespaces and tmpfs mounts do.
pub fn require_root(what: &str) {
    assert!(
        lan::is_root(),
        "this test needs root for {what}: run `sudo -E cargo test --workspace` (or `cargo xtask ci`, which installs what the tests need, as root)"
    );
}
