//! Several built transports as one libp2p transport, routing by what each declares.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use switchboard_filters::{Policy, Scope};

use crate::{Boxed, BuildError, Companions, Context, Transport, Unsupported};

type Output = (PeerId, StreamMuxerBox);

/// The first of `transports` that dials `addr`, or why none will. A filter refusal is reported
/// over a plain "unsupported" so the caller learns which filter to change, and an address of a
/// retired kind (the seed's `/p2p-webrtc-star`) says what replaced it.
pub fn dialer<'a>(
    transports: &'a [Arc<dyn Transport>],
    addr: &Multiaddr,
) -> Result<&'a Arc<dyn Transport>, Unsupported> {
    retired(addr)?;
    let mut refusal = Unsupported::Address(addr.clone());
    for transport in transports {
        match transport.can_dial(addr) {
            Ok(()) => return Ok(transport),
            Err(filtered @ Unsupported::Filtered { .. }) => refusal = filtered,
            Err(_) => {}
        }
    }
    Err(refusal)
}

/// What replaced `/p2p-webrtc-star`, for the seed's configurations that still name it.
const WEBRTC_STAR_REPLACED: &str = "the /p2p-webrtc-star signalling servers were retired from js-libp2p; a browser now listens through a circuit relay: reserve with `/…/p2p/RELAY/p2p-circuit` and dial it at `/…/p2p/RELAY/p2p-circuit/webrtc/p2p/PEER`";

/// What replaced `/p2p-webrtc-direct`, js-libp2p's first WebRTC transport.
const P2P_WEBRTC_DIRECT_REPLACED: &str = "/p2p-webrtc-direct (js-libp2p's first WebRTC transport) was retired; a browser dials a server at `/ip4/…/udp/…/webrtc-direct/certhash/…/p2p/PEER` now";

/// Refuses addresses of kinds the network no longer runs, saying what replaced them.
pub fn retired(addr: &Multiaddr) -> Result<(), Unsupported> {
    let replaced = addr.iter().find_map(|p| match p {
        Protocol::P2pWebRtcStar | Protocol::P2pWebSocketStar => Some(WEBRTC_STAR_REPLACED),
        Protocol::P2pWebRtcDirect => Some(P2P_WEBRTC_DIRECT_REPLACED),
        _ => None,
    });
    match replaced {
        Some(replaced) => Err(Unsupported::Retired {
            addr: addr.clone(),
            replaced,
        }),
        None => Ok(()),
    }
}

/// The transports of a node, built and combined.
///
/// Each listen and dial goes to the first transport (in the order given) whose
/// [`Transport::can_listen`] / [`Transport::can_dial`] accepts the address, so two transports
/// never race for one address and a refusal can say which transport's filter refused.
pub struct Stack {
    transports: Vec<Arc<dyn Transport>>,
    built: Vec<Boxed>,
    listeners: HashMap<ListenerId, usize>,
    next_poll: usize,
    policy: Option<Arc<Policy>>,
    /// Relay reservations some transport listens on now, by listener.
    relayed: Vec<(ListenerId, Multiaddr)>,
    /// Addresses transports listen on through those reservations (`/webrtc`'s), to report.
    derived: VecDeque<
        TransportEvent<BoxFuture<'static, Result<Output, std::io::Error>>, std::io::Error>,
    >,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<_> = self.transports.iter().map(|t| t.kind()).collect();
        f.debug_struct("Stack")
            .field("transports", &kinds)
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// Builds every transport for `ctx`; the stack, and the behaviours the transports brought
    /// for the node's swarm.
    pub fn build(
        transports: &[Arc<dyn Transport>],
        ctx: &Context,
    ) -> Result<(Self, Companions), BuildError> {
        let mut companions = Companions::default();
        let mut built = Vec::with_capacity(transports.len());
        for transport in transports {
            let parts = transport.build(ctx)?;
            if let Some(companion) = parts.companion {
                companions.add(companion)?;
            }
            built.push(parts.transport);
        }
        let stack = Self {
            transports: transports.to_vec(),
            built,
            listeners: HashMap::new(),
            next_poll: 0,
            policy: None,
            relayed: Vec::new(),
            derived: VecDeque::new(),
        };
        Ok((stack, companions))
    }

    /// Refuses every dial to an address `policy` denies in [`Scope::Dial`], whoever asked for
    /// it: addresses a behaviour adds to a dial (identify's, a peer's) are checked too, before
    /// anything is sent to them.
    pub fn with_dial_policy(mut self, policy: Arc<Policy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Whether some transport listens on `addr`.
    pub fn can_listen(&self, addr: &Multiaddr) -> bool {
        self.transports.iter().any(|t| t.can_listen(addr))
    }

    /// The transport that would dial `addr`, or why none will; see [`dialer`].
    pub fn can_dial(&self, addr: &Multiaddr) -> Result<&Arc<dyn Transport>, Unsupported> {
        dialer(&self.transports, addr)
    }

    /// Into a boxed libp2p transport, for a `Swarm`.
    pub fn boxed(self) -> Boxed {
        libp2p::Transport::boxed(self)
    }
}

impl Stack {
    /// Reports the addresses transports listen on through the reservation `relayed`, which
    /// came (`new`) or went.
    fn derive(&mut self, relayed: &Multiaddr, new: bool) {
        for (&listener_id, &index) in &self.listeners {
            if let Some(listen_addr) = self.transports[index].listens_through(relayed) {
                self.derived.push_back(match new {
                    true => TransportEvent::NewAddress {
                        listener_id,
                        listen_addr,
                    },
                    false => TransportEvent::AddressExpired {
                        listener_id,
                        listen_addr,
                    },
                });
            }
        }
    }
}

impl libp2p::Transport for Stack {
    type Output = Output;
    type Error = std::io::Error;
    type ListenerUpgrade = BoxFuture<'static, Result<Output, std::io::Error>>;
    type Dial = BoxFuture<'static, Result<Output, std::io::Error>>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        let Some(index) = self.transports.iter().position(|t| t.can_listen(&addr)) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        self.built[index].listen_on(id, addr)?;
        self.listeners.insert(id, index);
        // Listening through the reservations there are already.
        for (_, relayed) in &self.relayed {
            if let Some(listen_addr) = self.transports[index].listens_through(relayed) {
                self.derived.push_back(TransportEvent::NewAddress {
                    listener_id: id,
                    listen_addr,
                });
            }
        }
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        match self.listeners.remove(&id) {
            Some(index) => self.built[index].remove_listener(id),
            None => false,
        }
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        if let Some(policy) = &self.policy
            && let Err(denied) = policy.check(Scope::Dial, &addr, None)
        {
            return Err(TransportError::Other(std::io::Error::other(denied)));
        }
        let Ok(transport) = dialer(&self.transports, &addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        let index = self
            .transports
            .iter()
            .position(|t| Arc::ptr_eq(t, transport))
            .expect("dialer returns one of the stack's transports");
        self.built[index].dial(addr, opts)
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        if let Some(event) = self.derived.pop_front() {
            return Poll::Ready(event);
        }
        // Start at a different transport each time so a busy one cannot starve the others.
        let len = self.built.len();
        for i in 0..len {
            let index = (self.next_poll + i) % len;
            if let Poll::Ready(event) = Pin::new(&mut self.built[index]).poll(cx) {
                self.next_poll = (index + 1) % len;
                match &event {
                    TransportEvent::ListenerClosed { listener_id, .. } => {
                        self.listeners.remove(listener_id);
                        let gone: Vec<Multiaddr> = self
                            .relayed
                            .iter()
                            .filter(|(id, _)| id == listener_id)
                            .map(|(_, addr)| addr.clone())
                            .collect();
                        self.relayed.retain(|(id, _)| id != listener_id);
                        for addr in gone {
                            self.derive(&addr, false);
                        }
                    }
                    TransportEvent::NewAddress {
                        listener_id,
                        listen_addr,
                    } if crate::is_relayed(listen_addr) => {
                        self.relayed.push((*listener_id, listen_addr.clone()));
                        let addr = listen_addr.clone();
                        self.derive(&addr, true);
                    }
                    TransportEvent::AddressExpired {
                        listener_id,
                        listen_addr,
                    } if crate::is_relayed(listen_addr) => {
                        self.relayed
                            .retain(|(id, a)| !(id == listener_id && a == listen_addr));
                        let addr = listen_addr.clone();
                        self.derive(&addr, false);
                    }
                    _ => {}
                }
                return Poll::Ready(event);
            }
        }
        Poll::Pending
    }
}
