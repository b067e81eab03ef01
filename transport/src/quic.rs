//! QUIC v1, with its built-in TLS 1.3 and stream multiplexing.

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, Transport as _};

use switchboard_runtime::Reactor;

use crate::{
    BuildError, Built, Context, Environment, Kind, Transport, Unsupported, is_dial_host, is_ip,
    protocols,
};

/// QUIC v1 (`/ip4|ip6|dns…/udp/<port>/quic-v1`). Security and multiplexing are QUIC's own.
#[derive(Debug, Clone, Default)]
pub struct Quic {
    _private: (),
}

impl Quic {
    /// A QUIC v1 transport with libp2p-quic's defaults.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Transport for Quic {
    fn kind(&self) -> Kind {
        Kind::Quic
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Native]
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        matches!(protocols(addr).as_slice(), [host, Protocol::Udp(_), Protocol::QuicV1] if is_ip(host))
    }

    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
        match protocols(addr).as_slice() {
            [host, Protocol::Udp(_), Protocol::QuicV1] if is_dial_host(host) => Ok(()),
            _ => Err(Unsupported::Address(addr.clone())),
        }
    }

    fn build(&self, ctx: &Context) -> Result<Built, BuildError> {
        self.boxed(ctx).map(Built::new)
    }
}

impl Quic {
    /// The libp2p transport, for the runtime's reactor.
    fn boxed(&self, ctx: &Context) -> Result<crate::Boxed, BuildError> {
        match ctx.runtime().reactor() {
            #[cfg(feature = "tokio")]
            Reactor::Tokio => {
                let config = libp2p_quic::Config::new(ctx.keypair());
                let quic = crate::dns(|| libp2p_quic::tokio::Transport::new(config.clone()));
                Ok(quic
                    .map(|(peer, conn), _| (peer, StreamMuxerBox::new(conn)))
                    .boxed())
            }
            #[cfg(feature = "async-io")]
            Reactor::AsyncIo => {
                let config = libp2p_quic::Config::new(ctx.keypair());
                let quic = crate::resolve::Resolving::new(
                    libp2p_quic::async_io::Transport::new(config),
                    ctx.runtime().clone(),
                );
                Ok(quic
                    .map(|(peer, conn), _| (peer, StreamMuxerBox::new(conn)))
                    .boxed())
            }
            _ => Err(BuildError::UnsupportedRuntime {
                kind: Kind::Quic,
                runtime: ctx.runtime().name(),
            }),
        }
    }
}
