//! WebRTC-direct from a web page, through the browser's `RTCPeerConnection` (dial only).

use libp2p::Multiaddr;
use libp2p::Transport as _;
use libp2p::core::muxing::StreamMuxerBox;

use super::check_dial;
use switchboard_runtime::Reactor;

use crate::{BuildError, Built, Context, Environment, Kind, Transport, Unsupported};

/// WebRTC-direct from a web page: dials `/ip…/udp/<port>/webrtc-direct/certhash/…` (a page
/// cannot listen). The browser checks the server's certificate against the hash; noise inside
/// authenticates the peer.
#[derive(Debug, Clone, Default)]
pub struct WebRtcDirect {
    _private: (),
}

impl WebRtcDirect {
    /// A WebRTC-direct transport for a web page.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Transport for WebRtcDirect {
    fn kind(&self) -> Kind {
        Kind::WebRtcDirect
    }

    fn environments(&self) -> &'static [Environment] {
        &[Environment::Browser]
    }

    fn can_listen(&self, _: &Multiaddr) -> bool {
        false
    }

    fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
        check_dial(addr)
    }

    fn build(&self, ctx: &Context) -> Result<Built, BuildError> {
        self.boxed(ctx).map(Built::new)
    }
}

impl WebRtcDirect {
    /// The libp2p transport, for the runtime's reactor.
    fn boxed(&self, ctx: &Context) -> Result<crate::Boxed, BuildError> {
        match ctx.runtime().reactor() {
            Reactor::Browser => {
                let config = libp2p::webrtc_websys::Config::new(ctx.keypair());
                Ok(libp2p::webrtc_websys::Transport::new(config)
                    .map(|(peer, conn), _| (peer, StreamMuxerBox::new(conn)))
                    .boxed())
            }
            _ => Err(BuildError::UnsupportedRuntime {
                kind: Kind::WebRtcDirect,
                runtime: ctx.runtime().name(),
            }),
        }
    }
}
