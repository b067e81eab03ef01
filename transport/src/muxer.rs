//! Yamux, configured so that js-libp2p peers can talk to us at full speed.
//!
//! rust-yamux auto-tunes a stream's receive window up to the connection's limit (1 GiB by
//! default), but its frame decoder refuses data frames over 1 MiB. Go and Rust senders split
//! frames at 16 KiB; js-libp2p's yamux sends a frame as large as the window allows, so once our
//! window grew past 1 MiB, a Helia peer sending blocks got the connection closed with "frame
//! body is too large". libp2p-yamux 0.48 does not expose the connection window, so this is its
//! muxer with the window capped: every stream gets at most 1 MiB of credit.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures::{AsyncRead, AsyncWrite, future};
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};
use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo};

/// The largest data frame rust-yamux decodes, and so the largest window a stream may grow to.
const MAX_STREAM_WINDOW: usize = 1024 * 1024;
/// yamux's initial (and minimum) stream window.
const DEFAULT_CREDIT: usize = 256 * 1024;
/// Streams per connection, as libp2p-yamux's default.
const MAX_STREAMS: usize = 512;
/// Inbound streams buffered while nobody accepts them; more are dropped, as in libp2p-yamux.
const MAX_BUFFERED_INBOUND_STREAMS: usize = 256;

/// The `/yamux/1.0.0` upgrade.
#[derive(Debug, Clone)]
pub(crate) struct Yamux(yamux::Config);

impl Yamux {
    pub(crate) fn new() -> Self {
        let mut config = yamux::Config::default();
        config.set_max_num_streams(MAX_STREAMS);
        // What streams may grow beyond their initial credit, across the whole connection: at
        // most one stream reaches the 1 MiB a frame may carry.
        config.set_max_connection_receive_window(Some(
            MAX_STREAMS * DEFAULT_CREDIT + (MAX_STREAM_WINDOW - DEFAULT_CREDIT),
        ));
        Self(config)
    }
}

impl UpgradeInfo for Yamux {
    type Info = &'static str;
    type InfoIter = std::iter::Once<Self::Info>;

    fn protocol_info(&self) -> Self::InfoIter {
        std::iter::once("/yamux/1.0.0")
    }
}

impl<C: AsyncRead + AsyncWrite + Send + Unpin + 'static> InboundConnectionUpgrade<C> for Yamux {
    type Output = Muxer<C>;
    type Error = std::io::Error;
    type Future = future::Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_inbound(self, io: C, _: Self::Info) -> Self::Future {
        future::ready(Ok(Muxer::new(yamux::Connection::new(
            io,
            self.0,
            yamux::Mode::Server,
        ))))
    }
}

impl<C: AsyncRead + AsyncWrite + Send + Unpin + 'static> OutboundConnectionUpgrade<C> for Yamux {
    type Output = Muxer<C>;
    type Error = std::io::Error;
    type Future = future::Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_outbound(self, io: C, _: Self::Info) -> Self::Future {
        future::ready(Ok(Muxer::new(yamux::Connection::new(
            io,
            self.0,
            yamux::Mode::Client,
        ))))
    }
}

/// A yamux connection as a libp2p `StreamMuxer`.
#[derive(Debug)]
pub(crate) struct Muxer<C> {
    connection: yamux::Connection<C>,
    inbound: VecDeque<yamux::Stream>,
    inbound_waker: Option<Waker>,
}

impl<C: AsyncRead + AsyncWrite + Unpin> Muxer<C> {
    fn new(connection: yamux::Connection<C>) -> Self {
        Self {
            connection,
            inbound: VecDeque::new(),
            inbound_waker: None,
        }
    }

    fn poll_next_inbound(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<yamux::Stream, yamux::ConnectionError>> {
        match self.connection.poll_next_inbound(cx) {
            Poll::Ready(Some(result)) => Poll::Ready(result),
            Poll::Ready(None) => Poll::Ready(Err(yamux::ConnectionError::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<C: AsyncRead + AsyncWrite + Unpin> StreamMuxer for Muxer<C> {
    type Substream = yamux::Stream;
    type Error = yamux::ConnectionError;

    fn poll_inbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        if let Some(stream) = self.inbound.pop_front() {
            return Poll::Ready(Ok(stream));
        }
        if let Poll::Ready(result) = self.poll_next_inbound(cx) {
            return Poll::Ready(result);
        }
        self.inbound_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_outbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        self.connection.poll_new_outbound(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.connection.poll_close(cx)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        let this = self.get_mut();
        let stream = match this.poll_next_inbound(cx) {
            Poll::Ready(result) => result?,
            Poll::Pending => return Poll::Pending,
        };
        if this.inbound.len() < MAX_BUFFERED_INBOUND_STREAMS {
            this.inbound.push_back(stream);
            if let Some(waker) = this.inbound_waker.take() {
                waker.wake();
            }
        }
        // More may be ready: come back at once, letting other work run first.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
