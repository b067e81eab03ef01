//! Protocol state a transport brings with it.
//!
//! Some transports are half of a pair: circuit relay's client is a transport that dials and
//! listens through relays and a `NetworkBehaviour` that speaks the relay protocols on the
//! node's connections (`libp2p::relay::client::new` makes both at once). Such a transport
//! returns its half of the pair as a [`Companion`] in [`Built`], and the node adds it to its
//! behaviour, in [`Companions`].

use libp2p::relay;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;

use crate::{Boxed, BuildError, Kind};

/// What [`Transport::build`](crate::Transport::build) returns: the libp2p transport, and the
/// protocol state that goes with it, if any.
pub struct Built {
    pub(crate) transport: Boxed,
    pub(crate) companion: Option<Companion>,
}

impl Built {
    /// A transport that needs nothing in the node's behaviour.
    pub fn new(transport: Boxed) -> Self {
        Self {
            transport,
            companion: None,
        }
    }

    /// Adds the behaviour the transport works with.
    pub fn with_companion(mut self, companion: Companion) -> Self {
        self.companion = Some(companion);
        self
    }
}

impl From<Boxed> for Built {
    fn from(transport: Boxed) -> Self {
        Self::new(transport)
    }
}

/// A behaviour a transport needs in the node's `Swarm`.
#[non_exhaustive]
pub enum Companion {
    /// Circuit relay v2's client: reservations on relays and circuits through them.
    RelayClient(Box<relay::client::Behaviour>),
    /// `/webrtc`'s: it dials the relay circuits its signalling streams go over.
    WebRtc(crate::webrtc::Circuits),
}

impl Companion {
    fn kind(&self) -> Kind {
        match self {
            Companion::RelayClient(_) => Kind::Relay,
            Companion::WebRtc(_) => Kind::WebRtc,
        }
    }
}

/// Every behaviour the node's transports brought, as one `NetworkBehaviour` for the node's.
#[derive(NetworkBehaviour)]
#[behaviour(to_swarm = "CompanionEvent", prelude = "libp2p::swarm::derive_prelude")]
pub struct Companions {
    relay_client: Toggle<relay::client::Behaviour>,
    webrtc: Toggle<crate::webrtc::Circuits>,
}

impl Default for Companions {
    fn default() -> Self {
        Self {
            relay_client: None.into(),
            webrtc: None.into(),
        }
    }
}

impl std::fmt::Debug for Companions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Companions")
            .field("relay_client", &self.relay_client.is_enabled())
            .field("webrtc", &self.webrtc.is_enabled())
            .finish()
    }
}

impl Companions {
    /// Takes `companion` in; two of one kind are refused.
    pub(crate) fn add(&mut self, companion: Companion) -> Result<(), BuildError> {
        let kind = companion.kind();
        let taken = match companion {
            Companion::RelayClient(behaviour) => fill(&mut self.relay_client, *behaviour),
            Companion::WebRtc(behaviour) => fill(&mut self.webrtc, behaviour),
        };
        match taken {
            true => Ok(()),
            false => Err(BuildError::DuplicateCompanion { kind }),
        }
    }

    /// Whether a transport brought circuit relay's client.
    pub fn has_relay_client(&self) -> bool {
        self.relay_client.is_enabled()
    }
}

/// Puts `behaviour` in `slot` unless it holds one already; whether it did.
fn fill<B: NetworkBehaviour>(slot: &mut Toggle<B>, behaviour: B) -> bool {
    if slot.is_enabled() {
        return false;
    }
    *slot = Some(behaviour).into();
    true
}

/// What a [`Companion`] reports to the node.
#[derive(Debug)]
#[non_exhaustive]
pub enum CompanionEvent {
    /// From circuit relay's client: a reservation accepted or renewed, a circuit opened.
    RelayClient(relay::client::Event),
}

impl From<relay::client::Event> for CompanionEvent {
    fn from(event: relay::client::Event) -> Self {
        CompanionEvent::RelayClient(event)
    }
}

impl From<std::convert::Infallible> for CompanionEvent {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
