//! What a transport is and where it runs.

use std::fmt;

/// The kind of a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// TCP with a security and a muxer upgrade.
    Tcp,
    /// QUIC v1 (`/quic-v1`).
    Quic,
    /// WebSocket, secure (`/wss`, `/tls/ws`) or not (`/ws`).
    WebSocket,
    /// WebRTC-direct (`/webrtc-direct`), browser to server.
    WebRtcDirect,
    /// WebRTC (`/webrtc`), browser to browser through a relay.
    WebRtc,
    /// Circuit relay v2's client (`/p2p-circuit`): through a relay.
    Relay,
    /// In-process memory channels (`/memory/<n>`), for tests and docs.
    Memory,
    /// A transport defined outside Switchboard, by name.
    Other(&'static str),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Tcp => "tcp",
            Kind::Quic => "quic-v1",
            Kind::WebSocket => "websocket",
            Kind::WebRtcDirect => "webrtc-direct",
            Kind::WebRtc => "webrtc",
            Kind::Relay => "p2p-circuit",
            Kind::Memory => "memory",
            Kind::Other(name) => name,
        })
    }
}

/// Where a transport can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Environment {
    /// A native process: a daemon, a relay, a CLI.
    Native,
    /// A web page (wasm32 in a browser).
    Browser,
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Environment::Native => "native",
            Environment::Browser => "browser",
        })
    }
}
