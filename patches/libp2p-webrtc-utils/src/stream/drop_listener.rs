// Copyright 2022 Parity Technologies (UK) Ltd.
//
// Permission is hereby granted, free of charge, to any person obtaining a
// copy of this software and associated documentation files (the "Software"),
// to deal in the Software without restriction, including without limitation
// the rights to use, copy, modify, merge, publish, distribute, sublicense,
// and/or sell copies of the Software, and to permit persons to whom the
// Software is furnished to do so, subject to the following conditions:
//
// The above copyright notice and this permission notice shall be included in
// all copies or substantial portions of the Software.
//
// THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
// OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
// FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
// AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
// LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
// FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
// DEALINGS IN THE SOFTWARE.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::{AsyncRead, AsyncWrite, FutureExt, SinkExt, StreamExt, channel::oneshot};

use crate::{
    proto::{Flag, Message},
    stream::framed_dc::FramedDc,
};

// Switchboard's patch: upstream's listener sent RESET for every stream dropped before
// `poll_close` finished, and nothing otherwise, so nobody ever answered a FIN that arrived after
// the drop with a FIN_ACK (js-libp2p waits for it, 10 s by default, inside its protocols'
// timeouts) and no data channel was ever closed. Now the dropped stream hands its framed channel
// (with whatever it still had buffered) and the state of the closing handshake over, and the
// listener finishes the handshake the way the WebRTC spec describes it.

/// Where a stream's closing handshake stands (libp2p WebRTC spec, "Closing an
/// `RTCDataChannel`").
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Handshake {
    /// Our FIN is queued or sent: our write half is closed.
    pub(crate) fin_sent: bool,
    /// Our STOP_SENDING is queued or sent: our read half is closed.
    pub(crate) stop_sending_sent: bool,
    /// The remote's FIN arrived (or the channel ended): its write half is closed.
    pub(crate) fin_received: bool,
    /// A FIN arrived that we have not answered with a FIN_ACK yet.
    pub(crate) fin_ack_owed: bool,
    /// The remote acknowledged our FIN: it has everything we sent.
    pub(crate) fin_ack_received: bool,
    /// The remote reset the stream.
    pub(crate) reset_received: bool,
    /// The data channel ended under us (closed by the remote).
    pub(crate) channel_ended: bool,
}

impl Handshake {
    /// Records an inbound flag.
    pub(crate) fn on_flag(&mut self, flag: Flag) {
        match flag {
            Flag::Fin => {
                self.fin_ack_owed |= !self.fin_received;
                self.fin_received = true;
            }
            Flag::FinAck => self.fin_ack_received = true,
            Flag::Reset => self.reset_received = true,
            Flag::StopSending => {}
        }
    }

    /// Records the end of the data channel, which ends both halves.
    pub(crate) fn on_channel_end(&mut self) {
        self.channel_ended = true;
        self.fin_received = true;
        self.fin_ack_owed = false;
    }
}

/// How long a dropped stream waits for the remote's part of the closing handshake (its FIN and
/// FIN_ACK) before it closes the data channel anyway (Switchboard's patch: a remote that never
/// sends them, any rust-libp2p among them, held the channel and this future for ever).
/// js-libp2p waits 10 s for a FIN_ACK too.
const HANDSHAKE_TIMEOUT: Duration = if cfg!(test) {
    Duration::from_millis(200)
} else {
    Duration::from_secs(10)
};

/// What a dropped [`Stream`](super::Stream) leaves to its listener.
pub(crate) struct Dropped<T> {
    pub(crate) io: FramedDc<T>,
    pub(crate) handshake: Handshake,
}

/// Finishes a stream's closing handshake once the stream is dropped: flushes what the stream
/// still had buffered, answers the remote's FIN with FIN_ACK, closes whichever of our halves
/// were still open (STOP_SENDING, FIN), reads the remote's flags until its FIN and FIN_ACK are
/// in, then closes the data channel. A remote RESET closes the channel at once; a channel the
/// remote closed ends it.
#[must_use]
pub struct DropListener<T> {
    state: State<T>,
}

impl<T> DropListener<T> {
    pub(crate) fn new(receiver: oneshot::Receiver<Dropped<T>>) -> Self {
        Self {
            state: State::Live(receiver),
        }
    }
}

enum State<T> {
    /// The stream is alive.
    Live(oneshot::Receiver<Dropped<T>>),
    /// The stream was dropped; its handshake is being finished, until the deadline.
    Closing(Dropped<T>, futures_timer::Delay),
    Done,
}

impl<T> Future for DropListener<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let state = &mut self.get_mut().state;
        loop {
            match state {
                State::Live(receiver) => match receiver.poll_unpin(cx) {
                    Poll::Ready(Ok(dropped)) => {
                        *state =
                            State::Closing(dropped, futures_timer::Delay::new(HANDSHAKE_TIMEOUT))
                    }
                    // The stream went without handing anything over (it was forgotten).
                    Poll::Ready(Err(oneshot::Canceled)) => *state = State::Done,
                    Poll::Pending => return Poll::Pending,
                },
                State::Closing(dropped, deadline) => {
                    let result = match poll_finish(dropped, cx) {
                        Poll::Ready(result) => result,
                        Poll::Pending if deadline.poll_unpin(cx).is_ready() => {
                            tracing::trace!(
                                "no closing handshake from the remote, closing the data channel"
                            );
                            std::task::ready!(dropped.io.poll_close_unpin(cx)).map_err(Into::into)
                        }
                        Poll::Pending => return Poll::Pending,
                    };
                    *state = State::Done;
                    return Poll::Ready(result);
                }
                State::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// Drives a dropped stream's handshake to its end. Re-entrant: every step is recorded in the
/// handshake before it can return `Pending`.
fn poll_finish<T>(dropped: &mut Dropped<T>, cx: &mut Context<'_>) -> Poll<io::Result<()>>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let Dropped { io, handshake } = dropped;
    if handshake.channel_ended {
        return Poll::Ready(Ok(()));
    }
    if handshake.reset_received {
        tracing::trace!("stream reset by the remote, closing its data channel");
        return io.poll_close_unpin(cx).map_err(Into::into);
    }
    loop {
        if handshake.fin_ack_owed {
            std::task::ready!(io.poll_ready_unpin(cx))?;
            io.start_send_unpin(flag(Flag::FinAck))?;
            handshake.fin_ack_owed = false;
        }
        if !handshake.fin_received && !handshake.stop_sending_sent {
            std::task::ready!(io.poll_ready_unpin(cx))?;
            io.start_send_unpin(flag(Flag::StopSending))?;
            handshake.stop_sending_sent = true;
        }
        if !handshake.fin_sent {
            std::task::ready!(io.poll_ready_unpin(cx))?;
            io.start_send_unpin(flag(Flag::Fin))?;
            handshake.fin_sent = true;
        }
        std::task::ready!(io.poll_flush_unpin(cx))?;
        if handshake.fin_received && handshake.fin_ack_received {
            tracing::trace!("closing handshake complete, closing the data channel");
            return io.poll_close_unpin(cx).map_err(Into::into);
        }
        match std::task::ready!(io.poll_next_unpin(cx)) {
            None => {
                handshake.on_channel_end();
                return Poll::Ready(Ok(()));
            }
            Some(Err(e)) => return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e))),
            Some(Ok(Message { flag, .. })) => {
                // Data is discarded; flags we do not know are too.
                if let Some(flag) = flag.and_then(|f| Flag::try_from(f).ok()) {
                    handshake.on_flag(flag);
                }
                if handshake.reset_received {
                    return io.poll_close_unpin(cx).map_err(Into::into);
                }
            }
        }
    }
}

fn flag(flag: Flag) -> Message {
    Message {
        flag: Some(flag as i32),
        message: None,
    }
}
