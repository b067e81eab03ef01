//! Environment profiles: the transports, discovery and filters a node starts from.
//!
//! A profile is applied first and every `Builder::with_*` call after it overrides it, as iroh's
//! presets. Switchboard ships `Daemon` (native processes), `Relay` (a native daemon that
//! serves as a circuit relay) and `Browser` (web pages, built for `wasm32-unknown-unknown`);
//! each exists where its transports do.

use std::fmt;
use std::sync::Arc;

#[cfg(all(not(wasm_browser), feature = "quic"))]
use switchboard_transport::Quic;
#[cfg(not(wasm_browser))]
use switchboard_transport::Tcp;
use switchboard_transport::{
    Environment, Relay as RelayClient, Transport, WebRtc, WebRtcDirect, WebSocket,
};

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
/// certificate), WebRTC-direct, circuit relay's client (reserving on relays, dialing through
/// them) and `/webrtc` (dialing browsers and peers behind NATs through relays; listening too,
/// given `/webrtc` and a reservation), mDNS on, every address allowed, websocket dial filter
/// `all`.
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
        let transports: [Option<Arc<dyn Transport>>; 6] = [
            Some(Arc::new(Tcp::new())),
            #[cfg(feature = "quic")]
            Some(Arc::new(Quic::new())),
            #[cfg(not(feature = "quic"))]
            None,
            Some(Arc::new(WebSocket::new())),
            Some(Arc::new(WebRtcDirect::new())),
            Some(Arc::new(RelayClient::new())),
            Some(Arc::new(WebRtc::new())),
        ];
        builder
            .with_transports(transports.into_iter().flatten())
            .with_mdns(true)
    }
}

/// A daemon on the public side of NATs that serves as a circuit relay v2 for peers that cannot
/// be dialed (browsers, daemons behind NATs): the [`Daemon`] profile's transports, the relay
/// server on with the default [`config::Relay`](crate::config::Relay) limits, mDNS off (a
/// relay serves the internet, not its LAN).
#[cfg(not(wasm_browser))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Relay;

#[cfg(not(wasm_browser))]
impl Profile for Relay {
    fn name(&self) -> &'static str {
        "relay"
    }

    fn environment(&self) -> Environment {
        Environment::Native
    }

    fn apply(&self, builder: Builder) -> Builder {
        Daemon
            .apply(builder)
            .with_mdns(false)
            .with_relay(crate::config::Relay {
                serve: true,
                ..Default::default()
            })
    }
}

/// A node in a web page: it dials over WebRTC-direct, WebSocket, through circuit relays and
/// over `/webrtc` (a page cannot listen itself, but a relay can listen on its behalf: reserve
/// with `Node::listen` on `/…/p2p/RELAY/p2p-circuit`, and listen on `/webrtc` to be reached
/// at `/…/p2p/RELAY/p2p-circuit/webrtc/p2p/SELF` by a direct WebRTC connection); WebSocket
/// with the dial filter
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
                Arc::new(RelayClient::new()),
                Arc::new(WebRtc::new()),
            ])
            .with_mdns(false)
    }
}
