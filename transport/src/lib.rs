//! Pluggable transports for Switchboard.
//!
//! A library author picks which transports a node speaks, per environment profile. This crate
//! holds the [`Transport`] trait those choices are made through and the implementations that
//! ship with Switchboard: [`Tcp`], [`Quic`], [`WebSocket`] (`/ws`, `/wss`, `/tls/ws`),
//! [`WebRtcDirect`], [`Relay`] (circuit relay v2's client, `/p2p-circuit`), [`WebRtc`]
//! (`/webrtc`, signalled through relays) and [`Memory`]. The trait sits *above* `libp2p_core::Transport`: an implementation declares its
//! [`Kind`], the [`Environment`]s it runs in and the multiaddrs it can listen on and dial, and
//! builds the authenticated, multiplexed, boxed libp2p transport for a [`Context`] (keypair,
//! runtime, security protocols), with the protocol state it needs in the node's behaviour, if
//! any (a [`Companion`]: the relay client's). A [`Stack`] combines several built transports
//! into one and routes each listen and dial to the first transport that declares the address.
//!
//! Transports defined outside this crate plug in through the same trait.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use switchboard_transport::runtime::{Handle, Tokio};
//! use switchboard_transport::{Context, Memory, Stack, Tcp, Transport};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keypair = libp2p::identity::Keypair::generate_ed25519();
//! let rt = Handle::new(Tokio::current().expect("inside a tokio runtime"));
//! let ctx = Context::new(keypair, rt);
//! let transports: Vec<Arc<dyn Transport>> = vec![Arc::new(Tcp::new()), Arc::new(Memory::new())];
//! let (stack, _companions) = Stack::build(&transports, &ctx)?;
//! assert!(stack.can_dial(&"/memory/1234".parse()?).is_ok());
//! assert!(stack.can_dial(&"/ip4/127.0.0.1/udp/1/quic-v1".parse()?).is_err());
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs, rustdoc::broken_intra_doc_links, unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod companion;
mod context;
mod error;
mod kind;
mod memory;
mod muxer;
#[cfg(all(not(wasm_browser), feature = "quic"))]
mod quic;
mod relay;
#[cfg(all(not(wasm_browser), feature = "async-io"))]
mod resolve;
mod stack;
#[cfg(not(wasm_browser))]
mod tcp;
mod upgrade;
mod webrtc;
mod webrtc_direct;
mod websocket;

use std::fmt;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

pub use companion::{Built, Companion, CompanionEvent, Companions};
pub use context::{Context, Security};
#[cfg(not(wasm_browser))]
pub use error::CertificateError;
pub use error::{BuildError, Unsupported};
pub use kind::{Environment, Kind};
pub use memory::Memory;
#[cfg(all(not(wasm_browser), feature = "quic"))]
pub use quic::Quic;
pub use relay::{Relay, is_relayed};
pub use stack::{Stack, dialer, retired};
pub use switchboard_filters::Filter;
pub use switchboard_runtime as runtime;
#[cfg(not(wasm_browser))]
pub use tcp::Tcp;
pub use webrtc::{Circuits as WebRtcCircuits, SignallingError, WebRtc};
pub use webrtc_direct::WebRtcDirect;
#[cfg(all(not(wasm_browser), feature = "tokio"))]
pub use webrtc_direct::{WebRtcCertificate, WebRtcCertificateError};
#[cfg(not(wasm_browser))]
pub use websocket::Certificate;
pub use websocket::WebSocket;

/// The libp2p transport a [`Transport`] builds: authenticated, multiplexed and boxed.
pub type Boxed = libp2p::core::transport::Boxed<(PeerId, StreamMuxerBox)>;

/// A transport a node can be built with.
///
/// Object-safe, so a node holds a list of `Arc<dyn Transport>`.
pub trait Transport: fmt::Debug + Send + Sync + 'static {
    /// What kind of transport this is.
    fn kind(&self) -> Kind;

    /// The environments this transport runs in.
    fn environments(&self) -> &'static [Environment];

    /// Whether this transport can listen on `addr`.
    fn can_listen(&self, addr: &Multiaddr) -> bool;

    /// Whether this transport dials `addr`; [`Unsupported::Filtered`] when it could but a dial
    /// filter refuses.
    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported>;

    /// Builds the authenticated, multiplexed libp2p transport, and the behaviour it works
    /// with, if any.
    fn build(&self, ctx: &Context) -> Result<Built, BuildError>;

    /// The address this transport is reachable at because another transport listens on
    /// `relayed`, a relay reservation (`/…/p2p/RELAY/p2p-circuit`), while this one listens:
    /// `/webrtc`'s is the reservation followed by `/webrtc`. `None` (the default) for the
    /// transports that listen on their own.
    fn listens_through(&self, relayed: &Multiaddr) -> Option<Multiaddr> {
        let _ = relayed;
        None
    }
}

/// The short name of the transport an address is for, as the matrix and the demo print it:
/// `tcp`, `quic-v1`, `ws`, `wss` (also `/tls/ws`), `webrtc-direct`, `memory`, and
/// `p2p-circuit` for anything through a relay; `None` for any other shape.
pub fn label(addr: &Multiaddr) -> Option<&'static str> {
    if is_relayed(addr) {
        return Some("p2p-circuit");
    }
    match protocols(addr).as_slice() {
        [host, Protocol::Tcp(_)] if is_dial_host(host) => Some("tcp"),
        [host, Protocol::Udp(_), Protocol::QuicV1] if is_dial_host(host) => Some("quic-v1"),
        [host, Protocol::Tcp(_), Protocol::Ws(_)] if is_dial_host(host) => Some("ws"),
        [host, Protocol::Tcp(_), Protocol::Wss(_)]
        | [host, Protocol::Tcp(_), Protocol::Tls, Protocol::Ws(_)]
        | [
            host,
            Protocol::Tcp(_),
            Protocol::Tls,
            Protocol::Sni(_),
            Protocol::Ws(_),
        ] if is_dial_host(host) => Some("wss"),
        [host, Protocol::Udp(_), Protocol::WebRTCDirect, rest @ ..]
            if is_ip(host) && rest.iter().all(|p| matches!(p, Protocol::Certhash(_))) =>
        {
            Some("webrtc-direct")
        }
        [Protocol::Memory(_)] => Some("memory"),
        _ => None,
    }
}

/// The protocols of `addr` with a trailing `/p2p/…` removed.
fn protocols(addr: &Multiaddr) -> Vec<Protocol<'_>> {
    let mut protocols: Vec<_> = addr.iter().collect();
    if let Some(Protocol::P2p(_)) = protocols.last() {
        protocols.pop();
    }
    protocols
}

/// Whether `p` is a host a dial can reach: an IP or a DNS name.
fn is_dial_host(p: &Protocol<'_>) -> bool {
    is_ip(p) || matches!(p, Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_))
}

fn is_ip(p: &Protocol<'_>) -> bool {
    matches!(p, Protocol::Ip4(_) | Protocol::Ip6(_))
}

#[cfg(test)]
mod tests;

/// Wraps `make()` so that `/dns`, `/dns4` and `/dns6` dials are resolved with the system
/// resolver (libp2p-dns, on tokio); without a usable system configuration, DNS dials fail and
/// IP dials still work.
#[cfg(all(not(wasm_browser), feature = "tokio"))]
fn dns<T: libp2p::Transport>(make: impl Fn() -> T) -> libp2p_dns::tokio::Transport<T> {
    libp2p_dns::tokio::Transport::system(make()).unwrap_or_else(|_| {
        libp2p_dns::tokio::Transport::custom(
            make(),
            libp2p_dns::ResolverConfig::from_name_servers(Vec::new()),
            libp2p_dns::ResolverOpts::default(),
        )
    })
}
