//! Which transport claims which address: the shapes each declares, and the stack's routing.

use std::sync::Arc;

use libp2p::Multiaddr;

use crate::{Certificate, Filter, Memory, Quic, Tcp, Transport, Unsupported, WebSocket, dialer};

fn ma(s: &str) -> Multiaddr {
    s.parse().expect("test multiaddr")
}

const PEER: &str = "/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK";

#[test]
fn each_transport_claims_its_own_shapes() {
    let cert = Certificate::self_signed(["localhost".into()]).expect("certificate");
    let secure_ws = WebSocket::new().with_certificate(cert);
    // (address, [tcp, quic, ws without cert, ws with cert, memory]) for listening.
    let listen: &[(&str, [bool; 5])] = &[
        ("/ip4/127.0.0.1/tcp/0", [true, false, false, false, false]),
        ("/ip6/::1/tcp/4001", [true, false, false, false, false]),
        (
            "/dns4/example.com/tcp/4001",
            [false, false, false, false, false],
        ),
        (
            "/ip4/127.0.0.1/udp/0/quic-v1",
            [false, true, false, false, false],
        ),
        (
            "/ip4/127.0.0.1/udp/0/quic",
            [false, false, false, false, false],
        ),
        ("/ip4/127.0.0.1/tcp/0/ws", [false, false, true, true, false]),
        (
            "/ip4/127.0.0.1/tcp/0/wss",
            [false, false, false, true, false],
        ),
        (
            "/ip4/127.0.0.1/tcp/0/tls/ws",
            [false, false, false, true, false],
        ),
        ("/memory/0", [false, false, false, false, true]),
        (
            "/ip4/127.0.0.1/udp/0/webrtc-direct",
            [false, false, false, false, false],
        ),
    ];
    let transports: [&dyn Transport; 5] = [
        &Tcp::new(),
        &Quic::new(),
        &WebSocket::new(),
        &secure_ws,
        &Memory::new(),
    ];
    for (addr, expected) in listen {
        for (transport, expected) in transports.iter().zip(expected) {
            assert_eq!(
                transport.can_listen(&ma(addr)),
                *expected,
                "{transport:?} listen {addr}"
            );
        }
    }
    // Dialing: DNS hosts and a trailing /p2p are fine; port 0 memory is not an address.
    let dial: &[(&str, [bool; 5])] = &[
        (
            "/dns4/example.com/tcp/4001",
            [true, false, false, false, false],
        ),
        (
            "/ip4/1.2.3.4/tcp/4001/p2p/X",
            [true, false, false, false, false],
        ),
        (
            "/dns6/example.com/udp/4001/quic-v1",
            [false, true, false, false, false],
        ),
        (
            "/dns4/example.com/tcp/443/wss/p2p/X",
            [false, false, true, true, false],
        ),
        (
            "/ip4/1.2.3.4/tcp/443/tls/sni/example.com/ws",
            [false, false, true, true, false],
        ),
        ("/memory/7", [false, false, false, false, true]),
        ("/memory/0", [false, false, false, false, false]),
        (
            "/ip4/1.2.3.4/tcp/1/ws/p2p-circuit",
            [false, false, false, false, false],
        ),
    ];
    for (addr, expected) in dial {
        let addr = ma(&addr.replace("/p2p/X", PEER));
        for (transport, expected) in transports.iter().zip(expected) {
            assert_eq!(
                transport.can_dial(&addr).is_ok(),
                *expected,
                "{transport:?} dial {addr}"
            );
        }
    }
}

#[test]
fn dialer_reports_the_filter_that_refused() {
    let strict: Vec<Arc<dyn Transport>> = vec![
        Arc::new(Tcp::new()),
        Arc::new(WebSocket::new().with_filter(Filter::dns_wss())),
    ];
    let ws = ma("/ip4/127.0.0.1/tcp/4002/ws");
    assert_eq!(
        dialer(&strict, &ws).map(|t| t.kind()).unwrap_err(),
        Unsupported::Filtered {
            addr: ws.clone(),
            filter: Filter::dns_wss()
        }
    );
    let webrtc = ma("/ip4/127.0.0.1/udp/1/webrtc-direct");
    assert_eq!(
        dialer(&strict, &webrtc).map(|t| t.kind()).unwrap_err(),
        Unsupported::Address(webrtc)
    );
    let tcp = ma("/ip4/127.0.0.1/tcp/4001");
    assert_eq!(
        dialer(&strict, &tcp).map(|t| t.kind()),
        Ok(crate::Kind::Tcp)
    );
}

/// A WebRTC-direct listener's address as libp2p-webrtc reports it.
const CERTHASHED: &str =
    "/ip4/127.0.0.1/udp/1/webrtc-direct/certhash/uEiDikp5KVUgkLta1EjUN-IKbHk-dUBg8VzKgf5nXxLK46w";

#[test]
fn webrtc_direct_listens_without_and_dials_with_a_certhash() {
    let webrtc = crate::WebRtcDirect::new();
    assert!(webrtc.can_listen(&ma("/ip4/127.0.0.1/udp/0/webrtc-direct")));
    assert!(!webrtc.can_listen(&ma("/ip4/127.0.0.1/udp/0/quic-v1")));
    assert_eq!(webrtc.can_dial(&ma(CERTHASHED)), Ok(()));
    let bare = ma("/ip4/127.0.0.1/udp/1/webrtc-direct");
    assert_eq!(webrtc.can_dial(&bare), Err(Unsupported::Address(bare)));
}

#[test]
fn labels_name_the_transport() {
    for (addr, label) in [
        ("/ip4/127.0.0.1/tcp/1", Some("tcp")),
        ("/ip6/::1/udp/1/quic-v1/p2p/X", Some("quic-v1")),
        ("/dns4/example.com/tcp/80/ws", Some("ws")),
        ("/ip4/127.0.0.1/tcp/1/tls/ws", Some("wss")),
        ("/ip4/127.0.0.1/tcp/1/wss", Some("wss")),
        ("/memory/3", Some("memory")),
        ("/ip4/127.0.0.1/udp/1/webrtc-direct", Some("webrtc-direct")),
        (CERTHASHED, Some("webrtc-direct")),
        ("/ip4/127.0.0.1/udp/1/quic-v1/webtransport", None),
    ] {
        assert_eq!(
            crate::label(&ma(&addr.replace("/p2p/X", PEER))),
            label,
            "{addr}"
        );
    }
}

/// A dial policy refuses a denied address in `dial` itself, whoever asked for the dial
/// (identify's addresses for a peer included): nothing is sent to it.
#[test]
fn the_dial_policy_refuses_before_connecting() {
    use libp2p::Transport as _;
    use libp2p::core::transport::{DialOpts, PortUse};
    use switchboard_filters::{Policy, Rule};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let rule: Rule = format!("deny on dial port {port}").parse().expect("rule");
    let transports: Vec<Arc<dyn Transport>> = vec![Arc::new(Tcp::new())];
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let rt = switchboard_runtime::Handle::new(switchboard_runtime::Tokio::from_handle(
        runtime.handle().clone(),
    ));
    let ctx = crate::Context::new(libp2p::identity::Keypair::generate_ed25519(), rt);
    let mut stack = crate::Stack::build(&transports, &ctx)
        .expect("stack")
        .0
        .with_dial_policy(Arc::new(Policy::new().with_rule(rule)));
    let opts = DialOpts {
        role: libp2p::core::Endpoint::Dialer,
        port_use: PortUse::New,
    };
    let refused = stack.dial(ma(&format!("/ip4/127.0.0.1/tcp/{port}")), opts);
    assert!(refused.is_err(), "the denied address was dialed");
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "something connected to the denied address"
    );
}
