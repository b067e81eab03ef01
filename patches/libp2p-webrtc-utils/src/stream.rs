// Copyright 2022 Parity Technologies (UK) Ltd.
// Copyright 2023 Protocol Labs.
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
    io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures::{channel::oneshot, prelude::*, ready};

use crate::{
    proto::{Flag, Message},
    stream::{
        drop_listener::{Dropped, Handshake},
        framed_dc::FramedDc,
        state::{Closing, State},
    },
};

mod drop_listener;
mod framed_dc;
mod state;

/// Maximum length of a message.
///
/// "As long as message interleaving is not supported, the sender SHOULD limit the maximum message
/// size to 16 KB to avoid monopolization."
/// Source: <https://www.rfc-editor.org/rfc/rfc8831#name-transferring-user-data-on-a>
pub const MAX_MSG_LEN: usize = 16 * 1024;
/// Length of varint, in bytes.
const VARINT_LEN: usize = 2;
/// Overhead of the protobuf encoding, in bytes.
const PROTO_OVERHEAD: usize = 5;
/// Maximum length of data, in bytes.
const MAX_DATA_LEN: usize = MAX_MSG_LEN - VARINT_LEN - PROTO_OVERHEAD;

const LIVE: &str = "the framed channel is only taken when the stream is dropped";

pub use drop_listener::DropListener;
/// A stream backed by a WebRTC data channel.
///
/// To be a proper libp2p stream, we need to implement [`AsyncRead`] and [`AsyncWrite`] as well
/// as support a half-closed state which we do by framing messages in a protobuf envelope.
///
/// Switchboard's patch: a FIN is answered with FIN_ACK, an inbound FIN_ACK is accepted, and a
/// flag that closes nothing (STOP_SENDING, FIN_ACK) no longer reads as the end of the stream.
/// Closing the write half does not wait for the FIN_ACK (peers without FIN_ACK would hang it);
/// dropping the stream hands the rest of the handshake to the [`DropListener`], which closes the
/// data channel once both FINs are acknowledged.
pub struct Stream<T> {
    /// `None` only while dropping, when it goes to the [`DropListener`].
    io: Option<FramedDc<T>>,
    state: State,
    read_buffer: Bytes,
    handshake: Handshake,
    /// Whether `poll_read` has returned the end of the stream after the remote's FIN.
    eof_returned: bool,
    /// Our FIN_ACK is queued, not flushed yet (Switchboard's patch).
    fin_ack_flushing: bool,
    /// Dropping the stream sends `io` and the handshake to the [`DropListener`].
    drop_notifier: Option<oneshot::Sender<Dropped<T>>>,
}

impl<T> Stream<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    /// Returns a new [`Stream`] and a [`DropListener`], which finishes the stream's closing
    /// handshake once it is dropped.
    pub fn new(data_channel: T) -> (Self, DropListener<T>) {
        let (sender, receiver) = oneshot::channel();

        let stream = Self {
            io: Some(framed_dc::new(data_channel)),
            state: State::Open,
            read_buffer: Bytes::default(),
            handshake: Handshake::default(),
            eof_returned: false,
            fin_ack_flushing: false,
            drop_notifier: Some(sender),
        };

        (stream, DropListener::new(receiver))
    }

    /// Gracefully closes the "read-half" of the stream.
    pub fn poll_close_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.state.close_read_barrier()? {
                Some(Closing::Requested) => {
                    let io = self.io.as_mut().expect(LIVE);
                    ready!(io.poll_ready_unpin(cx))?;

                    io.start_send_unpin(Message {
                        flag: Some(Flag::StopSending as i32),
                        message: None,
                    })?;
                    self.state.close_read_message_sent();
                    self.handshake.stop_sending_sent = true;

                    continue;
                }
                Some(Closing::MessageSent) => {
                    ready!(self.io.as_mut().expect(LIVE).poll_flush_unpin(cx))?;

                    self.state.read_closed();

                    return Poll::Ready(Ok(()));
                }
                None => return Poll::Ready(Ok(())),
            }
        }
    }

    /// Queues the FIN_ACK a FIN asked for, and starts sending it; ready once it is out of
    /// our hands (or cannot be sent: the acknowledgement is best effort, a failure is left
    /// for the next write to report, and the [`DropListener`] retries it).
    fn poll_send_fin_ack(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let io = self.io.as_mut().expect(LIVE);
        if self.handshake.fin_ack_owed {
            match io.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {
                    if let Err(e) = io.start_send_unpin(flag_message(Flag::FinAck)) {
                        tracing::debug!("cannot queue FIN_ACK: {e}");
                        return Poll::Ready(());
                    }
                    self.handshake.fin_ack_owed = false;
                    self.fin_ack_flushing = true;
                }
                Poll::Ready(Err(e)) => {
                    tracing::debug!("cannot send FIN_ACK: {e}");
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        // A channel that ended takes nothing more.
        if !self.fin_ack_flushing || self.handshake.channel_ended {
            self.fin_ack_flushing = false;
            return Poll::Ready(());
        }
        if let Err(e) = ready!(io.poll_flush_unpin(cx)) {
            tracing::debug!("cannot send FIN_ACK: {e}");
        }
        self.fin_ack_flushing = false;
        Poll::Ready(())
    }

    /// Applies an inbound flag to the halves' state and to the closing handshake.
    fn on_inbound_flag(&mut self, flag: Flag) {
        self.state.handle_inbound_flag(flag, &mut self.read_buffer);
        self.handshake.on_flag(flag);
    }
}

impl<T> Drop for Stream<T> {
    fn drop(&mut self) {
        if let (Some(io), Some(notifier)) = (self.io.take(), self.drop_notifier.take()) {
            // The listener is gone with its connection; then so is the channel.
            let _ = notifier.send(Dropped {
                io,
                handshake: self.handshake,
            });
        }
    }
}

impl<T> AsyncRead for Stream<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            // Data that came before (or with) the remote's FIN is read before the end.
            if !self.read_buffer.is_empty() {
                let n = std::cmp::min(self.read_buffer.len(), buf.len());
                let data = self.read_buffer.split_to(n);
                buf[0..n].copy_from_slice(&data[..]);

                return Poll::Ready(Ok(n));
            }
            if self.handshake.fin_received && !self.handshake.reset_received && !self.eof_returned {
                // The end is read once the FIN_ACK is out of our hands (Switchboard's patch):
                // a reader that has seen the end polls nothing again, and a FIN_ACK left in
                // the sink behind a full send buffer waited for the next write (the remote,
                // js-libp2p, waits for it before it reads on).
                ready!(self.poll_send_fin_ack(cx));
                self.eof_returned = true;
                return Poll::Ready(Ok(0));
            }

            self.state.read_barrier()?;

            match ready!(io_poll_next(self.io.as_mut().expect(LIVE), cx))? {
                Some((flag, message)) => {
                    if let Some(flag) = flag {
                        self.on_inbound_flag(flag);
                    }
                    // A RESET discards what came with it; flags that close nothing (FIN_ACK,
                    // STOP_SENDING) and empty messages are not the end of the stream.
                    if !self.handshake.reset_received
                        && let Some(msg) = message.filter(|m| !m.is_empty())
                    {
                        self.read_buffer = msg.into();
                    }
                }
                None => {
                    let this = &mut *self;
                    this.state
                        .handle_inbound_flag(Flag::Fin, &mut this.read_buffer);
                    this.handshake.on_channel_end();
                }
            }
        }
    }
}

impl<T> AsyncWrite for Stream<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // Nobody reads a read-closed stream: act on the flags that still arrive (STOP_SENDING,
        // RESET, FIN_ACK; a FIN after our STOP_SENDING) here, and discard the data.
        while self.state.read_flags_in_async_write() && !self.handshake.channel_ended {
            match io_poll_next(self.io.as_mut().expect(LIVE), cx)? {
                Poll::Ready(Some((Some(flag), _message))) => self.on_inbound_flag(flag),
                Poll::Ready(Some((None, _message))) => {}
                Poll::Ready(None) => self.handshake.on_channel_end(),
                Poll::Pending => break,
            }
        }
        let _ = self.poll_send_fin_ack(cx);

        self.state.write_barrier()?;

        let io = self.io.as_mut().expect(LIVE);
        ready!(io.poll_ready_unpin(cx))?;

        let n = usize::min(buf.len(), MAX_DATA_LEN);

        io.start_send_unpin(Message {
            flag: None,
            message: Some(buf[0..n].into()),
        })?;

        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = self.poll_send_fin_ack(cx);
        self.io
            .as_mut()
            .expect(LIVE)
            .poll_flush_unpin(cx)
            .map_err(Into::into)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = self.poll_send_fin_ack(cx);
        loop {
            match self.state.close_write_barrier()? {
                Some(Closing::Requested) => {
                    let io = self.io.as_mut().expect(LIVE);
                    ready!(io.poll_ready_unpin(cx))?;

                    io.start_send_unpin(flag_message(Flag::Fin))?;
                    self.state.close_write_message_sent();
                    self.handshake.fin_sent = true;

                    continue;
                }
                Some(Closing::MessageSent) => {
                    ready!(self.io.as_mut().expect(LIVE).poll_flush_unpin(cx))?;

                    self.state.write_closed();

                    return Poll::Ready(Ok(()));
                }
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}

fn flag_message(flag: Flag) -> Message {
    Message {
        flag: Some(flag as i32),
        message: None,
    }
}

/// A received message: its flag and its data.
type Frame = (Option<Flag>, Option<Vec<u8>>);

fn io_poll_next<T>(io: &mut FramedDc<T>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Frame>>>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    match ready!(io.poll_next_unpin(cx))
        .transpose()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
    {
        Some(Message { flag, message }) => {
            let flag = flag
                .map(|f| {
                    Flag::try_from(f).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
                })
                .transpose()?;
            Poll::Ready(Ok(Some((flag, message))))
        }
        None => Poll::Ready(Ok(None)),
    }
}

#[cfg(test)]
mod tests {
    use asynchronous_codec::{Decoder, Encoder};
    use bytes::BytesMut;

    use super::*;
    use crate::stream::framed_dc::codec;

    /// Switchboard's patch: tests of the closing handshake against a scripted remote, over an
    /// in-memory, message-oriented channel that behaves like a data channel.
    mod handshake {
        use std::{
            collections::VecDeque,
            sync::{Arc, Mutex},
            task::Waker,
        };

        use futures::{executor::block_on, task::noop_waker};

        use super::*;

        #[derive(Default)]
        struct Queue {
            messages: VecDeque<Vec<u8>>,
            closed: bool,
            reader: Option<Waker>,
            /// The send buffer is full: writes wait (`writer`) until the remote takes some.
            full: bool,
            writer: Option<Waker>,
        }

        type Shared = Arc<Mutex<Queue>>;

        /// One end of the channel: reads one message per read, like `RTCDataChannel`.
        #[derive(Clone)]
        struct End {
            inbox: Shared,
            outbox: Shared,
        }

        impl AsyncRead for End {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let mut inbox = self.inbox.lock().unwrap();
                if let Some(message) = inbox.messages.pop_front() {
                    assert!(message.len() <= buf.len(), "test messages fit one read");
                    buf[..message.len()].copy_from_slice(&message);
                    return Poll::Ready(Ok(message.len()));
                }
                if inbox.closed {
                    return Poll::Ready(Ok(0));
                }
                inbox.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }

        impl AsyncWrite for End {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let mut outbox = self.outbox.lock().unwrap();
                if outbox.closed {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                if outbox.full {
                    outbox.writer = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                outbox.messages.push_back(buf.to_vec());
                if let Some(waker) = outbox.reader.take() {
                    waker.wake();
                }
                Poll::Ready(Ok(buf.len()))
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Closing a data channel ends it both ways.
            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                for queue in [&self.inbox, &self.outbox] {
                    let mut queue = queue.lock().unwrap();
                    queue.closed = true;
                    if let Some(waker) = queue.reader.take() {
                        waker.wake();
                    }
                }
                Poll::Ready(Ok(()))
            }
        }

        /// The scripted remote: sends and receives whole frames.
        struct Remote {
            inbox: Shared,
            outbox: Shared,
        }

        impl Remote {
            fn send(&self, flag: Option<Flag>, data: &[u8]) {
                let mut frame = BytesMut::new();
                codec()
                    .encode(
                        Message {
                            flag: flag.map(|f| f as i32),
                            message: (!data.is_empty()).then(|| data.to_vec()),
                        },
                        &mut frame,
                    )
                    .unwrap();
                End {
                    inbox: self.inbox.clone(),
                    outbox: self.outbox.clone(),
                }
                .poll_write_unpin_now(&frame);
            }

            /// Everything the local end sent so far, as (flag, data) frames (one write may
            /// carry several frames, as on a real data channel).
            fn received(&self) -> Vec<(Option<Flag>, Vec<u8>)> {
                let mut inbox = self.inbox.lock().unwrap();
                let mut bytes = BytesMut::new();
                for message in inbox.messages.drain(..) {
                    bytes.extend_from_slice(&message);
                }
                let mut frames = Vec::new();
                while let Some(message) = codec().decode(&mut bytes).unwrap() {
                    frames.push((
                        message.flag.map(|f| Flag::try_from(f).unwrap()),
                        message.message.unwrap_or_default(),
                    ));
                }
                assert!(bytes.is_empty(), "no partial frame");
                frames
            }

            fn close(&self) {
                for queue in [&self.inbox, &self.outbox] {
                    let mut queue = queue.lock().unwrap();
                    queue.closed = true;
                    if let Some(waker) = queue.reader.take() {
                        waker.wake();
                    }
                }
            }

            /// Fills our send buffer (`true`: the local end's writes wait) or empties it.
            fn fill(&self, full: bool) {
                let mut inbox = self.inbox.lock().unwrap();
                inbox.full = full;
                if !full && let Some(waker) = inbox.writer.take() {
                    waker.wake();
                }
            }

            /// Whether the local end closed the channel.
            fn channel_closed(&self) -> bool {
                self.inbox.lock().unwrap().closed
            }
        }

        impl End {
            fn poll_write_unpin_now(mut self, frame: &[u8]) {
                let waker = noop_waker();
                let result =
                    Pin::new(&mut self).poll_write(&mut Context::from_waker(&waker), frame);
                assert!(matches!(result, Poll::Ready(Ok(_))));
            }
        }

        fn pair() -> (Stream<End>, DropListener<End>, Remote) {
            let to_local = Shared::default();
            let to_remote = Shared::default();
            let (stream, listener) = Stream::new(End {
                inbox: to_local.clone(),
                outbox: to_remote.clone(),
            });
            let remote = Remote {
                inbox: to_remote,
                outbox: to_local,
            };
            (stream, listener, remote)
        }

        /// Polls the listener once: `true` when it finished.
        fn poll_once(listener: &mut DropListener<End>) -> bool {
            let waker = noop_waker();
            match listener.poll_unpin(&mut Context::from_waker(&waker)) {
                Poll::Ready(result) => {
                    result.unwrap();
                    true
                }
                Poll::Pending => false,
            }
        }

        #[test]
        fn no_data_channel_message_is_larger_than_the_limit() {
            let (mut stream, _listener, remote) = pair();
            // A length prefix, then a block: the two must not share a message.
            block_on(async {
                stream.write_all(&[0x80, 0x80, 0x10]).await.unwrap();
                stream.write_all(&vec![7; 256 * 1024]).await.unwrap();
                stream.flush().await.unwrap();
            });

            let inbox = remote.inbox.lock().unwrap();
            assert!(inbox.messages.len() > 16);
            assert!(inbox.messages.iter().all(|m| m.len() <= MAX_MSG_LEN));
        }

        #[test]
        fn a_fin_is_acknowledged() {
            let (mut stream, _listener, remote) = pair();
            remote.send(None, b"hello");
            remote.send(Some(Flag::Fin), b"");

            let mut data = Vec::new();
            block_on(stream.read_to_end(&mut data)).unwrap();

            assert_eq!(data, b"hello");
            assert_eq!(remote.received(), [(Some(Flag::FinAck), vec![])]);
        }

        /// Switchboard's patch: a reader that saw the end polls nothing again, so the end
        /// waits for the FIN_ACK to be out; behind a full send buffer it waited for our next
        /// write, and js-libp2p reads nothing more until it has it.
        #[test]
        fn the_end_is_read_once_the_fin_ack_is_out() {
            struct Woken(std::sync::atomic::AtomicBool);
            impl std::task::Wake for Woken {
                fn wake(self: Arc<Self>) {
                    self.0.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let (mut stream, _listener, remote) = pair();
            remote.fill(true);
            remote.send(Some(Flag::Fin), b"");

            let woken = Arc::new(Woken(false.into()));
            let waker = Waker::from(woken.clone());
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0; 8];
            assert!(
                Pin::new(&mut stream)
                    .poll_read(&mut cx, &mut buf)
                    .is_pending(),
                "the end waits for the FIN_ACK to go out"
            );
            assert_eq!(remote.received(), []);

            remote.fill(false);
            assert!(woken.0.load(std::sync::atomic::Ordering::SeqCst));
            assert!(matches!(
                Pin::new(&mut stream).poll_read(&mut cx, &mut buf),
                Poll::Ready(Ok(0))
            ));
            assert_eq!(remote.received(), [(Some(Flag::FinAck), vec![])]);
        }

        #[test]
        fn a_fin_ack_is_neither_an_error_nor_the_end() {
            let (mut stream, _listener, remote) = pair();
            block_on(async {
                stream.write_all(b"request").await.unwrap();
                stream.close().await.unwrap();
            });
            remote.send(Some(Flag::FinAck), b"");
            remote.send(None, b"response");
            remote.send(Some(Flag::Fin), b"");

            let mut data = Vec::new();
            block_on(stream.read_to_end(&mut data)).unwrap();

            assert_eq!(data, b"response");
            assert_eq!(
                remote.received(),
                [
                    (None, b"request".to_vec()),
                    (Some(Flag::Fin), vec![]),
                    (Some(Flag::FinAck), vec![]),
                ]
            );
        }

        #[test]
        fn stop_sending_alone_is_not_the_end() {
            let (mut stream, _listener, remote) = pair();
            remote.send(Some(Flag::StopSending), b"");
            remote.send(None, b"still talking");
            remote.send(Some(Flag::Fin), b"");

            let mut data = Vec::new();
            block_on(stream.read_to_end(&mut data)).unwrap();

            assert_eq!(data, b"still talking");
        }

        #[test]
        fn data_sent_with_the_fin_is_read_before_the_end() {
            let (mut stream, _listener, remote) = pair();
            remote.send(Some(Flag::Fin), b"last words");

            let mut data = Vec::new();
            block_on(stream.read_to_end(&mut data)).unwrap();

            assert_eq!(data, b"last words");
        }

        #[test]
        fn a_dropped_stream_finishes_the_handshake_and_closes_the_channel() {
            let (mut stream, mut listener, remote) = pair();
            remote.send(None, b"hello");
            remote.send(Some(Flag::Fin), b"");
            let mut data = Vec::new();
            block_on(stream.read_to_end(&mut data)).unwrap();
            assert_eq!(remote.received(), [(Some(Flag::FinAck), vec![])]);

            // Dropped without closing: the listener closes our write half...
            drop(stream);
            assert!(!poll_once(&mut listener));
            assert_eq!(remote.received(), [(Some(Flag::Fin), vec![])]);
            assert!(!remote.channel_closed());

            // ...and closes the channel once the remote acknowledged it.
            remote.send(Some(Flag::FinAck), b"");
            assert!(poll_once(&mut listener));
            assert!(remote.channel_closed());
        }

        /// Switchboard's patch: a remote that never answers our FIN (any rust-libp2p, a peer
        /// gone quiet) does not hold the channel for ever; it is closed at the deadline.
        #[test]
        fn a_remote_that_never_acknowledges_gets_its_channel_closed() {
            let (stream, listener, remote) = pair();
            drop(stream);
            // Waits (it sends nothing more) past the deadline, then the channel is closed.
            block_on(listener).unwrap();
            assert!(remote.channel_closed());
            assert!(
                remote
                    .received()
                    .iter()
                    .any(|(flag, _)| *flag == Some(Flag::Fin))
            );
        }

        #[test]
        fn a_dropped_stream_flushes_what_it_buffered_then_closes_both_halves() {
            let (mut stream, mut listener, remote) = pair();
            // Written, not flushed: the frame waits in the stream's buffer.
            block_on(stream.write(b"unflushed")).unwrap();
            drop(stream);

            assert!(!poll_once(&mut listener));
            assert_eq!(
                remote.received(),
                [
                    (None, b"unflushed".to_vec()),
                    (Some(Flag::StopSending), vec![]),
                    (Some(Flag::Fin), vec![]),
                ]
            );

            // Data that still comes is discarded; the remote's FIN is acknowledged.
            remote.send(None, b"ignored");
            remote.send(Some(Flag::FinAck), b"");
            remote.send(Some(Flag::Fin), b"");
            assert!(poll_once(&mut listener));
            assert_eq!(remote.received(), [(Some(Flag::FinAck), vec![])]);
            assert!(remote.channel_closed());
        }

        #[test]
        fn a_fin_that_arrives_after_the_drop_is_acknowledged() {
            let (mut stream, mut listener, remote) = pair();
            block_on(async {
                stream.write_all(b"response").await.unwrap();
                stream.close().await.unwrap();
            });
            drop(stream);
            assert!(!poll_once(&mut listener));
            assert_eq!(
                remote.received(),
                [
                    (None, b"response".to_vec()),
                    (Some(Flag::Fin), vec![]),
                    (Some(Flag::StopSending), vec![]),
                ]
            );

            // What js-libp2p does after reading a response: FIN, then wait for FIN_ACK.
            remote.send(Some(Flag::FinAck), b"");
            remote.send(Some(Flag::Fin), b"");
            assert!(poll_once(&mut listener));
            assert_eq!(remote.received(), [(Some(Flag::FinAck), vec![])]);
        }

        #[test]
        fn a_reset_ends_reads_and_closes_the_channel_without_reply() {
            let (mut stream, mut listener, remote) = pair();
            remote.send(None, b"discarded");
            remote.send(Some(Flag::Reset), b"");

            let mut data = Vec::new();
            // The data before the reset may be read; the reset is an error.
            let error = block_on(stream.read_to_end(&mut data)).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);

            drop(stream);
            assert!(poll_once(&mut listener));
            assert_eq!(remote.received(), []);
            assert!(remote.channel_closed());
        }

        #[test]
        fn a_channel_closed_by_the_remote_ends_the_listener() {
            let (stream, mut listener, remote) = pair();
            drop(stream);
            assert!(!poll_once(&mut listener));
            remote.close();
            assert!(poll_once(&mut listener));
        }
    }

    #[test]
    fn max_data_len() {
        // Largest possible message.
        let message = [0; MAX_DATA_LEN];

        let protobuf = Message {
            flag: Some(Flag::Fin as i32),
            message: Some(message.to_vec()),
        };

        let mut codec = codec();

        let mut dst = BytesMut::new();
        codec.encode(protobuf, &mut dst).unwrap();

        // Ensure the varint prefixed and protobuf encoded largest message is no longer than the
        // maximum limit specified in the libp2p WebRTC specification.
        assert_eq!(dst.len(), MAX_MSG_LEN);
    }
}
