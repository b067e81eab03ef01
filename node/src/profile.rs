//! Environment profiles: the transports, discovery and filters a node starts from.
//!
//! A profile is applied first and every `Builder::with_*` call after it overrides it, as iroh's
//! presets. Switchboard ships `Daemon` (native processes) and `Browser` (web pages, built for
//! `wasm32-unknown-unknown`); each exists where its transports do. The relay profile follows.

use std::fmt;
use std::sync::Arc;

#[cfg(all(not(wasm_browser), feature = "quic"))]
use switchboard_transport::Quic;
#[cfg(not(wasm_browser))]
use switchboard_transport::Tcp;
use switchboard_transport::{Environment, Transport, WebRtcDirect, WebSocket};

use crate::Builder;

/// A starting configuration for a node in one environment.
pub trait Profile: fmt::Debug {
    /// The profile's name, for messages.
    fn name(&self) -> &'static str;

    /// The environment the profile's nodes run in; every transport must support it.
    fn environment(&self) -> Environment;

    /// Applies the profile's defaults to a fresh builder.
    fn apply(&self, builder: Builder) -> Builder;
}

/// A native daemon: TCP, QUIC v1 (with the `quic` feature), WebSocket (`ws`, and `wss` given a
/// certificate) and WebRTC-direct, mDNS on, every address allowed, websocket dial filter `all`.
/// WebRTC-direct runs on tokio only: on another runtime, build without it
/// (`Builder::without_transport(Kind::WebRtcDirect)`).
#[cfg(not(wasm_browser))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Daemon;

#[cfg(not(wasm_browser))]
impl Profile for Daemon {
    fn name(&self) -> &'static str {
        "daemon"
    }

    fn environment(&self) -> Environment {
        Environment::Native
    }

    fn apply(&self, builder: Builder) -> Builder {
        let transports: [Option<Arc<dyn Transport>>; 4] = [
            Some(Arc::new(Tcp::new())),
            #[cfg(feature = "quic")]
            Some(Arc::new(Quic::new())),
            #[cfg(not(feature = "quic"))]
            None,
            Some(Arc::new(WebSocket::new())),
            Some(Arc::new(WebRtcDirect::new())),
        ];
        builder
            .with_transports(transports.into_iter().flatten())
            .with_mdns(true)
    }
}

/// A node in a web page: it dials (a page cannot listen) over WebRTC-direct and WebSocket, the
/// latter with the dial filter
/// of a browser js-libp2p node ([`Filter::dns_wss`](switchboard_transport::Filter::dns_wss):
/// secure websockets to DNS names, so no insecure `ws` and no private IP addresses); mDNS off;
/// blocks in memory. `with_transport(Arc::new(WebSocket::new().with_filter(Filter::all())))`
/// is what lets `ws://127.0.0.1` through.
#[cfg(wasm_browser)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Browser;

#[cfg(wasm_browser)]
impl Profile for Browser {
    fn name(&self) -> &'static str {
        "browser"
    }

    fn environment(&self) -> Environment {
        Environment::Browser
    }

    fn apply(&self, builder: Builder) -> Builder {
        builder
            .with_transports([
                Arc::new(WebSocket::new()) as Arc<dyn Transport>,
                Arc::new(WebRtcDirect::new()),
            ])
            .with_mdns(false)
    }
}
