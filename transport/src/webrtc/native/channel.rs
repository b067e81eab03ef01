//! One data channel as async I/O, for libp2p-webrtc-utils' stream framing: each write is one
//! message (the framing writes one frame at a time), reads return the messages' bytes in
//! order.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{AsyncRead, AsyncWrite, Sink};
use str0m::channel::ChannelId;

use super::driver::Command;

/// A channel's state, shared by its I/O and the driver.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Messages received and not read yet.
    inbox: VecDeque<Bytes>,
    /// Their bytes.
    pub(super) inbox_bytes: usize,
    read_waker: Option<Waker>,
    /// Messages written and not yet taken by the stack (its send buffer was full).
    pub(super) unsent: VecDeque<Bytes>,
    /// The stack holds more than it should for this channel: writers wait.
    pub(super) blocked: bool,
    write_waker: Option<Waker>,
    /// The channel is closed, or the connection gone: reads end, writes fail.
    pub(super) ended: bool,
}

impl Shared {
    /// A message from the peer.
    pub(super) fn deliver(&mut self, data: Vec<u8>) {
        self.inbox_bytes += data.len();
        self.inbox.push_back(Bytes::from(data));
        if let Some(waker) = self.read_waker.take() {
            waker.wake();
        }
    }

    /// Writers may go on.
    pub(super) fn unblock(&mut self) {
        self.blocked = false;
        if let Some(waker) = self.write_waker.take() {
            waker.wake();
        }
    }

    /// The channel is over: wakes readers and writers.
    pub(super) fn end(&mut self) {
        self.ended = true;
        self.unsent.clear();
        for waker in [self.read_waker.take(), self.write_waker.take()]
            .into_iter()
            .flatten()
        {
            waker.wake();
        }
    }
}

/// A channel's shared state.
pub(super) type SharedRef = Arc<Mutex<Shared>>;

pub(super) fn lock(shared: &SharedRef) -> MutexGuard<'_, Shared> {
    // Nothing panics while holding it; a poisoned lock still holds valid state.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A data channel's I/O.
pub(crate) struct ChannelIo {
    id: ChannelId,
    shared: SharedRef,
    commands: mpsc::Sender<Command>,
    closed: bool,
}

impl ChannelIo {
    pub(super) fn new(id: ChannelId, shared: SharedRef, commands: mpsc::Sender<Command>) -> Self {
        Self {
            id,
            shared,
            commands,
            closed: false,
        }
    }
}

impl AsyncRead for ChannelIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut shared = lock(&self.shared);
        let Some(front) = shared.inbox.front_mut() else {
            if shared.ended {
                return Poll::Ready(Ok(0));
            }
            shared.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        };
        let n = buf.len().min(front.len());
        buf[..n].copy_from_slice(&front[..n]);
        let rest = front.split_off(n);
        *front = rest;
        if front.is_empty() {
            shared.inbox.pop_front();
        }
        shared.inbox_bytes -= n;
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for ChannelIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        {
            let mut shared = lock(&self.shared);
            if shared.ended {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            if shared.blocked {
                shared.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        let this = &mut *self;
        match Pin::new(&mut this.commands).poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Poll::Pending => return Poll::Pending,
        }
        let message = Command::Write(this.id, Bytes::copy_from_slice(buf));
        if Pin::new(&mut this.commands).start_send(message).is_err() {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written messages are the driver's; the stack's buffer is what flushing would wait
        // on, and the framing flushes after every frame.
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.closed || lock(&self.shared).ended {
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        match Pin::new(&mut this.commands).poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                let _ = Pin::new(&mut this.commands).start_send(Command::Close(this.id));
                this.closed = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};

    use super::*;

    fn channel() -> (ChannelIo, SharedRef, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel(8);
        let shared = SharedRef::default();
        // A channel id is str0m's to make.
        let mut rtc = str0m::Rtc::new(std::time::Instant::now());
        let id = rtc.sdp_api().add_channel(String::new());
        (ChannelIo::new(id, shared.clone(), tx), shared, rx)
    }

    #[test]
    fn reads_return_messages_in_order_then_end() {
        let (mut io, shared, _rx) = channel();
        lock(&shared).deliver(b"hello ".to_vec());
        lock(&shared).deliver(b"world".to_vec());
        lock(&shared).end();
        let mut read = String::new();
        block_on(io.read_to_string(&mut read)).expect("read");
        assert_eq!(read, "hello world");
        assert_eq!(lock(&shared).inbox_bytes, 0);
    }

    #[test]
    fn a_write_is_one_message_and_waits_while_blocked() {
        let (mut io, shared, mut rx) = channel();
        block_on(io.write_all(b"frame")).expect("write");
        assert!(matches!(
            block_on(rx.next()),
            Some(Command::Write(_, data)) if &data[..] == b"frame"
        ));
        lock(&shared).blocked = true;
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut io).poll_write(&mut cx, b"x").is_pending());
        lock(&shared).unblock();
        assert!(matches!(
            Pin::new(&mut io).poll_write(&mut cx, b"x"),
            Poll::Ready(Ok(1))
        ));
        lock(&shared).end();
        assert!(matches!(
            Pin::new(&mut io).poll_write(&mut cx, b"x"),
            Poll::Ready(Err(_))
        ));
    }
}
