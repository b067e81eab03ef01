//! WebSocket through the browser's `WebSocket` API, for nodes in a web page.

use std::io;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures::{AsyncRead, AsyncWrite};
use libp2p::Multiaddr;
use libp2p::Transport as _;
use switchboard_filters::Filter;

use super::check_dial;
use switchboard_runtime::Reactor;

use crate::{BuildError, Built, Context, Environment, Kind, Transport, Unsupported};

/// WebSocket from a web page, upgraded with noise and yamux inside the websocket. Dials only
/// (a page cannot listen), what its [`Filter`] lets through. The browser checks `/wss`
/// certificates against its own trust store.
#[derive(Debug, Clone)]
pub struct WebSocket {
    filter: Filter,
}

impl Default for WebSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl WebSocket {
    /// A websocket transport for a web page.
    ///
    /// Defaults: dial filter [`Filter::dns_wss`], what a browser js-libp2p node used: secure
    /// websockets to DNS names only, so no insecure `ws` and no private IP addresses.
    /// [`Filter::all`] lets `ws://127.0.0.1` through.
    pub fn new() -> Self {
        Self {
            filter: Filter::dns_wss(),
        }
    }

    /// Sets the dial filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// The dial filter.
    pub fn filter(&self) -> Filter {
        self.filter
    }
}

impl Transport for WebSocket {
    fn kind(&self) -> Kind {
        Kind::WebSocket
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Browser]
    }

    fn can_listen(&self, _: &Multiaddr) -> bool {
        false
    }

    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
        check_dial(addr, self.filter)
    }

    fn build(&self, ctx: &Context) -> Result<Built, BuildError> {
        self.boxed(ctx).map(Built::new)
    }
}

impl WebSocket {
    /// The libp2p transport, for the runtime's reactor.
    fn boxed(&self, ctx: &Context) -> Result<crate::Boxed, BuildError> {
        match ctx.runtime().reactor() {
            Reactor::Browser => crate::upgrade::stream_transport(
                libp2p::websocket_websys::Transport::default().map(|conn, _| EagerFlush(conn)),
                ctx,
                Kind::WebSocket,
            ),
            _ => Err(BuildError::UnsupportedRuntime {
                kind: Kind::WebSocket,
                runtime: ctx.runtime().name(),
            }),
        }
    }
}

/// A browser WebSocket whose flush returns once the data is handed to the browser, as a native
/// socket's flush returns once the data is in the kernel. libp2p-websocket-websys 0.6 waits for
/// the socket's `bufferedAmount` to reach 0, which it checks every 100 ms: each flush (every
/// noise handshake message, every Bitswap message) cost up to 100 ms. Writes still wait while
/// the browser holds 1 MiB unsent, so back-pressure is kept.
struct EagerFlush<C>(C);

impl<C: AsyncRead + Unpin> AsyncRead for EagerFlush<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<C: AsyncWrite + Unpin> AsyncWrite for EagerFlush<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
