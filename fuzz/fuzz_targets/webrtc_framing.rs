//! WebRTC data channel messages as a peer sends them: the stream's framing (length-prefixed
//! protobuf with flags) read to the end and dropped. No panic, and the drop listener ends.
#![no_main]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite};
use libfuzzer_sys::fuzz_target;
use libp2p_webrtc_utils::Stream;

/// A data channel delivering the input as messages of the sizes its first bytes say; writes
/// go nowhere.
struct Channel {
    messages: Vec<Vec<u8>>,
}

impl AsyncRead for Channel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.messages.pop() {
            Some(message) => {
                let n = message.len().min(buf.len());
                buf[..n].copy_from_slice(&message[..n]);
                Poll::Ready(Ok(n))
            }
            None => Poll::Ready(Ok(0)),
        }
    }
}

impl AsyncWrite for Channel {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut messages = Vec::new();
    let mut rest = data;
    while let [len, tail @ ..] = rest {
        let len = (*len as usize).min(tail.len());
        messages.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    messages.reverse();
    let (mut stream, listener) = Stream::new(Channel { messages });
    futures::executor::block_on(async {
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        drop(stream);
        let _ = listener.await;
    });
});
