//! What every transport is built for: a keypair, a runtime and the security protocols.

use std::time::Duration;

use libp2p::identity::Keypair;
use switchboard_runtime::Handle;

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
#[derive(Clone)]
pub struct Context {
    keypair: Keypair,
    runtime: Handle,
    security: Security,
    upgrade_timeout: Duration,
    streams: Option<libp2p_stream::Control>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("peer", &self.keypair.public().to_peer_id())
            .field("runtime", &self.runtime.name())
            .field("security", &self.security)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("streams", &self.streams.is_some())
            .finish()
    }
}

impl Context {
    /// A context for `keypair` on `runtime`, whose reactor decides which sockets the
    /// transports use.
    ///
    /// Defaults: [`Security::NoiseThenTls`] (noise only in a web page, which has no libp2p
    /// TLS), a 20 s timeout for the security and muxer upgrades of a new connection, no
    /// streams (see [`Context::with_streams`]).
    pub fn new(keypair: Keypair, runtime: Handle) -> Self {
        Self {
            keypair,
            runtime,
            security: Security::NoiseThenTls,
            upgrade_timeout: Duration::from_secs(20),
            streams: None,
        }
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

    /// Gives transports the node's streams (its libp2p-stream behaviour's control): a
    /// transport that speaks a protocol over the node's other connections, as `/webrtc`
    /// signals over relayed ones, opens and accepts its streams there.
    pub fn with_streams(mut self, control: libp2p_stream::Control) -> Self {
        self.streams = Some(control);
        self
    }

    /// The node's streams, if it gave them.
    pub fn streams(&self) -> Option<&libp2p_stream::Control> {
        self.streams.as_ref()
    }

    /// The node's keypair.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The runtime.
    pub fn runtime(&self) -> &Handle {
        &self.runtime
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
