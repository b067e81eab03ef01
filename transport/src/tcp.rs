//! TCP, upgraded with noise and/or TLS and yamux.

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;

use crate::{
    BuildError, Context, Environment, Kind, Runtime, Transport, Unsupported, is_dial_host, is_ip,
    protocols,
};

/// TCP (`/ip4|ip6|dns…/tcp/<port>`), secured with noise and/or TLS 1.3, multiplexed with yamux.
///
/// Dials to DNS names are resolved with the system resolver.
#[derive(Debug, Clone)]
pub struct Tcp {
    nodelay: bool,
}

impl Default for Tcp {
    fn default() -> Self {
        Self::new()
    }
}

impl Tcp {
    /// A TCP transport.
    ///
    /// Defaults: `TCP_NODELAY` on (libp2p's protocols are request/response heavy).
    pub fn new() -> Self {
        Self { nodelay: true }
    }

    /// Sets `TCP_NODELAY` on new sockets.
    pub fn with_nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }
}

/// Whether `addr` is `<ip|dns>/tcp/<port>` (with a trailing `/p2p` allowed).
pub(crate) fn is_tcp_dial(addr: &Multiaddr) -> bool {
    matches!(protocols(addr).as_slice(), [host, Protocol::Tcp(_)] if is_dial_host(host))
}

impl Transport for Tcp {
    fn kind(&self) -> Kind {
        Kind::Tcp
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Native]
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        matches!(protocols(addr).as_slice(), [host, Protocol::Tcp(_)] if is_ip(host))
    }

    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
        if is_tcp_dial(addr) {
            Ok(())
        } else {
            Err(Unsupported::Address(addr.clone()))
        }
    }

    fn build(&self, ctx: &Context) -> Result<crate::Boxed, BuildError> {
        match ctx.runtime() {
            Runtime::Tokio => {
                let config = libp2p::tcp::Config::new().nodelay(self.nodelay);
                let tcp = crate::dns(|| libp2p::tcp::tokio::Transport::new(config.clone()));
                crate::upgrade::stream_transport(tcp, ctx, Kind::Tcp)
            }
        }
    }
}
