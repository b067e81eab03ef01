//! The connection upgrades of stream transports: security (noise and/or TLS, negotiated in the
//! configured order) and the yamux muxer.

use futures::future::{BoxFuture, Either};
use futures::{AsyncRead, AsyncWrite, FutureExt, TryFutureExt};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::upgrade::Version;
use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo};
#[cfg(not(wasm_browser))]
use libp2p::tls;
use libp2p::{PeerId, Transport as _, noise};

use crate::{Boxed, BuildError, Context, Kind, Security};

type TlsOutput<C> = <tls::Config as InboundConnectionUpgrade<C>>::Output;
type Secured<C> = Either<noise::Output<C>, <TlsOutput<C> as Pair>::Stream>;

/// Names the stream half of an upgrade's `(PeerId, stream)` output.
trait Pair {
    type Stream;
}

impl<S> Pair for (PeerId, S) {
    type Stream = S;
}

/// Noise and TLS offered together, in the order of the [`Security`] setting.
#[derive(Clone)]
struct SecurityUpgrade {
    noise: Option<noise::Config>,
    tls: Option<tls::Config>,
    noise_first: bool,
}

const NOISE: &str = "/noise";

impl SecurityUpgrade {
    fn new(ctx: &Context, kind: Kind) -> Result<Self, BuildError> {
        let (noise_wanted, tls_wanted, noise_first) = match ctx.security() {
            Security::NoiseThenTls => (true, true, true),
            Security::TlsThenNoise => (true, true, false),
            Security::Noise => (true, false, true),
            Security::Tls => (false, true, false),
        };
        // A web page has no libp2p TLS: noise alone where it is offered, an error where not.
        #[cfg(wasm_browser)]
        let tls_wanted = tls_wanted && !noise_wanted;
        let noise = noise_wanted
            .then(|| noise::Config::new(ctx.keypair()))
            .transpose()
            .map_err(|e| BuildError::Security {
                kind,
                protocol: "noise",
                source: e.into(),
            })?;
        let tls = tls_wanted
            .then(|| tls::Config::new(ctx.keypair()))
            .transpose()
            .map_err(|e| BuildError::Security {
                kind,
                protocol: "tls",
                source: e.into(),
            })?;
        Ok(Self {
            noise,
            tls,
            noise_first,
        })
    }
}

impl UpgradeInfo for SecurityUpgrade {
    type Info = &'static str;
    type InfoIter = Vec<&'static str>;

    fn protocol_info(&self) -> Self::InfoIter {
        let noise = self.noise.iter().flat_map(|n| n.protocol_info());
        let tls = self.tls.iter().flat_map(|t| t.protocol_info());
        if self.noise_first {
            noise.chain(tls).collect()
        } else {
            tls.chain(noise).collect()
        }
    }
}

fn io_error(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(e)
}

impl<C> InboundConnectionUpgrade<C> for SecurityUpgrade
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = (PeerId, Secured<C>);
    type Error = std::io::Error;
    type Future = BoxFuture<'static, Result<Self::Output, Self::Error>>;

    fn upgrade_inbound(self, socket: C, info: Self::Info) -> Self::Future {
        match (info == NOISE, self.noise, self.tls) {
            (true, Some(noise), _) => noise
                .upgrade_inbound(socket, info)
                .map_ok(|(peer, s)| (peer, Either::Left(s)))
                .map_err(io_error)
                .boxed(),
            (_, _, Some(tls)) => tls
                .upgrade_inbound(socket, info)
                .map_ok(|(peer, s)| (peer, Either::Right(s)))
                .map_err(io_error)
                .boxed(),
            _ => unreachable_protocol(info),
        }
    }
}

impl<C> OutboundConnectionUpgrade<C> for SecurityUpgrade
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = (PeerId, Secured<C>);
    type Error = std::io::Error;
    type Future = BoxFuture<'static, Result<Self::Output, Self::Error>>;

    fn upgrade_outbound(self, socket: C, info: Self::Info) -> Self::Future {
        match (info == NOISE, self.noise, self.tls) {
            (true, Some(noise), _) => noise
                .upgrade_outbound(socket, info)
                .map_ok(|(peer, s)| (peer, Either::Left(s)))
                .map_err(io_error)
                .boxed(),
            (_, _, Some(tls)) => tls
                .upgrade_outbound(socket, info)
                .map_ok(|(peer, s)| (peer, Either::Right(s)))
                .map_err(io_error)
                .boxed(),
            _ => unreachable_protocol(info),
        }
    }
}

/// multistream-select only hands back protocols from `protocol_info`, so this is a bug if hit;
/// it fails the one connection rather than the process.
fn unreachable_protocol<T: Send + 'static>(
    info: &str,
) -> BoxFuture<'static, Result<T, std::io::Error>> {
    let err = std::io::Error::other(format!("negotiated unoffered security protocol {info}"));
    futures::future::ready(Err(err)).boxed()
}

/// libp2p-tls needs ring's native code, so a web page has none: a TLS configuration there
/// cannot be made, and the upgrade never offers it.
#[cfg(wasm_browser)]
mod tls {
    use futures::future::Pending;
    use libp2p::PeerId;
    use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo};
    use libp2p::identity::Keypair;

    /// TLS, which never exists in a web page.
    #[derive(Clone)]
    pub(super) enum Config {}

    #[derive(Debug, thiserror::Error)]
    #[error("libp2p TLS is not available in a web page; use noise")]
    pub(super) struct Unavailable;

    impl Config {
        pub(super) fn new(_: &Keypair) -> Result<Self, Unavailable> {
            Err(Unavailable)
        }
    }

    impl UpgradeInfo for Config {
        type Info = &'static str;
        type InfoIter = std::iter::Empty<&'static str>;

        fn protocol_info(&self) -> Self::InfoIter {
            match *self {}
        }
    }

    impl<C> InboundConnectionUpgrade<C> for Config {
        type Output = (PeerId, C);
        type Error = Unavailable;
        type Future = Pending<Result<Self::Output, Unavailable>>;

        fn upgrade_inbound(self, _: C, _: Self::Info) -> Self::Future {
            match self {}
        }
    }

    impl<C> OutboundConnectionUpgrade<C> for Config {
        type Output = (PeerId, C);
        type Error = Unavailable;
        type Future = Pending<Result<Self::Output, Unavailable>>;

        fn upgrade_outbound(self, _: C, _: Self::Info) -> Self::Future {
            match self {}
        }
    }
}

/// Upgrades a raw stream transport: security as configured, then yamux, within the context's
/// upgrade timeout.
pub(crate) fn stream_transport<T>(
    transport: T,
    ctx: &Context,
    kind: Kind,
) -> Result<Boxed, BuildError>
where
    T: libp2p::Transport + Send + Unpin + 'static,
    T::Output: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
    T::Error: Send + Sync + 'static,
{
    let security = SecurityUpgrade::new(ctx, kind)?;
    Ok(transport
        .upgrade(Version::V1Lazy)
        .authenticate(security)
        .multiplex(crate::muxer::Yamux::new())
        .timeout(ctx.upgrade_timeout())
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)))
        .boxed())
}
