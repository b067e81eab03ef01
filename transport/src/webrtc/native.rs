//! `/webrtc` natively, on str0m: a sans-IO WebRTC stack (ICE, DTLS, SCTP, data channels) that
//! Switchboard drives on the node's own runtime (`driver.rs`) over UDP sockets on its reactor
//! (`udp.rs`), so it runs on tokio, smol and async-std alike; the connection is a muxer of data
//! channels (`muxer.rs`, `channel.rs`) framed by libp2p-webrtc-utils, as WebRTC-direct's.
//!
//! A peer connection binds one UDP socket per local interface address and offers each as a
//! host candidate in its SDP; it takes the peer's candidates as they trickle in. No STUN or
//! TURN server is asked: a peer behind a NAT is reached where its own traffic opened the way
//! (and learned as a peer-reflexive candidate).

mod channel;
mod driver;
mod muxer;
mod udp;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures::channel::{mpsc, oneshot};
use futures::future::BoxFuture;
use futures::{FutureExt, SinkExt, StreamExt};
use libp2p::core::muxing::StreamMuxerBox;
use switchboard_runtime::{Handle, Reactor};

use super::signalling::{self, Fut, PeerConnection, Progress, SignallingError};
use crate::{BuildError, Context, Kind};
use driver::{Command, Handles};

/// At most this many local addresses are offered as candidates (a socket each).
const MAX_INTERFACES: usize = 8;

/// The native stack, on the node's runtime.
struct Native {
    rt: Handle,
    /// The addresses to offer; the interfaces' when `None`.
    addresses: Option<Vec<IpAddr>>,
}

pub(super) fn stack(
    ctx: &Context,
    addresses: Option<Vec<IpAddr>>,
) -> Result<Arc<dyn super::Stack>, BuildError> {
    let native = || {
        Arc::new(Native {
            rt: ctx.runtime().clone(),
            addresses,
        }) as Arc<dyn super::Stack>
    };
    match ctx.runtime().reactor() {
        #[cfg(feature = "tokio")]
        Reactor::Tokio => Ok(native()),
        #[cfg(feature = "async-io")]
        Reactor::AsyncIo => Ok(native()),
        #[allow(unreachable_patterns)]
        _ => Err(BuildError::UnsupportedRuntime {
            kind: Kind::WebRtc,
            runtime: ctx.runtime().name(),
        }),
    }
}

/// The addresses to offer: the machine's non-loopback interface addresses, or loopback when
/// it has nothing else (a host whose only network is itself). IPv6 link-local addresses need
/// a scope a candidate cannot carry, so they are left out.
fn local_addresses() -> Vec<IpAddr> {
    let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_unspecified(),
        IpAddr::V6(v6) => !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80,
    };
    let mut addrs: Vec<IpAddr> = interfaces
        .iter()
        .map(|i| i.ip())
        .filter(|ip| usable(ip) && !ip.is_loopback())
        .take(MAX_INTERFACES)
        .collect();
    if addrs.is_empty() {
        addrs.push(IpAddr::from([127, 0, 0, 1]));
    }
    addrs
}

/// The signalling's view of a peer connection whose driver runs on the runtime.
struct Signalled {
    commands: mpsc::Sender<Command>,
    progress: mpsc::Receiver<Result<Progress, SignallingError>>,
}

impl Signalled {
    async fn ask<T>(
        &mut self,
        command: impl FnOnce(oneshot::Sender<Result<T, SignallingError>>) -> Command,
    ) -> Result<T, SignallingError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| SignallingError::WebRtc("the WebRTC connection is gone".into()))?;
        answer
            .await
            .map_err(|_| SignallingError::WebRtc("the WebRTC connection is gone".into()))?
    }
}

impl PeerConnection for Signalled {
    fn offer(&mut self) -> Fut<'_, Result<String, SignallingError>> {
        Box::pin(self.ask(Command::Offer))
    }

    fn answer(&mut self, offer: String) -> Fut<'_, Result<String, SignallingError>> {
        Box::pin(self.ask(|reply| Command::Answer(offer, reply)))
    }

    fn accept(&mut self, answer: String) -> Fut<'_, Result<(), SignallingError>> {
        Box::pin(self.ask(|reply| Command::Accept(answer, reply)))
    }

    fn add_candidate(&mut self, candidate: String) -> Fut<'_, Result<(), SignallingError>> {
        Box::pin(self.ask(|reply| Command::AddCandidate(candidate, reply)))
    }

    fn progress(&mut self) -> Fut<'_, Result<Progress, SignallingError>> {
        Box::pin(async move {
            match self.progress.next().await {
                Some(progress) => progress,
                None => Err(SignallingError::WebRtc(
                    "the WebRTC connection failed".into(),
                )),
            }
        })
    }
}

impl Native {
    /// Binds the sockets, starts a driver on the runtime and runs `exchange` over `stream`
    /// with it; the connection once it is up.
    fn signalled<F>(
        &self,
        stream: libp2p::Stream,
        exchange: F,
    ) -> BoxFuture<'static, Result<StreamMuxerBox, SignallingError>>
    where
        F: for<'a> FnOnce(
                libp2p::Stream,
                &'a mut Signalled,
            ) -> Fut<'a, Result<(), SignallingError>>
            + Send
            + 'static,
    {
        let rt = self.rt.clone();
        let addresses = self.addresses.clone().unwrap_or_else(local_addresses);
        async move {
            let mut sockets = Vec::new();
            for ip in addresses.into_iter().take(MAX_INTERFACES) {
                match udp::Udp::bind(&rt, SocketAddr::new(ip, 0)) {
                    Ok(socket) => sockets.push(socket),
                    Err(e) => tracing::debug!(%ip, error = %e, "no WebRTC socket"),
                }
            }
            if sockets.is_empty() {
                return Err(SignallingError::WebRtc("no local address to offer".into()));
            }
            let (
                driver,
                Handles {
                    commands,
                    progress,
                    inbound,
                },
            ) = driver::new(rt.clone(), sockets).map_err(SignallingError::Io)?;
            rt.spawn(driver.run());
            let mut pc = Signalled {
                commands: commands.clone(),
                progress,
            };
            exchange(stream, &mut pc).await?;
            Ok(StreamMuxerBox::new(muxer::Muxer::new(commands, inbound)))
        }
        .boxed()
    }
}

impl super::Stack for Native {
    fn dial(
        &self,
        stream: libp2p::Stream,
    ) -> BoxFuture<'static, Result<StreamMuxerBox, SignallingError>> {
        self.signalled(stream, |stream, pc| Box::pin(signalling::dial(stream, pc)))
    }

    fn answer(
        &self,
        stream: libp2p::Stream,
    ) -> BoxFuture<'static, Result<StreamMuxerBox, SignallingError>> {
        self.signalled(stream, |stream, pc| {
            Box::pin(signalling::answer(stream, pc))
        })
    }
}
