//! Errors of building a node and of what a running node is asked to do.

use std::sync::Arc;
use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use switchboard_filters::Denied;
use switchboard_transport::{Environment, Kind, Unsupported};

#[cfg(not(wasm_browser))]
use crate::repo::RepoError;

/// Why a node could not be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A transport does not run in the profile's environment.
    #[error("the {kind} transport does not run in the {profile} profile ({environment})")]
    UnsupportedTransport {
        /// The transport.
        kind: Kind,
        /// The profile.
        profile: &'static str,
        /// The profile's environment.
        environment: Environment,
    },
    /// No transport of the node listens on an address.
    #[error("no transport of the {profile} profile listens on {addr}")]
    UnsupportedListenAddr {
        /// The address.
        addr: Multiaddr,
        /// The profile.
        profile: &'static str,
    },
    /// A listen address is of a kind the network no longer runs (the seed's
    /// `/p2p-webrtc-star`); the error says what replaced it.
    #[error(transparent)]
    Retired(Unsupported),
    /// A listener could not be started (port in use, address not local, …).
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why, as the operating system or transport said it.
        #[source]
        source: std::io::Error,
    },
    /// A listener started but reported no address in time.
    #[error("no listen address for {addr} after {after:?}")]
    ListenTimeout {
        /// The address.
        addr: Multiaddr,
        /// How long the node waited.
        after: Duration,
    },
    /// A transport could not be built.
    #[error(transparent)]
    Transport(#[from] switchboard_transport::BuildError),
    /// mDNS could not start.
    #[error("cannot start mDNS")]
    Mdns(#[source] std::io::Error),
    /// The repo's settings could not be applied.
    #[cfg(not(wasm_browser))]
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// mDNS does not run on the node's runtime (a web page has no UDP multicast).
    #[error("mDNS is not available on the {runtime} runtime")]
    MdnsUnsupported {
        /// The runtime's name.
        runtime: &'static str,
    },
    /// No runtime was given and none was found where the node was built.
    #[error(
        "no async runtime: give the node one with `Builder::with_runtime` (or, with the `tokio` feature, build it inside a tokio runtime)"
    )]
    NoRuntime,
    /// The runtime dropped the build before it finished (it was shutting down, or building
    /// panicked).
    #[error("the runtime stopped before the node was built")]
    RuntimeStopped,
}

/// What went wrong underneath, shared: a dial's result goes to every caller waiting on it.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// Why a dial failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// A filter rule denies the address.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// No transport dials the address, or a transport's filter refuses it.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// The peer at the address is not the one its `/p2p` named.
    #[error("wrong peer id at {addr}: expected {expected}, got {obtained}")]
    WrongPeerId {
        /// The address.
        addr: Multiaddr,
        /// The peer the address named.
        expected: PeerId,
        /// The peer that answered.
        obtained: PeerId,
    },
    /// The dial did not complete in time.
    #[error("dial to {addr} timed out after {after:?}")]
    Timeout {
        /// The address.
        addr: Multiaddr,
        /// The timeout.
        after: Duration,
    },
    /// The address could not be reached or the handshake failed.
    #[error("cannot reach {addr}")]
    Unreachable {
        /// The address.
        addr: Multiaddr,
        /// What went wrong, as the transport said it.
        #[source]
        source: Cause,
    },
    /// A connection limit refused the dial, or the peer is banned.
    #[error("dial to {addr} refused: {exceeded}")]
    Limit {
        /// The address.
        addr: Multiaddr,
        /// Which limit.
        #[source]
        exceeded: crate::resources::Exceeded,
    },
    /// The address is the node's own.
    #[error("{0} is this node's own address")]
    SelfDial(Multiaddr),
    /// A peer id was given with no address, and none is known for it.
    #[error("no known address for {0}")]
    NoAddress(PeerId),
    /// The node has shut down.
    #[error("the node has shut down")]
    Stopped,
}

/// Why a listener could not be started on a running node.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// No transport of the node listens on the address (or it is of a retired kind, which the
    /// error explains).
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// The listener failed: the port is in use, the relay refused a reservation or could not be
    /// reached, …
    #[error("cannot listen on {addr}")]
    Failed {
        /// The address.
        addr: Multiaddr,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// The node has shut down.
    #[error("the node has shut down")]
    Stopped,
}

/// Why a ping failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PingError {
    /// The peer could not be reached.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// The peer does not speak `/ipfs/ping/1.0.0`.
    #[error("{0} does not support ping")]
    Unsupported(PeerId),
    /// The stream could not be opened, or failed.
    #[error("ping to {peer} failed")]
    Failed {
        /// The peer.
        peer: PeerId,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// The peer echoed other bytes than it was sent.
    #[error("{peer} echoed other bytes than the ping sent")]
    WrongEcho {
        /// The peer.
        peer: PeerId,
    },
    /// No answer in time.
    #[error("ping to {peer} timed out after {after:?}")]
    Timeout {
        /// The peer.
        peer: PeerId,
        /// The timeout.
        after: Duration,
    },
}
