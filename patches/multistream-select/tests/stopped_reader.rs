//! The patch: a dialer that stopped reading after its proposal (go-libp2p's Bitswap over QUIC:
//! open, write one message, close) still gets its stream negotiated and its message read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::executor::block_on;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite};
use multistream_select::{NegotiationError, listener_select_proto};

/// What the dialer sent, to be read; every write fails as a write to a QUIC stream whose
/// reader sent `STOP_SENDING` does.
struct Stopped {
    sent: io::Cursor<Vec<u8>>,
}

impl AsyncRead for Stopped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(io::Read::read(&mut self.sent, buf))
    }
}

impl AsyncWrite for Stopped {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "sending stopped by peer: error 0",
        )))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A multistream-select message: its uvarint length, the line, `\n`.
fn line(text: &str) -> Vec<u8> {
    let mut out = vec![text.len() as u8 + 1];
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    out
}

fn dialer_sent(lines: &[&str], payload: &[u8]) -> Stopped {
    let mut sent: Vec<u8> = lines.iter().flat_map(|l| line(l)).collect();
    sent.extend_from_slice(payload);
    Stopped {
        sent: io::Cursor::new(sent),
    }
}

#[test]
fn a_confirmation_nobody_reads_still_negotiates() {
    let io = dialer_sent(
        &["/multistream/1.0.0", "/ipfs/bitswap/1.2.0"],
        b"one bitswap message",
    );
    let (protocol, mut stream) =
        block_on(listener_select_proto(io, ["/ipfs/bitswap/1.2.0"])).expect("negotiated");
    assert_eq!(protocol, "/ipfs/bitswap/1.2.0");
    let mut message = Vec::new();
    block_on(stream.read_to_end(&mut message)).expect("read");
    assert_eq!(message, b"one bitswap message");
}

#[test]
fn a_rejection_nobody_reads_still_fails() {
    let io = dialer_sent(&["/multistream/1.0.0", "/meshsub/1.1.0"], b"");
    let result = block_on(listener_select_proto(io, ["/ipfs/bitswap/1.2.0"]));
    assert!(
        matches!(result, Err(NegotiationError::ProtocolError(_))),
        "{:?}",
        result.map(|(p, _)| p)
    );
}
