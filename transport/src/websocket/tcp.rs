//! WebSocket over TCP sockets, for native processes.

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use libp2p::websocket::tls;
use rustls_pki_types::CertificateDer;
use switchboard_filters::Filter;

use super::certificate::{self, Certificate};
use super::{check_dial, is_secure};
use switchboard_runtime::Reactor;

use crate::{
    Boxed, BuildError, Built, CertificateError, Context, Environment, Kind, Transport, Unsupported,
    is_ip, protocols,
};

/// The largest websocket message (and frame) accepted: 1 MiB. A frame's buffer is allocated at
/// the length its header declares, before the peer has authenticated (libp2p-websocket's
/// default of 256 MiB let 16 connections sending one 14-byte header each take 4 GiB). libp2p
/// peers send one security frame per message, at most 64 KiB with noise.
const MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// WebSocket over TCP, upgraded like TCP (noise and/or TLS, yamux) inside the websocket.
///
/// Listens on `/ws`, and on `/wss` or `/tls/ws` when it has a [`Certificate`]. Dials what its
/// [`Filter`] lets through. A `/wss` dial verifies the server's certificate against the web's
/// root certificates, the node's own certificate and any certificates added with
/// [`WebSocket::with_trusted`] (the peer itself is authenticated by the security upgrade inside
/// the websocket either way).
#[derive(Debug, Clone)]
pub struct WebSocket {
    filter: Filter,
    certificate: Option<Certificate>,
    trusted: Vec<CertificateDer<'static>>,
}

impl Default for WebSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl WebSocket {
    /// A websocket transport.
    ///
    /// Defaults: dial filter [`Filter::all`] (what a native js-libp2p node uses), no certificate
    /// (so no `/wss` listener), no extra trusted certificates.
    pub fn new() -> Self {
        Self {
            filter: Filter::all(),
            certificate: None,
            trusted: Vec::new(),
        }
    }

    /// Sets the dial filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Sets the certificate for `/wss` listeners.
    pub fn with_certificate(mut self, certificate: Certificate) -> Self {
        self.certificate = Some(certificate);
        self
    }

    /// Trusts the certificates in `pem` when dialing `/wss` (a peer's self-signed certificate).
    pub fn with_trusted(mut self, pem: &str) -> Result<Self, CertificateError> {
        self.trusted.extend(certificate::parse_certificates(pem)?);
        Ok(self)
    }

    /// The dial filter.
    pub fn filter(&self) -> Filter {
        self.filter
    }

    /// `/ws` and `/wss` over `tcp`, with frames capped at [`MAX_MESSAGE_SIZE`].
    fn over<T>(&self, tcp: T, ctx: &Context) -> Result<Boxed, BuildError>
    where
        T: libp2p::Transport<Output: futures::AsyncRead + futures::AsyncWrite + Unpin + Send>
            + Send
            + Unpin
            + 'static,
        T::Dial: Send,
        T::ListenerUpgrade: Send,
        T::Error: Send + Sync,
    {
        let mut ws = libp2p::websocket::Config::new(tcp);
        ws.set_tls_config(self.tls_config()?);
        ws.set_max_data_size(MAX_MESSAGE_SIZE);
        crate::upgrade::stream_transport(ws, ctx, Kind::WebSocket)
    }

    fn tls_config(&self) -> Result<tls::Config, CertificateError> {
        let mut builder = tls::Config::builder();
        let own = self.certificate.iter().flat_map(|c| c.chain().first());
        for cert in self.trusted.iter().chain(own) {
            builder
                .add_trust(&tls::Certificate::new(cert.to_vec()))
                .map_err(|e| CertificateError::Rejected(e.to_string()))?;
        }
        if let Some(cert) = &self.certificate {
            let chain = cert
                .chain()
                .iter()
                .map(|c| tls::Certificate::new(c.to_vec()));
            builder
                .server(tls::PrivateKey::new(cert.key_der()), chain)
                .map_err(|e| CertificateError::Rejected(e.to_string()))?;
        }
        Ok(builder.finish())
    }
}

impl Transport for WebSocket {
    fn kind(&self) -> Kind {
        Kind::WebSocket
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Native]
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        match protocols(addr).as_slice() {
            [host, Protocol::Tcp(_), rest @ ..] if is_ip(host) => match is_secure(rest) {
                Some(secure) => !secure || self.certificate.is_some(),
                None => false,
            },
            _ => false,
        }
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
            #[cfg(feature = "tokio")]
            Reactor::Tokio => {
                let config = libp2p_tcp::Config::new().nodelay(true);
                let tcp = crate::dns(|| crate::tcp::ExclusivePort::tokio(config.clone()));
                self.over(tcp, ctx)
            }
            #[cfg(feature = "async-io")]
            Reactor::AsyncIo => {
                let config = libp2p_tcp::Config::new().nodelay(true);
                let tcp = crate::resolve::Resolving::new(
                    crate::tcp::ExclusivePort::async_io(config),
                    ctx.runtime().clone(),
                );
                self.over(tcp, ctx)
            }
            _ => Err(BuildError::UnsupportedRuntime {
                kind: Kind::WebSocket,
                runtime: ctx.runtime().name(),
            }),
        }
    }
}
