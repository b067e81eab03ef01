//! TCP, upgraded with noise and/or TLS and yamux.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use libp2p::Multiaddr;
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::multiaddr::Protocol;

use switchboard_runtime::Reactor;

use crate::{
    BuildError, Built, Context, Environment, Kind, Transport, Unsupported, is_dial_host, is_ip,
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

    fn build(&self, ctx: &Context) -> Result<Built, BuildError> {
        self.boxed(ctx).map(Built::new)
    }
}

impl Tcp {
    /// The libp2p transport, for the runtime's reactor.
    fn boxed(&self, ctx: &Context) -> Result<crate::Boxed, BuildError> {
        match ctx.runtime().reactor() {
            #[cfg(feature = "tokio")]
            Reactor::Tokio => {
                let config = libp2p_tcp::Config::new().nodelay(self.nodelay);
                let tcp = crate::dns(|| ExclusivePort::tokio(config.clone()));
                crate::upgrade::stream_transport(tcp, ctx, Kind::Tcp)
            }
            #[cfg(feature = "async-io")]
            Reactor::AsyncIo => {
                let config = libp2p_tcp::Config::new().nodelay(self.nodelay);
                let tcp = crate::resolve::Resolving::new(
                    ExclusivePort::async_io(config),
                    ctx.runtime().clone(),
                );
                crate::upgrade::stream_transport(tcp, ctx, Kind::Tcp)
            }
            _ => Err(BuildError::UnsupportedRuntime {
                kind: Kind::Tcp,
                runtime: ctx.runtime().name(),
            }),
        }
    }
}

/// A TCP transport whose listeners refuse a port another process already listens on.
///
/// libp2p-tcp sets `SO_REUSEPORT` on listeners (for port reuse when dialing), so a second
/// daemon on the same port would silently share it with the first and get half its
/// connections. A probe bind without `SO_REUSEPORT` fails on such a port; then the listen
/// fails with "address in use" as an operator expects.
pub(crate) struct ExclusivePort<T>(T);

#[cfg(feature = "tokio")]
impl ExclusivePort<libp2p_tcp::tokio::Transport> {
    /// libp2p-tcp on tokio's reactor.
    pub(crate) fn tokio(config: libp2p_tcp::Config) -> Self {
        Self(libp2p_tcp::tokio::Transport::new(config))
    }
}

#[cfg(feature = "async-io")]
impl ExclusivePort<libp2p_tcp::async_io::Transport> {
    /// libp2p-tcp on async-io's reactor (smol, async-std).
    pub(crate) fn async_io(config: libp2p_tcp::Config) -> Self {
        Self(libp2p_tcp::async_io::Transport::new(config))
    }
}

impl<T> libp2p::Transport for ExclusivePort<T>
where
    T: libp2p::Transport<Error = std::io::Error> + Unpin,
{
    type Output = T::Output;
    type Error = std::io::Error;
    type ListenerUpgrade = T::ListenerUpgrade;
    type Dial = T::Dial;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        let socket = match protocols(&addr).as_slice() {
            [Protocol::Ip4(ip), Protocol::Tcp(port)] if *port != 0 => {
                Some(SocketAddr::from((*ip, *port)))
            }
            [Protocol::Ip6(ip), Protocol::Tcp(port)] if *port != 0 => {
                Some(SocketAddr::from((*ip, *port)))
            }
            _ => None,
        };
        if let Some(Err(e)) = socket.map(std::net::TcpListener::bind)
            && e.kind() == std::io::ErrorKind::AddrInUse
        {
            return Err(TransportError::Other(e));
        }
        self.0.listen_on(id, addr)
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.0.remove_listener(id)
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        self.0.dial(addr, opts)
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        Pin::new(&mut self.0).poll(cx)
    }
}
