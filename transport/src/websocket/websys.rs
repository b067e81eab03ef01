//! WebSocket through the browser's `WebSocket` API, for nodes in a web page.

use libp2p::Multiaddr;
use switchboard_filters::Filter;

use super::check_dial;
use crate::{Boxed, BuildError, Context, Environment, Kind, Runtime, Transport, Unsupported};

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

    fn build(&self, ctx: &Context) -> Result<Boxed, BuildError> {
        match ctx.runtime() {
            Runtime::Browser => crate::upgrade::stream_transport(
                libp2p::websocket_websys::Transport::default(),
                ctx,
                Kind::WebSocket,
            ),
            runtime => Err(BuildError::UnsupportedRuntime {
                kind: Kind::WebSocket,
                runtime,
            }),
        }
    }
}
