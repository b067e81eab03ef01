//! WebRTC-direct (`/udp/<port>/webrtc-direct/certhash/<hash>`): a browser dials a server
//! without signalling, authenticating the server's DTLS certificate by the hash in the
//! address, then noise inside. Natively (`webrtc_rs.rs`, libp2p-webrtc on webrtc-rs) a node
//! listens and dials; in a web page (`websys.rs`, the browser's `RTCPeerConnection`) it dials.

#[cfg(not(wasm_browser))]
mod webrtc_rs;
#[cfg(wasm_browser)]
mod websys;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
#[cfg(not(wasm_browser))]
pub use webrtc_rs::WebRtcDirect;
#[cfg(all(not(wasm_browser), feature = "tokio"))]
pub use webrtc_rs::{WebRtcCertificate, WebRtcCertificateError};
#[cfg(wasm_browser)]
pub use websys::WebRtcDirect;

use crate::{Unsupported, is_ip, protocols};

/// `/ip…/udp/<port>/webrtc-direct`, what a listener binds.
#[cfg(not(wasm_browser))]
fn is_listen_addr(addr: &Multiaddr) -> bool {
    matches!(
        protocols(addr).as_slice(),
        [host, Protocol::Udp(_), Protocol::WebRTCDirect] if is_ip(host)
    )
}

/// `/ip…/udp/<port>/webrtc-direct/certhash/<hash>…`, what a dialer needs: the certificate's
/// hash is how the server is authenticated before noise.
fn check_dial(addr: &Multiaddr) -> Result<(), Unsupported> {
    match protocols(addr).as_slice() {
        [
            host,
            Protocol::Udp(port),
            Protocol::WebRTCDirect,
            hashes @ ..,
        ] if is_ip(host)
            && *port != 0
            && !hashes.is_empty()
            && hashes.iter().all(|p| matches!(p, Protocol::Certhash(_))) =>
        {
            Ok(())
        }
        _ => Err(Unsupported::Address(addr.clone())),
    }
}
