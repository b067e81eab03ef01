//! Switchboard's addition: a browser `RTCPeerConnection` set up by signalling (`/webrtc`,
//! libp2p/specs `webrtc/webrtc.md`) rather than from a WebRTC-direct address: offers and
//! answers, trickled ICE candidates as W3C JSON, and then the same [`Connection`] as
//! WebRTC-direct's, without noise (the peer is who the relayed connection that carried the
//! SDPs authenticated).

use futures::StreamExt;
use futures::channel::mpsc;
use js_sys::{JSON, Reflect};
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    RtcConfiguration, RtcDataChannel, RtcDataChannelType, RtcIceCandidateInit,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit,
};

use crate::{Connection, Error, connection::RtcPeerConnection};

/// The label of the data channel a dialer opens so that its offer has something to negotiate;
/// closed once the connection is up, and never a stream.
pub(crate) const INIT_LABEL: &str = "init";

/// Local candidates and state changes the page reports before they are read.
const EVENTS: usize = 64;

/// What a signalled peer connection reports while it connects.
#[derive(Debug)]
pub enum SignalledEvent {
    /// A local ICE candidate, as `RTCIceCandidate.toJSON()` (W3C `RTCIceCandidateInit`).
    Candidate(String),
    /// The peer connection is up (ICE and DTLS done).
    Connected,
}

/// A peer connection being set up by signalling.
pub struct SignalledConnection {
    inner: SendWrapper<web_sys::RtcPeerConnection>,
    init: Option<SendWrapper<RtcDataChannel>>,
    events: SendWrapper<mpsc::Receiver<Result<SignalledEvent, Error>>>,
    _onicecandidate: SendWrapper<Closure<dyn FnMut(RtcPeerConnectionIceEvent)>>,
    _onconnectionstatechange: SendWrapper<Closure<dyn FnMut(web_sys::Event)>>,
}

impl SignalledConnection {
    /// A peer connection with no ICE servers: host candidates only, the case on one network or
    /// through a hole a NAT leaves for outgoing traffic.
    pub fn new() -> Result<Self, Error> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(&js_sys::Array::new());
        let inner = web_sys::RtcPeerConnection::new_with_configuration(&config)?;
        let (tx, events) = mpsc::channel(EVENTS);
        let candidates = tx.clone();
        let onicecandidate = Closure::new(move |event: RtcPeerConnectionIceEvent| {
            // A missing or empty candidate ends gathering; nothing to send.
            let Some(candidate) = event.candidate() else {
                return;
            };
            if candidate.candidate().is_empty() {
                return;
            }
            let json = JSON::stringify(&candidate.to_json())
                .ok()
                .and_then(|s| s.as_string());
            if let Some(json) = json {
                let _ = candidates
                    .clone()
                    .try_send(Ok(SignalledEvent::Candidate(json)));
            }
        });
        inner.set_onicecandidate(Some(onicecandidate.as_ref().unchecked_ref()));
        let state_of = inner.clone();
        let states = tx;
        let onconnectionstatechange = Closure::new(move |_: web_sys::Event| {
            let event = match state_of.connection_state() {
                RtcPeerConnectionState::Connected => Ok(SignalledEvent::Connected),
                RtcPeerConnectionState::Failed => Err(Error::Connection(
                    "the peer connection failed (ICE or DTLS)".into(),
                )),
                RtcPeerConnectionState::Closed => {
                    Err(Error::Connection("the peer connection closed".into()))
                }
                _ => return,
            };
            let _ = states.clone().try_send(event);
        });
        inner.set_onconnectionstatechange(Some(onconnectionstatechange.as_ref().unchecked_ref()));
        Ok(Self {
            inner: SendWrapper::new(inner),
            init: None,
            events: SendWrapper::new(events),
            _onicecandidate: SendWrapper::new(onicecandidate),
            _onconnectionstatechange: SendWrapper::new(onconnectionstatechange),
        })
    }

    async fn set_description(
        &self,
        r#type: RtcSdpType,
        sdp: &str,
        local: bool,
    ) -> Result<(), Error> {
        let description = RtcSessionDescriptionInit::new(r#type);
        description.set_sdp(sdp);
        let promise = match local {
            true => self.inner.set_local_description(&description),
            false => self.inner.set_remote_description(&description),
        };
        JsFuture::from(promise).await?;
        Ok(())
    }

    fn sdp_of(description: &JsValue) -> Result<String, Error> {
        Reflect::get(description, &JsValue::from_str("sdp"))?
            .as_string()
            .ok_or_else(|| Error::Js("a description without SDP".into()))
    }

    /// Opens the `init` data channel, makes an offer and sets it as the local description;
    /// the offer's SDP.
    pub async fn offer(&mut self) -> Result<String, Error> {
        let init = self.inner.create_data_channel(INIT_LABEL);
        init.set_binary_type(RtcDataChannelType::Arraybuffer);
        self.init = Some(SendWrapper::new(init));
        let offer = JsFuture::from(self.inner.create_offer()).await?;
        let sdp = Self::sdp_of(&offer)?;
        self.set_description(RtcSdpType::Offer, &sdp, true).await?;
        Ok(sdp)
    }

    /// Takes the peer's offer and answers it; the answer's SDP.
    pub async fn answer(&mut self, offer: &str) -> Result<String, Error> {
        self.set_description(RtcSdpType::Offer, offer, false)
            .await?;
        let answer = JsFuture::from(self.inner.create_answer()).await?;
        let sdp = Self::sdp_of(&answer)?;
        self.set_description(RtcSdpType::Answer, &sdp, true).await?;
        Ok(sdp)
    }

    /// Takes the peer's answer to our offer.
    pub async fn accept(&mut self, answer: &str) -> Result<(), Error> {
        self.set_description(RtcSdpType::Answer, answer, false)
            .await
    }

    /// Takes one of the peer's candidates, as W3C `RTCIceCandidateInit` JSON.
    pub async fn add_candidate(&mut self, json: &str) -> Result<(), Error> {
        let parsed = JSON::parse(json)?;
        let candidate = Reflect::get(&parsed, &JsValue::from_str("candidate"))?
            .as_string()
            .ok_or_else(|| Error::Js("an ICE candidate without `candidate`".into()))?;
        let init = RtcIceCandidateInit::new(&candidate);
        if let Some(mid) = Reflect::get(&parsed, &JsValue::from_str("sdpMid"))?.as_string() {
            init.set_sdp_mid(Some(&mid));
        }
        if let Some(index) = Reflect::get(&parsed, &JsValue::from_str("sdpMLineIndex"))?.as_f64() {
            init.set_sdp_m_line_index(Some(index as u16));
        }
        JsFuture::from(
            self.inner
                .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)),
        )
        .await?;
        Ok(())
    }

    /// The next local candidate or the connection being up; an error once it failed. Safe to
    /// drop unfinished: nothing is lost.
    pub async fn next_event(&mut self) -> Result<SignalledEvent, Error> {
        if self.inner.connection_state() == RtcPeerConnectionState::Connected {
            return Ok(SignalledEvent::Connected);
        }
        match self.events.next().await {
            Some(event) => event,
            None => Err(Error::Connection("the peer connection is gone".into())),
        }
    }

    /// The connection, its streams the peer's data channels and ours. The dialer's `init`
    /// channel is closed (the listener ignores it).
    pub fn into_connection(self) -> Connection {
        if let Some(init) = &self.init {
            init.close();
        }
        self.inner.set_onicecandidate(None);
        self.inner.set_onconnectionstatechange(None);
        Connection::new(RtcPeerConnection::from_inner(self.inner.take()))
    }
}
