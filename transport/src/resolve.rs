//! `/dns`, `/dns4` and `/dns6` dials on runtimes libp2p-dns does not run on (it has tokio's
//! resolver only): the name is looked up with the operating system's resolver (getaddrinfo,
//! so `/etc/hosts` counts) on the runtime's blocking pool, and the first address of the family
//! the protocol asks for is dialed. `/dnsaddr` is not resolved here.

use std::net::{IpAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use futures::FutureExt;
use futures::future::BoxFuture;
use libp2p::Multiaddr;
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::multiaddr::Protocol;
use switchboard_runtime::Handle;

/// Why a dial through [`Resolving`] failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError<E> {
    /// The inner transport failed.
    #[error(transparent)]
    Transport(E),
    /// The name could not be looked up.
    #[error("cannot resolve {name}")]
    Lookup {
        /// The name.
        name: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// The name has no address of the family asked for (`/dns4`: IPv4, `/dns6`: IPv6).
    #[error("{name} has no {family} address")]
    NoAddress {
        /// The name.
        name: String,
        /// `IPv4`, `IPv6` or `IP`.
        family: &'static str,
    },
    /// The resolved address is not one the inner transport dials.
    #[error("the inner transport does not dial {0}")]
    Unsupported(Multiaddr),
    /// The lookup's blocking task went away (the runtime is shutting down).
    #[error("the resolver task stopped")]
    Stopped,
}

/// `inner` with `/dns*` names resolved before dialing.
pub(crate) struct Resolving<T> {
    inner: Arc<Mutex<T>>,
    rt: Handle,
}

impl<T> Resolving<T> {
    pub(crate) fn new(inner: T, rt: Handle) -> Self {
        Self {
            inner: Arc::new(Mutex::new(inner)),
            rt,
        }
    }
}

/// Which addresses a DNS protocol accepts.
#[derive(Clone, Copy)]
enum Family {
    Any,
    V4,
    V6,
}

impl Family {
    fn accepts(self, ip: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::Any => "IP",
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// The name and family of a leading `/dns*`, if there is one.
fn dns_name(addr: &Multiaddr) -> Option<(String, Family)> {
    match addr.iter().next()? {
        Protocol::Dns(name) => Some((name.to_string(), Family::Any)),
        Protocol::Dns4(name) => Some((name.to_string(), Family::V4)),
        Protocol::Dns6(name) => Some((name.to_string(), Family::V6)),
        _ => None,
    }
}

impl<T> libp2p::Transport for Resolving<T>
where
    T: libp2p::Transport + Send + Unpin + 'static,
    T::Dial: Send + 'static,
    T::Error: Send + 'static,
{
    type Output = T::Output;
    type Error = ResolveError<T::Error>;
    type ListenerUpgrade = futures::future::MapErr<T::ListenerUpgrade, fn(T::Error) -> Self::Error>;
    type Dial = BoxFuture<'static, Result<T::Output, Self::Error>>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        lock(&self.inner)
            .listen_on(id, addr)
            .map_err(|e| e.map(ResolveError::Transport))
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        lock(&self.inner).remove_listener(id)
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        let Some((name, family)) = dns_name(&addr) else {
            let dial = lock(&self.inner)
                .dial(addr, opts)
                .map_err(|e| e.map(ResolveError::Transport))?;
            return Ok(dial.map(|r| r.map_err(ResolveError::Transport)).boxed());
        };
        let (inner, rt) = (self.inner.clone(), self.rt.clone());
        Ok(async move {
            let lookup = name.clone();
            let ips = rt
                .blocking(move || {
                    (lookup.as_str(), 0)
                        .to_socket_addrs()
                        .map(|found| found.map(|a| a.ip()).collect::<Vec<_>>())
                })
                .await
                .ok_or(ResolveError::Stopped)?
                .map_err(|source| ResolveError::Lookup {
                    name: name.clone(),
                    source,
                })?;
            let ip = ips
                .into_iter()
                .find(|ip| family.accepts(ip))
                .ok_or_else(|| ResolveError::NoAddress {
                    name,
                    family: family.name(),
                })?;
            let resolved: Multiaddr = std::iter::once(match ip {
                IpAddr::V4(ip) => Protocol::Ip4(ip),
                IpAddr::V6(ip) => Protocol::Ip6(ip),
            })
            .chain(addr.iter().skip(1))
            .collect();
            let dial = lock(&inner).dial(resolved, opts).map_err(|e| match e {
                TransportError::MultiaddrNotSupported(a) => ResolveError::Unsupported(a),
                TransportError::Other(e) => ResolveError::Transport(e),
            })?;
            dial.await.map_err(ResolveError::Transport)
        }
        .boxed())
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        let mut inner = lock(&self.inner);
        Pin::new(&mut *inner).poll(cx).map(|event| {
            event
                .map_upgrade(|upgrade| {
                    futures::TryFutureExt::map_err(
                        upgrade,
                        ResolveError::Transport as fn(T::Error) -> ResolveError<T::Error>,
                    )
                })
                .map_err(ResolveError::Transport)
        })
    }
}

/// The inner transport; a panic while it was held leaves it usable (its state is libp2p's).
fn lock<T>(inner: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
