//! In-process memory channels, for tests and documentation.

use libp2p::Multiaddr;
use libp2p::core::transport::MemoryTransport;
use libp2p::multiaddr::Protocol;

use crate::{BuildError, Built, Context, Environment, Kind, Transport, Unsupported, protocols};

/// `/memory/<n>` channels inside one process, upgraded like TCP (noise and/or TLS, yamux).
/// Needs no sockets and no runtime, so doctests and unit tests use it.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    _private: (),
}

impl Memory {
    /// A memory transport.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Transport for Memory {
    fn kind(&self) -> Kind {
        Kind::Memory
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Native, Environment::Browser]
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        matches!(protocols(addr).as_slice(), [Protocol::Memory(_)])
    }

    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
        match protocols(addr).as_slice() {
            [Protocol::Memory(port)] if *port != 0 => Ok(()),
            _ => Err(Unsupported::Address(addr.clone())),
        }
    }

    fn build(&self, ctx: &Context) -> Result<Built, BuildError> {
        self.boxed(ctx).map(Built::new)
    }
}

impl Memory {
    /// The libp2p transport, for the runtime's reactor.
    fn boxed(&self, ctx: &Context) -> Result<crate::Boxed, BuildError> {
        crate::upgrade::stream_transport(MemoryTransport::default(), ctx, Kind::Memory)
    }
}
