//! Circuit relay v2, the client side: listening through a relay's reservation and dialing
//! peers through relays.

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use libp2p::relay;

use crate::{BuildError, Built, Companion, Context, Environment, Kind, Transport, Unsupported};

/// Circuit relay v2's client (`/libp2p/circuit/relay/0.2.0/hop` and `…/stop`), a transport and
/// a behaviour built as a pair.
///
/// - Listening on `<relay address>/p2p/RELAY/p2p-circuit` reserves a slot on the relay; the
///   node is then reachable at `<relay address>/p2p/RELAY/p2p-circuit/p2p/SELF` for as long as
///   the reservation lasts (the client renews it while the connection to the relay stays).
/// - Dialing `<relay address>/p2p/RELAY/p2p-circuit/p2p/PEER` connects to the relay, asks it
///   for a circuit to `PEER` and upgrades the circuit like a TCP connection (noise or TLS, then
///   yamux).
///
/// The relay itself is reached over the node's other transports: the relay address in front
/// must be one of theirs. A relay limits a circuit's duration and bytes (libp2p's relay: two
/// minutes, 128 KiB each way, by default), so a relayed connection is for reaching a peer that
/// cannot be dialed and for coordinating a direct connection, not for bulk data.
#[derive(Debug, Clone, Default)]
pub struct Relay {
    _private: (),
}

impl Relay {
    /// Circuit relay's client.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The part of `addr` before `/p2p-circuit`, and what follows it; `None` without one.
fn split(addr: &Multiaddr) -> Option<(Vec<Protocol<'_>>, Vec<Protocol<'_>>)> {
    let protocols: Vec<_> = addr.iter().collect();
    let at = protocols
        .iter()
        .position(|p| matches!(p, Protocol::P2pCircuit))?;
    let after = protocols[at + 1..].to_vec();
    let mut before = protocols;
    before.truncate(at);
    Some((before, after))
}

/// Whether `before` names a relay: its peer id last, after an address of it or alone.
fn names_relay(before: &[Protocol<'_>]) -> bool {
    matches!(before.last(), Some(Protocol::P2p(_)))
}

impl Transport for Relay {
    fn kind(&self) -> Kind {
        Kind::Relay
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Native, Environment::Browser]
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        matches!(split(addr), Some((before, after)) if names_relay(&before) && after.is_empty())
    }

    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
        match split(addr) {
            Some((before, after))
                if names_relay(&before) && matches!(after.as_slice(), [Protocol::P2p(_)]) =>
            {
                Ok(())
            }
            _ => Err(Unsupported::Address(addr.clone())),
        }
    }

    fn build(&self, ctx: &Context) -> Result<Built, BuildError> {
        let (transport, behaviour) = relay::client::new(ctx.keypair().public().to_peer_id());
        let transport = crate::upgrade::stream_transport(transport, ctx, Kind::Relay)?;
        Ok(Built::new(transport).with_companion(Companion::RelayClient(Box::new(behaviour))))
    }
}

/// Whether a connection at `addr` goes through a relay: `/p2p-circuit` in it, but not a
/// `/webrtc` after it (a `/webrtc` address names a relay only to signal a direct connection).
/// libp2p's `ConnectedPoint::is_relayed` counts `/webrtc` connections as relayed.
pub fn is_relayed(addr: &Multiaddr) -> bool {
    let mut protocols = addr
        .iter()
        .skip_while(|p| !matches!(p, Protocol::P2pCircuit));
    protocols.next().is_some() && !protocols.any(|p| matches!(p, Protocol::WebRTC))
}
