//! Errors of building transports and of asking them about addresses.

#[cfg(not(wasm_browser))]
use std::path::PathBuf;

use libp2p::Multiaddr;
use switchboard_filters::Filter;

use crate::{Environment, Kind};

/// Why a transport could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The transport does not run on this runtime.
    #[error("the {kind} transport does not run on the {runtime} runtime")]
    UnsupportedRuntime {
        /// The transport.
        kind: Kind,
        /// The runtime's name (`tokio`, `smol`, `async-std`, `browser`, or one of yours).
        runtime: &'static str,
    },
    /// The transport does not run in this environment.
    #[error("the {kind} transport does not run in a {environment} environment")]
    UnsupportedEnvironment {
        /// The transport.
        kind: Kind,
        /// The environment asked for.
        environment: Environment,
    },
    /// The security upgrade could not be set up.
    #[error("cannot set up {protocol} for the {kind} transport")]
    Security {
        /// The transport.
        kind: Kind,
        /// `noise` or `tls`.
        protocol: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The TLS certificate for `/wss` was not usable.
    #[cfg(not(wasm_browser))]
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The transport speaks a protocol over the node's connections and was built without
    /// them ([`Context::with_streams`](crate::Context::with_streams)).
    #[error("the {kind} transport needs the node's streams")]
    NeedsStreams {
        /// The transport.
        kind: Kind,
    },
    /// Two transports brought the same behaviour (two relay clients, say).
    #[error("two transports bring the {kind} behaviour")]
    DuplicateCompanion {
        /// The transport whose behaviour came twice.
        kind: Kind,
    },
    /// Any other cause, from a transport defined outside this crate.
    #[error("cannot build the {kind} transport")]
    Other {
        /// The transport.
        kind: Kind,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why a TLS certificate could not be loaded or made.
#[cfg(not(wasm_browser))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// A PEM file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The PEM text held no certificate.
    #[error("no certificate in the PEM text")]
    NoCertificate,
    /// The PEM text held no private key, or one that is not PKCS#8, PKCS#1 or SEC1.
    #[error("no usable private key in the PEM text")]
    NoKey,
    /// The PEM text was malformed.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// The key does not match the certificate, or rustls refused the pair.
    #[error("certificate and key are not usable together: {0}")]
    Rejected(String),
    /// A self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate")]
    Generate(#[source] rcgen::Error),
}

/// Why a transport will not dial an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// The address is not one this transport dials.
    #[error("no transport dials {0}")]
    Address(Multiaddr),
    /// The address is of a kind the network no longer runs, and what replaced it.
    #[error("{addr}: {replaced}")]
    Retired {
        /// The address.
        addr: Multiaddr,
        /// What replaced it, and which address to use instead.
        replaced: &'static str,
    },
    /// The transport could dial the address, but its dial filter refuses it.
    #[error("{addr} refused by the websocket filter `{filter}`")]
    Filtered {
        /// The address.
        addr: Multiaddr,
        /// The filter that refused it.
        filter: Filter,
    },
}
