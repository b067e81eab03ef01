//! Environment profiles: the transports, discovery and filters a node starts from.
//!
//! A profile is applied first and every `Builder::with_*` call after it overrides it, as iroh's
//! presets. Switchboard ships [`Daemon`]; the browser and relay profiles follow.

use std::fmt;
use std::sync::Arc;

use switchboard_transport::{Environment, Quic, Tcp, Transport, WebSocket};

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

/// A native daemon: TCP, QUIC v1 and WebSocket (`ws`, and `wss` given a certificate), mDNS on,
/// every address allowed, websocket dial filter `all`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Daemon;

impl Profile for Daemon {
    fn name(&self) -> &'static str {
        "daemon"
    }

    fn environment(&self) -> Environment {
        Environment::Native
    }

    fn apply(&self, builder: Builder) -> Builder {
        builder
            .with_transports([
                Arc::new(Tcp::new()) as Arc<dyn Transport>,
                Arc::new(Quic::new()),
                Arc::new(WebSocket::new()),
            ])
            .with_mdns(true)
    }
}
