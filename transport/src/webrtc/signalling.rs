//! `/webrtc-signaling/0.0.1`: how two peers connected through a relay agree on a direct
//! WebRTC connection (libp2p/specs `webrtc/webrtc.md`).
//!
//! On a stream over the relayed (noise-authenticated) connection, the dialer sends an SDP
//! offer, the listener answers, and both send ICE candidates (the W3C `RTCIceCandidateInit`
//! JSON) until their peer connection is up; then the stream is closed. Each message is a
//! uvarint-length-prefixed protobuf `Message { optional Type type = 1; optional string data =
//! 2; }`. A message is at most [`MAX_MESSAGE`] bytes (an SDP offer for one data channel is
//! about a kilobyte), checked before its buffer is allocated.
//!
//! The flow is written once, over [`PeerConnection`], for the browser's and the native WebRTC
//! stack.

use std::future::Future;
use std::pin::Pin;

use futures::stream::FusedStream;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt, Stream, StreamExt};

/// The protocol name.
pub(crate) const PROTOCOL: libp2p::StreamProtocol =
    libp2p::StreamProtocol::new("/webrtc-signaling/0.0.1");

/// The largest signalling message read or written.
pub(crate) const MAX_MESSAGE: usize = 16 * 1024;

/// What a signalling message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum Type {
    SdpOffer = 0,
    SdpAnswer = 1,
    IceCandidate = 2,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Message {
    #[prost(enumeration = "Type", optional, tag = "1")]
    r#type: Option<i32>,
    #[prost(string, optional, tag = "2")]
    data: Option<String>,
}

/// Why a signalling exchange failed. The relayed connection it ran over is left as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignallingError {
    /// The stream failed.
    #[error("signalling stream")]
    Io(#[from] std::io::Error),
    /// The stream ended before the exchange did.
    #[error("the peer closed the signalling stream before the connection was up")]
    Ended,
    /// A message declared more than [`MAX_MESSAGE`] bytes; it was not read.
    #[error("signalling message of {0} bytes is over the {MAX_MESSAGE} byte limit")]
    TooLarge(u64),
    /// A message could not be decoded.
    #[error("malformed signalling message")]
    Malformed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A message came out of turn (an ICE candidate for an answer, say).
    #[error("expected {expected} in signalling, got {got}")]
    Unexpected {
        /// What the exchange was waiting for.
        expected: &'static str,
        /// What came.
        got: &'static str,
    },
    /// The WebRTC stack refused a description or candidate, or the connection failed.
    #[error("WebRTC")]
    WebRtc(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SignallingError {
    pub(crate) fn webrtc(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::WebRtc(Box::new(e))
    }
}

fn name(r#type: Option<Type>) -> &'static str {
    match r#type {
        Some(Type::SdpOffer) => "an SDP offer",
        Some(Type::SdpAnswer) => "an SDP answer",
        Some(Type::IceCandidate) => "an ICE candidate",
        None => "a message of no known type",
    }
}

/// Reads one message; `None` at a clean end of stream.
async fn read<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<(Option<Type>, String)>, SignallingError> {
    let mut len: u64 = 0;
    for i in 0..10 {
        let mut byte = [0u8];
        if stream.read(&mut byte).await? == 0 {
            return match i {
                0 => Ok(None),
                _ => Err(SignallingError::Ended),
            };
        }
        len |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            if len > MAX_MESSAGE as u64 {
                return Err(SignallingError::TooLarge(len));
            }
            let mut buf = vec![0u8; len as usize];
            stream.read_exact(&mut buf).await?;
            let message = <Message as prost::Message>::decode(buf.as_slice())
                .map_err(|e| SignallingError::Malformed(Box::new(e)))?;
            let r#type = message.r#type.and_then(|t| Type::try_from(t).ok());
            return Ok(Some((r#type, message.data.unwrap_or_default())));
        }
    }
    Err(SignallingError::Malformed(
        "length prefix over ten bytes".into(),
    ))
}

/// Writes one message and flushes.
async fn write<S: AsyncWrite + Unpin>(
    stream: &mut S,
    r#type: Type,
    data: &str,
) -> Result<(), SignallingError> {
    let message = Message {
        r#type: Some(r#type as i32),
        data: Some(data.to_owned()),
    };
    let bytes = prost::Message::encode_length_delimited_to_vec(&message);
    if bytes.len() > MAX_MESSAGE + 3 {
        return Err(SignallingError::TooLarge(bytes.len() as u64));
    }
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    Ok(())
}

/// What a peer connection reports while it connects.
#[derive(Debug)]
pub(crate) enum Progress {
    /// A local ICE candidate to send to the peer, as W3C `RTCIceCandidateInit` JSON. The
    /// native stack puts its candidates in its SDP instead; the browser trickles them.
    #[cfg_attr(not(any(wasm_browser, test)), allow(dead_code))]
    Candidate(String),
    /// ICE and DTLS are done: the connection is up.
    Connected,
}

/// A boxed future, `Send` natively; a page's futures are not.
#[cfg(not(wasm_browser))]
pub(crate) type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
#[cfg(wasm_browser)]
pub(crate) type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The WebRTC stack's side of the exchange: one peer connection being set up.
pub(crate) trait PeerConnection {
    /// Makes an offer (with a data channel, so there is something to negotiate) and sets it
    /// as the local description; the offer's SDP.
    fn offer(&mut self) -> Fut<'_, Result<String, SignallingError>>;
    /// Takes the peer's offer and answers it, setting both descriptions; the answer's SDP.
    fn answer(&mut self, offer: String) -> Fut<'_, Result<String, SignallingError>>;
    /// Takes the peer's answer to our offer.
    fn accept(&mut self, answer: String) -> Fut<'_, Result<(), SignallingError>>;
    /// Takes one of the peer's ICE candidates (W3C JSON).
    fn add_candidate(&mut self, candidate: String) -> Fut<'_, Result<(), SignallingError>>;
    /// The next local candidate, or the connection being up; an error when it failed.
    fn progress(&mut self) -> Fut<'_, Result<Progress, SignallingError>>;
}

/// The messages of a stream's read half, one after the other; safe to poll in a `select!`
/// (a message half read stays in the stream's state).
fn messages<R: AsyncRead + Unpin + 'static>(
    reader: R,
) -> impl Stream<Item = Result<(Option<Type>, String), SignallingError>> {
    futures::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        match read(&mut reader).await {
            Ok(Some(message)) => Some((Ok(message), Some(reader))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// What came first while connecting.
enum Next {
    /// The peer connection's progress.
    Progress(Progress),
    /// The peer's next message, or the end of its stream.
    Message(Option<(Option<Type>, String)>),
}

/// The peer's messages, one after the other.
trait Incoming: FusedStream<Item = Result<(Option<Type>, String), SignallingError>> + Unpin {}

impl<S> Incoming for S where
    S: FusedStream<Item = Result<(Option<Type>, String), SignallingError>> + Unpin
{
}

/// Waits for the first of the peer connection's progress and the peer's next message.
async fn next<P: PeerConnection + ?Sized>(
    pc: &mut P,
    incoming: &mut impl Incoming,
) -> Result<Next, SignallingError> {
    let mut progress = pc.progress().fuse();
    futures::select! {
        progress = progress => Ok(Next::Progress(progress?)),
        message = incoming.next() => Ok(Next::Message(message.transpose()?)),
    }
}

/// Sends our candidates and takes the peer's until the connection is up. A candidate the stack
/// refuses is skipped, as browsers do; `null` and `""` (end of candidates) are ignored. The
/// peer may close the stream once it has sent its candidates; then the connection has to come
/// up without more.
async fn exchange_candidates<S, P>(
    writer: &mut S,
    incoming: &mut impl Incoming,
    pc: &mut P,
) -> Result<(), SignallingError>
where
    S: AsyncWrite + Unpin,
    P: PeerConnection + ?Sized,
{
    loop {
        match next(pc, incoming).await? {
            Next::Progress(Progress::Connected) => return Ok(()),
            Next::Progress(Progress::Candidate(candidate)) => {
                // A peer that closed its stream already will not read it; the connection may
                // still come up from what it has.
                let _ = write(writer, Type::IceCandidate, &candidate).await;
            }
            Next::Message(Some(message)) => match message {
                (Some(Type::IceCandidate), candidate) => {
                    let candidate = candidate.trim();
                    let ended = ["null", "\"\"", ""].contains(&candidate);
                    if !ended && let Err(e) = pc.add_candidate(candidate.to_owned()).await {
                        tracing::debug!(error = %e, %candidate, "skipping a refused ICE candidate");
                    }
                }
                (other, _) => {
                    return Err(SignallingError::Unexpected {
                        expected: "an ICE candidate",
                        got: name(other),
                    });
                }
            },
            Next::Message(None) => {
                // No more candidates will come: wait for the connection on what we have.
                loop {
                    if let Progress::Connected = pc.progress().await? {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// The dialer's side: offer, read the answer, exchange candidates until connected, close.
pub(crate) async fn dial<S, P>(stream: S, pc: &mut P) -> Result<(), SignallingError>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
    P: PeerConnection + ?Sized,
{
    let (reader, mut writer) = stream.split();
    let mut incoming = Box::pin(messages(reader).fuse());
    let offer = pc.offer().await?;
    write(&mut writer, Type::SdpOffer, &offer).await?;
    // The answer, while our first candidates go out.
    let answer = loop {
        match next(pc, &mut incoming).await? {
            Next::Progress(Progress::Candidate(candidate)) => {
                write(&mut writer, Type::IceCandidate, &candidate).await?;
            }
            Next::Progress(Progress::Connected) => {
                return Err(SignallingError::Unexpected {
                    expected: "an SDP answer",
                    got: "a connection before it",
                });
            }
            Next::Message(None) => return Err(SignallingError::Ended),
            Next::Message(Some(message)) => match message {
                (Some(Type::SdpAnswer), sdp) => break sdp,
                (other, _) => {
                    return Err(SignallingError::Unexpected {
                        expected: "an SDP answer",
                        got: name(other),
                    });
                }
            },
        }
    };
    pc.accept(answer).await?;
    exchange_candidates(&mut writer, &mut incoming, pc).await?;
    let _ = writer.close().await;
    Ok(())
}

/// The listener's side: read the offer, answer it, exchange candidates until connected,
/// close.
pub(crate) async fn answer<S, P>(stream: S, pc: &mut P) -> Result<(), SignallingError>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
    P: PeerConnection + ?Sized,
{
    let (reader, mut writer) = stream.split();
    let mut incoming = Box::pin(messages(reader).fuse());
    let offer = match incoming.next().await {
        None => return Err(SignallingError::Ended),
        Some(message) => match message? {
            (Some(Type::SdpOffer), sdp) => sdp,
            (other, _) => {
                return Err(SignallingError::Unexpected {
                    expected: "an SDP offer",
                    got: name(other),
                });
            }
        },
    };
    let answer = pc.answer(offer).await?;
    write(&mut writer, Type::SdpAnswer, &answer).await?;
    exchange_candidates(&mut writer, &mut incoming, pc).await?;
    let _ = writer.close().await;
    Ok(())
}

#[cfg(test)]
mod tests;
