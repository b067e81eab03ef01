//! A native `/webrtc` connection as a libp2p muxer: one data channel per stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::{mpsc, oneshot};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, Sink, StreamExt};
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};
use libp2p_webrtc_utils::{DropListener, Stream};

use super::channel::ChannelIo;
use super::driver::Command;

/// The muxer over a running driver.
pub(super) struct Muxer {
    commands: mpsc::Sender<Command>,
    inbound: mpsc::Receiver<ChannelIo>,
    opening: Option<oneshot::Receiver<io::Result<ChannelIo>>>,
    /// Dropped streams finishing their closing handshake.
    closing: FuturesUnordered<DropListener<ChannelIo>>,
}

impl Muxer {
    pub(super) fn new(commands: mpsc::Sender<Command>, inbound: mpsc::Receiver<ChannelIo>) -> Self {
        Self {
            commands,
            inbound,
            opening: None,
            closing: FuturesUnordered::new(),
        }
    }

    fn stream(&mut self, io: ChannelIo) -> Stream<ChannelIo> {
        let (stream, drop_listener) = Stream::new(io);
        self.closing.push(drop_listener);
        stream
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "the WebRTC connection closed",
    )
}

impl StreamMuxer for Muxer {
    type Substream = Stream<ChannelIo>;
    type Error = io::Error;

    fn poll_inbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        match futures::ready!(self.inbound.poll_next_unpin(cx)) {
            Some(io) => Poll::Ready(Ok(self.stream(io))),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn poll_outbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = &mut *self;
        if this.opening.is_none() {
            futures::ready!(Pin::new(&mut this.commands).poll_ready(cx)).map_err(|_| gone())?;
            let (reply, opened) = oneshot::channel();
            Pin::new(&mut this.commands)
                .start_send(Command::Open(reply))
                .map_err(|_| gone())?;
            this.opening = Some(opened);
        }
        let opened = this.opening.as_mut().expect("set above");
        let result = futures::ready!(opened.poll_unpin(cx));
        this.opening = None;
        let io = result.map_err(|_| gone())??;
        Poll::Ready(Ok(this.stream(io)))
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Without commands the driver closes the connection and ends its channels.
        self.commands.close_channel();
        Poll::Ready(Ok(()))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        while let Poll::Ready(Some(result)) = self.closing.poll_next_unpin(cx) {
            if let Err(e) = result {
                tracing::debug!(error = %e, "closing a dropped WebRTC stream");
            }
        }
        Poll::Pending
    }
}
