//! What Switchboard's tests, benches and `cargo xtask` drive: the `switchboard` binary as real
//! child processes ([`Switchboard`], [`Daemon`]), hosts in network namespaces ([`net`]), and
//! third-party peers that speak JSON lines ([`LinePeer`]: Helia, Kubo).
//!
//! Unpublished. Operations return `anyhow` errors, so the matrix can report a failed row and go
//! on; the shorthands tests use (`run_ok`, `daemon`, …) panic with the same message instead.
//! The `node` feature (on by default) adds the in-process helpers the crates' own tests use;
//! xtask builds without it, before any of the libp2p stack.

pub mod helia;
mod line_peer;
pub mod net;
#[cfg(feature = "node")]
mod node;
mod process;

use std::time::{Duration, Instant};

pub use line_peer::LinePeer;
#[cfg(feature = "node")]
pub use node::{addr_of, connection_to, init_tracing, tcp_node, tokio_rt, transport_of};
pub use process::{Daemon, Switchboard, api_port, http_request, http_status, try_http_status};

/// How long any one condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
pub fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    within(DEADLINE, check).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// Polls `check` until it returns `Some`, for at most `deadline`; `None` if it never did.
pub fn within<T>(deadline: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if start.elapsed() >= deadline {
            return None;
        }
        // A short park between polls of another process's state; the deadline bounds the wait.
        std::thread::park_timeout(Duration::from_millis(20));
    }
}

/// An error and its causes, `: `-separated, as the command line prints them.
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        text = format!("{text}: {e}");
        next = e.source();
    }
    text
}

/// Fails the test in one line unless it runs as root, saying what needs root and how to run
/// it: network namespaces and tmpfs mounts do.
pub fn require_root(what: &str) {
    assert!(
        net::is_root(),
        "this test needs root for {what}: run `sudo -E cargo test --workspace` (or `cargo xtask ci`, which installs what the tests need, as root)"
    );
}
