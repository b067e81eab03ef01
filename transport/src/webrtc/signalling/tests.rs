use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::mpsc;
use futures::executor::block_on;
use futures::io::Cursor;
use futures::{SinkExt, StreamExt, TryStreamExt};

use super::*;

/// One direction of an in-memory stream.
struct Pipe {
    tx: mpsc::Sender<io::Result<Vec<u8>>>,
}

impl AsyncWrite for Pipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.tx.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                let _ = self.tx.start_send(Ok(buf.to_vec()));
                Poll::Ready(Ok(buf.len()))
            }
            Poll::Ready(Err(_)) => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tx.close_channel();
        Poll::Ready(Ok(()))
    }
}

/// Both ends of an in-memory stream.
fn duplex() -> (
    impl AsyncRead + AsyncWrite + Unpin,
    impl AsyncRead + AsyncWrite + Unpin,
) {
    let end = || {
        let (tx, rx) = mpsc::channel(64);
        (Pipe { tx }, rx.into_async_read())
    };
    let ((a_tx, b_rx), (b_tx, a_rx)) = (end(), end());
    (Duplex(a_rx, a_tx), Duplex(b_rx, b_tx))
}

struct Duplex<R>(R, Pipe);

impl<R: AsyncRead + Unpin> AsyncRead for Duplex<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for Duplex<R> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.1).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.1).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.1).poll_close(cx)
    }
}

/// A peer connection that "connects" once it has one of the peer's candidates, after sending
/// its own.
struct Mock {
    descriptions: Vec<String>,
    local: Vec<String>,
    remote_tx: mpsc::Sender<String>,
    remote_rx: mpsc::Receiver<String>,
    remote: Vec<String>,
}

impl Mock {
    fn new(local: &[&str]) -> Self {
        let (remote_tx, remote_rx) = mpsc::channel(16);
        Self {
            descriptions: Vec::new(),
            local: local.iter().rev().map(|c| c.to_string()).collect(),
            remote_tx,
            remote_rx,
            remote: Vec::new(),
        }
    }
}

impl PeerConnection for Mock {
    fn offer(&mut self) -> Fut<'_, Result<String, SignallingError>> {
        Box::pin(async { Ok("offer".to_owned()) })
    }

    fn answer(&mut self, offer: String) -> Fut<'_, Result<String, SignallingError>> {
        self.descriptions.push(offer);
        Box::pin(async { Ok("answer".to_owned()) })
    }

    fn accept(&mut self, answer: String) -> Fut<'_, Result<(), SignallingError>> {
        self.descriptions.push(answer);
        Box::pin(async { Ok(()) })
    }

    fn add_candidate(&mut self, candidate: String) -> Fut<'_, Result<(), SignallingError>> {
        Box::pin(async move {
            let _ = self.remote_tx.send(candidate).await;
            Ok(())
        })
    }

    fn progress(&mut self) -> Fut<'_, Result<Progress, SignallingError>> {
        Box::pin(async move {
            if let Some(candidate) = self.local.pop() {
                return Ok(Progress::Candidate(candidate));
            }
            match self.remote_rx.next().await {
                Some(candidate) => {
                    self.remote.push(candidate);
                    Ok(Progress::Connected)
                }
                None => Err(SignallingError::Ended),
            }
        })
    }
}

#[test]
fn a_dialer_and_a_listener_exchange_descriptions_and_candidates() {
    let (a, b) = duplex();
    let (mut dialer, mut listener) = (
        Mock::new(&["{\"candidate\":\"a\"}"]),
        Mock::new(&["{\"candidate\":\"b\"}"]),
    );
    block_on(async {
        let (dialed, answered) = futures::join!(dial(a, &mut dialer), answer(b, &mut listener));
        dialed.expect("the dialer connects");
        answered.expect("the listener connects");
    });
    assert_eq!(dialer.descriptions, ["answer"]);
    assert_eq!(listener.descriptions, ["offer"]);
    assert_eq!(dialer.remote, ["{\"candidate\":\"b\"}"]);
    assert_eq!(listener.remote, ["{\"candidate\":\"a\"}"]);
}

fn frame(r#type: Option<Type>, data: &str) -> Vec<u8> {
    prost::Message::encode_length_delimited_to_vec(&Message {
        r#type: r#type.map(|t| t as i32),
        data: Some(data.to_owned()),
    })
}

/// A listener reading `wire` (the dialer's messages) and writing nowhere.
fn answer_to(wire: Vec<u8>) -> Result<(), SignallingError> {
    struct Nowhere(Cursor<Vec<u8>>);
    impl AsyncRead for Nowhere {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }
    impl AsyncWrite for Nowhere {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }
    block_on(answer(Nowhere(Cursor::new(wire)), &mut Mock::new(&[])))
}

#[test]
fn an_oversize_message_is_refused_unread() {
    let mut prefix = unsigned_varint::encode::u64_buffer();
    let declared = unsigned_varint::encode::u64(64 * 1024 * 1024, &mut prefix).to_vec();
    assert!(matches!(
        answer_to(declared),
        Err(SignallingError::TooLarge(n)) if n == 64 * 1024 * 1024
    ));
}

#[test]
fn messages_out_of_turn_and_garbage_are_refused() {
    assert!(matches!(
        answer_to(frame(Some(Type::IceCandidate), "{}")),
        Err(SignallingError::Unexpected {
            expected: "an SDP offer",
            ..
        })
    ));
    let mut offer_then_answer = frame(Some(Type::SdpOffer), "offer");
    offer_then_answer.extend(frame(Some(Type::SdpAnswer), "answer"));
    assert!(matches!(
        answer_to(offer_then_answer),
        Err(SignallingError::Unexpected {
            expected: "an ICE candidate",
            ..
        })
    ));
    assert!(matches!(
        answer_to(vec![3, 0xff, 0xff, 0xff]),
        Err(SignallingError::Malformed(_))
    ));
    assert!(matches!(answer_to(Vec::new()), Err(SignallingError::Ended)));
}

#[test]
fn end_of_candidates_markers_are_ignored() {
    let mut wire = frame(Some(Type::SdpOffer), "offer");
    for marker in ["null", "\"\""] {
        wire.extend(frame(Some(Type::IceCandidate), marker));
    }
    wire.extend(frame(Some(Type::IceCandidate), "{\"candidate\":\"real\"}"));
    assert!(answer_to(wire).is_ok());
}

#[test]
fn unsent_fields_read_as_no_type_and_empty_data() {
    block_on(async {
        let mut wire = Cursor::new(prost::Message::encode_length_delimited_to_vec(
            &Message::default(),
        ));
        assert_eq!(
            read(&mut wire).await.expect("read"),
            Some((None, String::new()))
        );
        // The stream read as a sequence of messages stops at its end.
        let mut stream = Box::pin(messages(Cursor::new(frame(Some(Type::SdpOffer), "x"))));
        assert!(stream.next().await.is_some());
        assert!(stream.next().await.is_none());
    });
}
