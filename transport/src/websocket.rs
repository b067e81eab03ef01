//! WebSocket, insecure (`/ws`) and secure (`/wss`, `/tls/ws`): over TCP in a native process
//! ([`WebSocket`] from `tcp.rs`), through the browser's `WebSocket` in a web page (`websys.rs`).
//! Both dial the same address shapes through the same [`Filter`].

#[cfg(not(wasm_browser))]
mod certificate;
#[cfg(not(wasm_browser))]
mod tcp;
#[cfg(wasm_browser)]
mod websys;

#[cfg(not(wasm_browser))]
pub use certificate::Certificate;
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use switchboard_filters::Filter;
#[cfg(not(wasm_browser))]
pub use tcp::WebSocket;
#[cfg(wasm_browser)]
pub use websys::WebSocket;

use crate::{Unsupported, is_dial_host, protocols};

/// The websocket shapes after `/tcp/<port>`: `Some(false)` for `/ws`, `Some(true)` for `/wss`
/// and `/tls[/sni/…]/ws`.
fn is_secure(rest: &[Protocol<'_>]) -> Option<bool> {
    match rest {
        [Protocol::Ws(_)] => Some(false),
        [Protocol::Wss(_)] | [Protocol::Tls, Protocol::Ws(_)] => Some(true),
        [Protocol::Tls, Protocol::Sni(_), Protocol::Ws(_)] => Some(true),
        _ => None,
    }
}

/// Whether a websocket transport with `filter` dials `addr`: [`Unsupported::Address`] for
/// another shape, [`Unsupported::Filtered`] when the filter refuses.
fn check_dial(addr: &Multiaddr, filter: Filter) -> Result<(), Unsupported> {
    match protocols(addr).as_slice() {
        [host, Protocol::Tcp(_), rest @ ..] if is_dial_host(host) && is_secure(rest).is_some() => {
            if filter.matches(addr) {
                Ok(())
            } else {
                Err(Unsupported::Filtered {
                    addr: addr.clone(),
                    filter,
                })
            }
        }
        _ => Err(Unsupported::Address(addr.clone())),
    }
}
