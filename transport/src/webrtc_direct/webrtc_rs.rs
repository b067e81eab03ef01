//! WebRTC-direct for native processes: libp2p-webrtc on webrtc-rs, which runs on tokio only
//! (built with the `tokio` feature; on other runtimes the transport refuses to build).

#[cfg(feature = "tokio")]
use std::fmt;

use libp2p::Multiaddr;
#[cfg(feature = "tokio")]
use libp2p::Transport as _;
#[cfg(feature = "tokio")]
use libp2p::core::muxing::StreamMuxerBox;
#[cfg(feature = "tokio")]
use libp2p_webrtc::tokio::Certificate;

use super::{check_dial, is_listen_addr};
#[cfg(feature = "tokio")]
use switchboard_runtime::Reactor;

use crate::{BuildError, Built, Context, Environment, Kind, Transport, Unsupported};

/// The DTLS certificate a WebRTC-direct listener presents; its hash is part of the listen
/// address (`/certhash/…`), so a daemon keeps it (in its repo) for dialers' addresses to stay
/// valid across restarts.
#[cfg(feature = "tokio")]
#[derive(Clone, PartialEq)]
pub struct WebRtcCertificate(Certificate);

#[cfg(feature = "tokio")]
impl fmt::Debug for WebRtcCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WebRtcCertificate")
            .field(&self.0.fingerprint())
            .finish()
    }
}

/// Why a WebRTC certificate could not be made or read.
#[cfg(feature = "tokio")]
#[derive(Debug, thiserror::Error)]
#[error("WebRTC certificate: {0}")]
pub struct WebRtcCertificateError(String);

#[cfg(feature = "tokio")]
impl WebRtcCertificate {
    /// A new self-signed certificate.
    pub fn generate() -> Result<Self, WebRtcCertificateError> {
        Certificate::generate(&mut rand::rng())
            .map(Self)
            .map_err(|e| WebRtcCertificateError(e.to_string()))
    }

    /// Reads a certificate and its key from the PEM text [`WebRtcCertificate::to_pem`] wrote.
    pub fn from_pem(pem: &str) -> Result<Self, WebRtcCertificateError> {
        Certificate::from_pem(pem)
            .map(Self)
            .map_err(|e| WebRtcCertificateError(e.to_string()))
    }

    /// The certificate and its private key as PEM text (keep it private).
    pub fn to_pem(&self) -> String {
        self.0.serialize_pem()
    }
}

/// WebRTC-direct, native: listens on `/ip…/udp/<port>/webrtc-direct` (the address it reports
/// carries `/certhash/…`) and dials such addresses. libp2p-webrtc dials from its listening
/// socket, so a native node dials WebRTC-direct only while it also listens on it (the dial
/// fails with "no active listeners" otherwise); natives normally prefer QUIC anyway.
#[derive(Debug, Clone, Default)]
pub struct WebRtcDirect {
    #[cfg(feature = "tokio")]
    certificate: Option<WebRtcCertificate>,
}

impl WebRtcDirect {
    /// A WebRTC-direct transport. Default: a certificate generated when the transport is built
    /// (so the certhash changes with every start; a daemon gives it its repo's).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the listener's certificate.
    #[cfg(feature = "tokio")]
    pub fn with_certificate(mut self, certificate: WebRtcCertificate) -> Self {
        self.certificate = Some(certificate);
        self
    }
}

impl Transport for WebRtcDirect {
    fn kind(&self) -> Kind {
        Kind::WebRtcDirect
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Native]
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        is_listen_addr(addr)
    }

    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
        check_dial(addr)
    }

    fn build(&self, ctx: &Context) -> Result<Built, BuildError> {
        self.boxed(ctx).map(Built::new)
    }
}

impl WebRtcDirect {
    /// The libp2p transport, for the runtime's reactor.
    fn boxed(&self, ctx: &Context) -> Result<crate::Boxed, BuildError> {
        #[cfg(feature = "tokio")]
        if ctx.runtime().reactor() == Reactor::Tokio {
            return self.build_on_tokio(ctx);
        }
        Err(BuildError::UnsupportedRuntime {
            kind: Kind::WebRtcDirect,
            runtime: ctx.runtime().name(),
        })
    }
}

#[cfg(feature = "tokio")]
impl WebRtcDirect {
    fn build_on_tokio(&self, ctx: &Context) -> Result<crate::Boxed, BuildError> {
        // webrtc-rs' DTLS asks rustls for the process-wide crypto provider, and with both ring
        // (libp2p-tls) and aws-lc-rs (quinn) linked there is none by default: it would panic
        // on the first handshake. Choose ring unless the application chose already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certificate = match &self.certificate {
            Some(certificate) => certificate.clone(),
            None => WebRtcCertificate::generate().map_err(|e| BuildError::Other {
                kind: Kind::WebRtcDirect,
                source: e.into(),
            })?,
        };
        let transport = libp2p_webrtc::tokio::Transport::new(ctx.keypair().clone(), certificate.0);
        // Its upgrades (ICE, DTLS, noise) have no deadline of their own: a peer that sends one
        // STUN request and falls silent would hold a pending connection, and a webrtc-rs peer
        // connection, for ever.
        Ok(libp2p::core::transport::timeout::TransportTimeout::new(
            transport,
            ctx.upgrade_timeout(),
        )
        .map(|(peer, conn), _| (peer, StreamMuxerBox::new(conn)))
        .boxed())
    }
}
