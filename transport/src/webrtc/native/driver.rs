//! The task that drives one str0m peer connection: it owns the `Rtc` (sans-IO: ICE, DTLS,
//! SCTP, data channels) and its UDP sockets, feeds it datagrams and timeouts, sends what it
//! transmits, and carries commands in (signalling, writes, channels to open and close) and
//! events out (progress to the signalling, channel data and ends to the streams).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use switchboard_runtime::Handle;

use super::channel::{ChannelIo, SharedRef, lock};
use super::udp::Udp;
use crate::webrtc::signalling::{Progress, SignallingError};

/// The label of the data channel a dialer opens so that its offer negotiates the SCTP
/// association; closed once up, never a stream (js-libp2p's name for it).
const INIT_LABEL: &str = "init";
/// Bytes the stack may hold for one channel before its writers wait.
const HIGH_WATER: usize = 1024 * 1024;
/// Writers go on once the stack holds less than this.
const LOW_WATER: usize = 256 * 1024;
/// Bytes a channel's reader may leave unread before the channel is cut (the peer sends
/// faster than the node reads, and a data channel has no way to make it wait).
const MAX_UNREAD: usize = 16 * 1024 * 1024;
/// Bytes all channels of a connection may leave unread.
const MAX_UNREAD_TOTAL: usize = 64 * 1024 * 1024;
/// Channels the peer opened that wait for the muxer to take them; more are closed.
const INBOUND_QUEUE: usize = 32;
/// The largest datagram read.
const DATAGRAM: usize = 2048;
/// Datagrams sent in one go before the driver lets other tasks run: a burst the size of a
/// congestion window overflows the receive buffer of a peer whose reader waits for the same
/// thread (smol's single-threaded executor), and a lost packet costs SCTP a second.
const BURST: usize = 32;
/// Datagrams waiting for a full socket buffer to drain; past this they are dropped, as the
/// network might (ICE, DTLS and SCTP retransmit).
const MAX_OUTGOING: usize = 1024;
/// How long a disconnected ICE connection may take to come back before it is given up.
const DISCONNECTED_GRACE: Duration = Duration::from_secs(3);

type Reply<T> = oneshot::Sender<Result<T, SignallingError>>;

/// What the signalling, the muxer and the streams ask of the driver.
pub(crate) enum Command {
    Offer(Reply<String>),
    Answer(String, Reply<String>),
    Accept(String, Reply<()>),
    AddCandidate(String, Reply<()>),
    /// Open a data channel for an outbound stream.
    Open(oneshot::Sender<std::io::Result<ChannelIo>>),
    Write(ChannelId, Bytes),
    Close(ChannelId),
}

/// The driver's ends toward signalling and muxer.
pub(super) struct Handles {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) progress: mpsc::Receiver<Result<Progress, SignallingError>>,
    pub(super) inbound: mpsc::Receiver<ChannelIo>,
}

struct Channel {
    shared: SharedRef,
}

pub(super) struct Driver {
    rtc: Rtc,
    /// Each socket with its local address, read once: every datagram names one.
    sockets: Vec<(Udp, SocketAddr)>,
    commands_tx: mpsc::Sender<Command>,
    commands: mpsc::Receiver<Command>,
    progress: mpsc::Sender<Result<Progress, SignallingError>>,
    inbound: mpsc::Sender<ChannelIo>,
    pending_offer: Option<SdpPendingOffer>,
    init: Option<ChannelId>,
    channels: HashMap<ChannelId, Channel>,
    opening: HashMap<ChannelId, oneshot::Sender<std::io::Result<ChannelIo>>>,
    unread: usize,
    connected: bool,
    disconnected_since: Option<Instant>,
    /// Datagrams a full socket buffer did not take yet, in order: (socket, to, datagram).
    outgoing: VecDeque<(usize, SocketAddr, Vec<u8>)>,
    /// A burst went out: let other tasks run before the next.
    yield_first: bool,
    rt: Handle,
}

/// Makes an `Rtc` with a host candidate for each socket, and its driver; not running yet.
pub(super) fn new(rt: Handle, sockets: Vec<Udp>) -> std::io::Result<(Driver, Handles)> {
    let mut config = Rtc::builder().set_crypto_provider(crypto());
    // A peer that stops answering ICE checks (a closed tab, a dead process) is given up after
    // about ten seconds of silence (four unanswered checks) rather than str0m's twenty.
    config.set_initial_stun_rto(Duration::from_millis(250));
    config.set_max_stun_rto(Duration::from_millis(1500));
    config.set_max_stun_retransmits(4);
    let mut rtc = config.build(Instant::now());
    let sockets = sockets
        .into_iter()
        .map(|socket| socket.local_addr().map(|addr| (socket, addr)))
        .collect::<std::io::Result<Vec<_>>>()?;
    for &(_, addr) in &sockets {
        match Candidate::host(addr, "udp") {
            Ok(candidate) => {
                let _ = rtc.add_local_candidate(candidate);
            }
            Err(e) => tracing::debug!(%addr, error = %e, "no host candidate"),
        }
    }
    let (commands_tx, commands) = mpsc::channel(64);
    let (progress_tx, progress) = mpsc::channel(16);
    let (inbound_tx, inbound) = mpsc::channel(INBOUND_QUEUE);
    let driver = Driver {
        rtc,
        sockets,
        commands_tx: commands_tx.clone(),
        commands,
        progress: progress_tx,
        inbound: inbound_tx,
        pending_offer: None,
        init: None,
        channels: HashMap::new(),
        opening: HashMap::new(),
        unread: 0,
        connected: false,
        disconnected_since: None,
        outgoing: VecDeque::new(),
        yield_first: false,
        rt,
    };
    let handles = Handles {
        commands: commands_tx,
        progress,
        inbound,
    };
    Ok((driver, handles))
}

/// The DTLS and SRTP crypto str0m is built with, made once.
fn crypto() -> std::sync::Arc<str0m::config::CryptoProvider> {
    static CRYPTO: std::sync::OnceLock<std::sync::Arc<str0m::config::CryptoProvider>> =
        std::sync::OnceLock::new();
    CRYPTO
        .get_or_init(|| std::sync::Arc::new(str0m::crypto::from_feature_flags()))
        .clone()
}

fn webrtc_error(e: impl std::error::Error + Send + Sync + 'static) -> SignallingError {
    SignallingError::webrtc(e)
}

/// A W3C `RTCIceCandidateInit`'s candidate line.
#[derive(serde::Deserialize)]
struct CandidateInit {
    candidate: String,
}

/// Gives the executor back once.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Driver {
    /// Runs until the connection closes, fails, or nobody holds a handle any more.
    pub(super) async fn run(mut self) {
        let mut buf = vec![0u8; DATAGRAM];
        while let Some(timeout) = self.drain() {
            if std::mem::take(&mut self.yield_first) {
                YieldNow(false).await;
            }
            if self.inbound.is_closed() {
                // Nobody holds the connection any more.
                break;
            }
            if let Some(since) = self.disconnected_since
                && since.elapsed() > DISCONNECTED_GRACE
            {
                tracing::debug!("WebRTC connection lost");
                break;
            }
            let wait = timeout.saturating_duration_since(Instant::now());
            let (sockets, outgoing) = (&self.sockets, &mut self.outgoing);
            // Sends what waits for a socket buffer, until it is all gone.
            let flushed = futures::future::poll_fn(|cx| {
                while let Some((index, to, datagram)) = outgoing.front() {
                    match sockets[*index].0.poll_send_to(cx, datagram, *to) {
                        std::task::Poll::Pending => return std::task::Poll::Pending,
                        std::task::Poll::Ready(result) => {
                            if let Err(e) = result {
                                tracing::debug!(error = %e, %to, "WebRTC send");
                            }
                            outgoing.pop_front();
                        }
                    }
                }
                match outgoing.is_empty() {
                    // Nothing waited: this branch has nothing to do.
                    true => std::task::Poll::Pending,
                    false => std::task::Poll::Ready(()),
                }
            });
            let received = futures::future::poll_fn(|cx| {
                for (index, (socket, _)) in sockets.iter().enumerate() {
                    if let std::task::Poll::Ready(result) = socket.poll_recv_from(cx, &mut buf) {
                        return std::task::Poll::Ready((index, result));
                    }
                }
                std::task::Poll::Pending
            });
            let mut sleep = self.rt.sleep(wait.min(DISCONNECTED_GRACE)).fuse();
            futures::select! {
                () = flushed.fuse() => {}
                (index, result) = received.fuse() => match result {
                    Ok((n, source)) => {
                        let destination = self.sockets[index].1;
                        self.receive(source, destination, n, &buf);
                    }
                    Err(e) => tracing::debug!(error = %e, "WebRTC socket"),
                },
                () = sleep => {
                    if let Err(e) = self.rtc.handle_input(Input::Timeout(Instant::now())) {
                        tracing::debug!(error = %e, "WebRTC timeout");
                        break;
                    }
                }
                command = self.commands.next() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
            }
        }
        self.shut_down();
    }

    fn receive(&mut self, source: SocketAddr, destination: SocketAddr, n: usize, buf: &[u8]) {
        let Ok(contents) = buf[..n].try_into() else {
            return;
        };
        let input = Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        if !self.rtc.accepts(&input) {
            return;
        }
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(error = %e, "WebRTC input");
        }
    }

    /// Takes everything the `Rtc` has to say: sends its datagrams, handles its events, and
    /// retries writes its buffer refused before; when it wants to be woken next, or `None`
    /// once it is done.
    fn drain(&mut self) -> Option<Instant> {
        let mut sent = 0;
        loop {
            self.retry_unsent();
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => return self.rtc.is_alive().then_some(at),
                Ok(Output::Transmit(transmit)) => {
                    self.transmit(transmit);
                    sent += 1;
                    if sent == BURST {
                        // Back soon: first the other tasks, the peer's reader among them
                        // when it shares the executor.
                        self.yield_first = true;
                        return Some(Instant::now());
                    }
                }
                Ok(Output::Event(event)) => {
                    if !self.event(event) {
                        return None;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "WebRTC");
                    return None;
                }
            }
        }
    }

    /// Sends a datagram from the socket it names, or queues it behind the others while the
    /// socket's buffer is full (a burst of SCTP packets fills it; dropping them stalled the
    /// transfer for SCTP's one-second retransmission timeout).
    fn transmit(&mut self, transmit: Transmit) {
        let Some(index) = self
            .sockets
            .iter()
            .position(|&(_, addr)| addr == transmit.source)
        else {
            return;
        };
        if self.outgoing.is_empty() {
            let waker = futures::task::noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            match self.sockets[index].0.poll_send_to(
                &mut cx,
                &transmit.contents,
                transmit.destination,
            ) {
                std::task::Poll::Ready(Ok(_)) => return,
                std::task::Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, to = %transmit.destination, "WebRTC send");
                    return;
                }
                std::task::Poll::Pending => {}
            }
        }
        if self.outgoing.len() < MAX_OUTGOING {
            self.outgoing
                .push_back((index, transmit.destination, transmit.contents.to_vec()));
        }
    }

    /// Handles one event; `false` when the connection is over.
    fn event(&mut self, event: Event) -> bool {
        match event {
            Event::Connected => {
                self.connected = true;
                let _ = self.progress.try_send(Ok(Progress::Connected));
            }
            Event::IceConnectionStateChange(state) => match state {
                IceConnectionState::Disconnected => {
                    self.disconnected_since.get_or_insert_with(Instant::now);
                }
                _ => self.disconnected_since = None,
            },
            Event::ChannelOpen(id, label) => self.opened(id, label),
            Event::ChannelData(data) => self.data(data.id, data.data),
            Event::ChannelClose(id) => {
                if let Some(channel) = self.channels.remove(&id) {
                    let mut shared = lock(&channel.shared);
                    self.unread -= shared.inbox_bytes.min(self.unread);
                    shared.end();
                }
                if let Some(reply) = self.opening.remove(&id) {
                    let _ = reply.send(Err(std::io::ErrorKind::ConnectionReset.into()));
                }
            }
            Event::ChannelBufferedAmountLow(id) => {
                if let Some(channel) = self.channels.get(&id) {
                    let mut shared = lock(&channel.shared);
                    if shared.unsent.is_empty() {
                        shared.unblock();
                    }
                }
            }
            Event::Closed => return false,
            _ => {}
        }
        true
    }

    fn opened(&mut self, id: ChannelId, label: String) {
        if label == INIT_LABEL || Some(id) == self.init {
            // Only there to negotiate SCTP; the dialer closes it, which also tells a js
            // listener its job is done.
            if Some(id) == self.init {
                self.rtc.direct_api().close_data_channel(id);
            }
            return;
        }
        if let Some(mut channel) = self.rtc.channel(id) {
            channel.set_buffered_amount_low_threshold(LOW_WATER);
        }
        let shared = SharedRef::default();
        self.channels.insert(
            id,
            Channel {
                shared: shared.clone(),
            },
        );
        let io = ChannelIo::new(id, shared, self.commands_tx.clone());
        match self.opening.remove(&id) {
            Some(reply) => {
                let _ = reply.send(Ok(io));
            }
            None => {
                if self.inbound.try_send(io).is_err() {
                    tracing::debug!("closing a data channel: too many wait for the muxer");
                    self.close(id);
                }
            }
        }
    }

    fn data(&mut self, id: ChannelId, data: Vec<u8>) {
        if self.unread + data.len() > MAX_UNREAD_TOTAL {
            // The count only grows as messages come; readers took some since.
            self.reconcile_unread();
        }
        let Some(channel) = self.channels.get(&id) else {
            return;
        };
        let mut shared = lock(&channel.shared);
        let len = data.len();
        if shared.inbox_bytes + len > MAX_UNREAD || self.unread + len > MAX_UNREAD_TOTAL {
            tracing::debug!("cutting a data channel whose reader falls behind");
            self.unread -= shared.inbox_bytes.min(self.unread);
            shared.end();
            drop(shared);
            self.channels.remove(&id);
            self.rtc.direct_api().close_data_channel(id);
            return;
        }
        self.unread += len;
        shared.deliver(data);
    }

    /// Counts bytes read off channels as no longer unread.
    fn reconcile_unread(&mut self) {
        self.unread = self
            .channels
            .values()
            .map(|c| lock(&c.shared).inbox_bytes)
            .sum();
    }

    fn close(&mut self, id: ChannelId) {
        if let Some(channel) = self.channels.remove(&id) {
            lock(&channel.shared).end();
        }
        self.rtc.direct_api().close_data_channel(id);
    }

    /// Writes what a channel's writers left while the stack's buffer was full, in order.
    fn retry_unsent(&mut self) {
        let ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, c)| !lock(&c.shared).unsent.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(channel) = self.channels.get(&id) else {
                continue;
            };
            let shared_ref = channel.shared.clone();
            let mut shared = lock(&shared_ref);
            while let Some(message) = shared.unsent.front() {
                let Some(mut rtc_channel) = self.rtc.channel(id) else {
                    break;
                };
                match rtc_channel.write(true, message) {
                    Ok(true) => {
                        shared.unsent.pop_front();
                    }
                    Ok(false) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "WebRTC write");
                        shared.end();
                        break;
                    }
                }
            }
            let buffered = self.rtc.channel(id).map_or(0, |mut c| c.buffered_amount());
            if shared.unsent.is_empty() && buffered < HIGH_WATER {
                shared.unblock();
            }
        }
    }

    fn write(&mut self, id: ChannelId, message: Bytes) {
        let Some(channel) = self.channels.get(&id) else {
            return;
        };
        let shared_ref = channel.shared.clone();
        let mut shared = lock(&shared_ref);
        if !shared.unsent.is_empty() {
            shared.unsent.push_back(message);
            shared.blocked = true;
            return;
        }
        let Some(mut rtc_channel) = self.rtc.channel(id) else {
            shared.end();
            return;
        };
        match rtc_channel.write(true, &message) {
            Ok(true) => {
                if rtc_channel.buffered_amount() >= HIGH_WATER {
                    shared.blocked = true;
                }
            }
            Ok(false) => {
                shared.unsent.push_back(message);
                shared.blocked = true;
            }
            Err(e) => {
                tracing::debug!(error = %e, "WebRTC write");
                shared.end();
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Offer(reply) => {
                let mut api = self.rtc.sdp_api();
                let init = api.add_channel(INIT_LABEL.to_owned());
                let result = match api.apply() {
                    Some((offer, pending)) => {
                        self.init = Some(init);
                        self.pending_offer = Some(pending);
                        Ok(offer.to_sdp_string())
                    }
                    None => Err(SignallingError::WebRtc("no offer to make".into())),
                };
                let _ = reply.send(result);
            }
            Command::Answer(offer, reply) => {
                let result = SdpOffer::from_sdp_string(&offer)
                    .map_err(webrtc_error)
                    .and_then(|offer| self.rtc.sdp_api().accept_offer(offer).map_err(webrtc_error))
                    .map(|answer| answer.to_sdp_string());
                let _ = reply.send(result);
            }
            Command::Accept(answer, reply) => {
                let result = match self.pending_offer.take() {
                    None => Err(SignallingError::Unexpected {
                        expected: "our offer first",
                        got: "an SDP answer",
                    }),
                    Some(pending) => SdpAnswer::from_sdp_string(&answer)
                        .map_err(webrtc_error)
                        .and_then(|answer| {
                            self.rtc
                                .sdp_api()
                                .accept_answer(pending, answer)
                                .map_err(webrtc_error)
                        }),
                };
                let _ = reply.send(result);
            }
            Command::AddCandidate(json, reply) => {
                let result = serde_json::from_str::<CandidateInit>(&json)
                    .map_err(webrtc_error)
                    .and_then(|init| {
                        let line = init.candidate.trim_start_matches("a=");
                        Candidate::from_sdp_string(line).map_err(webrtc_error)
                    })
                    .map(|candidate| self.rtc.add_remote_candidate(candidate));
                let _ = reply.send(result);
            }
            Command::Open(reply) => {
                if !self.connected {
                    let _ = reply.send(Err(std::io::ErrorKind::NotConnected.into()));
                    return;
                }
                let id = self.rtc.direct_api().create_data_channel(ChannelConfig {
                    label: String::new(),
                    ..Default::default()
                });
                self.opening.insert(id, reply);
            }
            Command::Write(id, message) => self.write(id, message),
            Command::Close(id) => self.close(id),
        }
    }

    /// Ends every channel and tells the signalling and the muxer.
    fn shut_down(&mut self) {
        self.rtc.disconnect();
        for channel in self.channels.values() {
            lock(&channel.shared).end();
        }
        self.channels.clear();
        if !self.connected {
            let _ = self.progress.try_send(Err(SignallingError::WebRtc(
                "the WebRTC connection failed".into(),
            )));
        }
        self.progress.close_channel();
        self.inbound.close_channel();
    }
}
