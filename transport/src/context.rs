//! What every transport is built for: a keypair, a runtime and the security protocols.

use std::time::Duration;

use libp2p::identity::Keypair;

/// The async runtime a transport's sockets are driven by.
///
/// rust-libp2p 0.57 drives its sockets with tokio only; the runtime is a parameter here so that
/// transports on other reactors can be added without touching the trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Runtime {
    /// tokio (the caller must be inside a tokio runtime when the transport is used).
    #[cfg_attr(not(wasm_browser), default)]
    Tokio,
    /// A web page's event loop, through wasm-bindgen futures (the browser owns the sockets).
    #[cfg_attr(wasm_browser, default)]
    Browser,
}

/// The security protocols offered on stream transports (TCP, WebSocket), in order of
/// preference. The dialer proposes, the listener accepts the first it supports, over
/// multistream-select, as Kubo and js-libp2p negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Security {
    /// `/noise` first, `/tls/1.0.0` as the alternative (the default: every libp2p speaks noise).
    #[default]
    NoiseThenTls,
    /// `/tls/1.0.0` first, `/noise` as the alternative.
    TlsThenNoise,
    /// `/noise` only.
    Noise,
    /// `/tls/1.0.0` only.
    Tls,
}

/// What a transport is built for.
#[derive(Debug, Clone)]
pub struct Context {
    keypair: Keypair,
    runtime: Runtime,
    security: Security,
    upgrade_timeout: Duration,
}

impl Context {
    /// A context for `keypair`.
    ///
    /// Defaults: [`Runtime::Tokio`] ([`Runtime::Browser`] in a web page),
    /// [`Security::NoiseThenTls`] (noise only in a web page, which has no libp2p TLS), a 20 s
    /// timeout for the security and muxer upgrades of a new connection.
    pub fn new(keypair: Keypair) -> Self {
        Self {
            keypair,
            runtime: Runtime::default(),
            security: Security::NoiseThenTls,
            upgrade_timeout: Duration::from_secs(20),
        }
    }

    /// Sets the runtime.
    pub fn with_runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Sets the security protocols offered on stream transports.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }

    /// Sets how long a new connection may take to upgrade.
    pub fn with_upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade_timeout = timeout;
        self
    }

    /// The node's keypair.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The runtime.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The security protocols.
    pub fn security(&self) -> Security {
        self.security
    }

    /// The upgrade timeout.
    pub fn upgrade_timeout(&self) -> Duration {
        self.upgrade_timeout
    }
}
