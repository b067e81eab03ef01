//! Multiaddr filters for Switchboard.
//!
//! Two layers live here, both pure logic over [`Multiaddr`]s with no I/O:
//!
//! - [`Filter`]: the websocket dial filters of js-libp2p's `@libp2p/websockets` (`all`, `wss`,
//!   `dns_wss`, `dns_ws_or_wss`), with the same semantics. A browser node dials only what its
//!   websocket filter lets through; [`Filter::all`] is what lets insecure `ws` to an IP through.
//! - [`Policy`]: composable allow/deny [`Rule`]s over any multiaddr (CIDR ranges, protocol
//!   stacks, peer ids, combined with `and` / `or` / `not`), written the same way in the config
//!   file and on the command line. The node applies a policy to outgoing dials, incoming
//!   connections and the addresses it advertises; a denial names the rule that decided it.
//!
//! Rules are evaluated in three-valued logic: a `peer` test on an address whose peer is not yet
//! known is *unknown*, so an inbound connection can be checked once when it arrives (address
//! only) and again when the handshake has authenticated the peer.
//!
//! # Example
//!
//! ```
//! use switchboard_filters::{Filter, Policy, Scope};
//!
//! // js-libp2p's `all` filter keeps every websocket address, insecure ones included.
//! let ws: libp2p::Multiaddr = "/ip4/127.0.0.1/tcp/4002/ws".parse()?;
//! let tcp: libp2p::Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse()?;
//! assert_eq!(Filter::all().filter([&ws, &tcp]), vec![ws.clone()]);
//! assert!(!Filter::wss().matches(&ws));
//!
//! // A policy: websockets only on loopback, everything else allowed.
//! let policy: Policy = Policy::new().with_rule("ws-local: deny websocket and not loopback".parse()?);
//! assert!(policy.check(Scope::Dial, &ws, None).is_ok());
//! let remote_ws: libp2p::Multiaddr = "/ip4/198.18.0.7/tcp/4002/ws".parse()?;
//! let denied = policy.check(Scope::Dial, &remote_ws, None).unwrap_err();
//! assert_eq!(denied.rule(), "ws-local");
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs, rustdoc::broken_intra_doc_links, unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod expr;
mod parse;
mod policy;
mod websocket;

pub use expr::{Atom, Expr, Target, Truth};
pub use libp2p::{Multiaddr, PeerId};
pub use parse::ParseError;
pub use policy::{Action, Decision, Denied, Policy, Rule, Scope};
pub use websocket::{Filter, UnknownFilter};
