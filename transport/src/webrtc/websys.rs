//! `/webrtc` in a web page: the browser's `RTCPeerConnection` (patched libp2p-webrtc-websys'
//! `SignalledConnection`), signalled by `signalling.rs`.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::webrtc_websys::{SignalledConnection, SignalledEvent};
use send_wrapper::SendWrapper;

use super::signalling::{self, Fut, PeerConnection, Progress, SignallingError};
use crate::{BuildError, Context, Kind};

/// The page's WebRTC.
struct Browser;

pub(super) fn stack(ctx: &Context) -> Result<Arc<dyn super::Stack>, BuildError> {
    match ctx.runtime().reactor() {
        switchboard_runtime::Reactor::Browser => Ok(Arc::new(Browser)),
        _ => Err(BuildError::UnsupportedRuntime {
            kind: Kind::WebRtc,
            runtime: ctx.runtime().name(),
        }),
    }
}

fn error(e: libp2p::webrtc_websys::Error) -> SignallingError {
    SignallingError::webrtc(e)
}

impl PeerConnection for SignalledConnection {
    fn offer(&mut self) -> Fut<'_, Result<String, SignallingError>> {
        Box::pin(async move { SignalledConnection::offer(self).await.map_err(error) })
    }

    fn answer(&mut self, offer: String) -> Fut<'_, Result<String, SignallingError>> {
        Box::pin(async move {
            SignalledConnection::answer(self, &offer)
                .await
                .map_err(error)
        })
    }

    fn accept(&mut self, answer: String) -> Fut<'_, Result<(), SignallingError>> {
        Box::pin(async move {
            SignalledConnection::accept(self, &answer)
                .await
                .map_err(error)
        })
    }

    fn add_candidate(&mut self, candidate: String) -> Fut<'_, Result<(), SignallingError>> {
        Box::pin(async move {
            SignalledConnection::add_candidate(self, &candidate)
                .await
                .map_err(error)
        })
    }

    fn progress(&mut self) -> Fut<'_, Result<Progress, SignallingError>> {
        Box::pin(async move {
            match self.next_event().await.map_err(error)? {
                SignalledEvent::Candidate(json) => Ok(Progress::Candidate(json)),
                SignalledEvent::Connected => Ok(Progress::Connected),
            }
        })
    }
}

/// Runs `exchange` on a new peer connection in the page (whose futures are not `Send`, but a
/// page has one thread), and makes it the connection.
fn signalled<F>(
    stream: libp2p::Stream,
    exchange: F,
) -> BoxFuture<'static, Result<StreamMuxerBox, SignallingError>>
where
    F: for<'a> FnOnce(
            libp2p::Stream,
            &'a mut SignalledConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), SignallingError>> + 'a>,
        > + 'static,
{
    SendWrapper::new(async move {
        let mut pc = SignalledConnection::new().map_err(error)?;
        exchange(stream, &mut pc).await?;
        Ok(StreamMuxerBox::new(pc.into_connection()))
    })
    .boxed()
}

impl super::Stack for Browser {
    fn dial(
        &self,
        stream: libp2p::Stream,
    ) -> BoxFuture<'static, Result<StreamMuxerBox, SignallingError>> {
        signalled(stream, |stream, pc| Box::pin(signalling::dial(stream, pc)))
    }

    fn answer(
        &self,
        stream: libp2p::Stream,
    ) -> BoxFuture<'static, Result<StreamMuxerBox, SignallingError>> {
        signalled(stream, |stream, pc| {
            Box::pin(signalling::answer(stream, pc))
        })
    }
}
