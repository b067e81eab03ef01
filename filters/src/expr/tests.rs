use std::net::{Ipv4Addr, Ipv6Addr};

use libp2p::identity::Keypair;
use proptest::prelude::*;

use super::*;

fn peers() -> [PeerId; 2] {
    // Fixed keys keep failing cases reproducible.
    [1u8, 2].map(|seed| {
        Keypair::ed25519_from_bytes([seed; 32])
            .expect("32-byte seed")
            .public()
            .to_peer_id()
    })
}

fn host() -> impl Strategy<Value = Protocol<'static>> {
    prop_oneof![
        prop::sample::select(vec![
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(10, 1, 2, 3),
            Ipv4Addr::new(198, 18, 0, 5),
            Ipv4Addr::new(8, 8, 8, 8),
        ])
        .prop_map(Protocol::Ip4),
        prop::sample::select(vec![
            Ipv6Addr::LOCALHOST,
            "2001:db8::1".parse().expect("ipv6")
        ])
        .prop_map(Protocol::Ip6),
        Just(Protocol::Dns4("example.com".into())),
    ]
}

fn addr() -> impl Strategy<Value = Multiaddr> {
    (
        host(),
        0..6usize,
        prop::sample::select(vec![80u16, 443, 4001]),
        0..3usize,
    )
        .prop_map(|(host, stack, port, peer)| {
            let base = Multiaddr::empty().with(host);
            let mut addr = match stack {
                0 => base.with(Protocol::Tcp(port)),
                1 => base
                    .with(Protocol::Tcp(port))
                    .with(Protocol::Ws("/".into())),
                2 => base
                    .with(Protocol::Tcp(port))
                    .with(Protocol::Wss("/".into())),
                3 => base
                    .with(Protocol::Tcp(port))
                    .with(Protocol::Tls)
                    .with(Protocol::Ws("/".into())),
                4 => base.with(Protocol::Udp(port)).with(Protocol::QuicV1),
                _ => base
                    .with(Protocol::Tcp(port))
                    .with(Protocol::Ws("/".into()))
                    .with(Protocol::P2pCircuit),
            };
            if peer < 2 {
                addr = addr.with(Protocol::P2p(peers()[peer]));
            }
            addr
        })
}

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        Just(Atom::Any),
        Just(Atom::Ws),
        Just(Atom::Wss),
        Just(Atom::Websocket),
        Just(Atom::Dns),
        Just(Atom::Loopback),
        Just(Atom::Private),
        prop::sample::select(vec!["127.0.0.0/8", "10.0.0.0/8", "::1/128", "0.0.0.0/0"])
            .prop_map(|s| Atom::Ip(s.parse().expect("cidr"))),
        prop::sample::select(vec!["tcp", "quic-v1", "ws", "p2p-circuit", "dns4"])
            .prop_map(Atom::Proto),
        prop::sample::select(vec![80u16, 443]).prop_map(Atom::Port),
        (0..2usize).prop_map(|i| Atom::Peer(peers()[i])),
        Just(Atom::Prefix("/ip4/127.0.0.1".parse().expect("multiaddr"))),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    atom()
        .prop_map(Expr::Atom)
        .prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(Expr::not),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
                (inner.clone(), inner).prop_map(|(a, b)| a.or(b)),
            ]
        })
}

fn eval(e: &Expr, addr: &Multiaddr, peer: Option<PeerId>) -> Truth {
    e.eval(&Target::new(addr, peer))
}

proptest! {
    #[test]
    fn text_form_round_trips(e in expr()) {
        let text = e.to_string();
        prop_assert_eq!(text.parse::<Expr>(), Ok(e), "text: {}", text);
    }

    #[test]
    fn double_negation_is_identity(e in expr(), a in addr(), p in 0..3usize) {
        let peer = peers().get(p).copied();
        prop_assert_eq!(eval(&e.clone().not().not(), &a, peer), eval(&e, &a, peer));
    }

    #[test]
    fn de_morgan_holds(x in expr(), y in expr(), a in addr(), p in 0..3usize) {
        let peer = peers().get(p).copied();
        let lhs = x.clone().and(y.clone()).not();
        let rhs = x.not().or(y.not());
        prop_assert_eq!(eval(&lhs, &a, peer), eval(&rhs, &a, peer));
    }

    /// Learning the peer only ever turns `Unknown` into an answer, never flips one.
    #[test]
    fn knowing_the_peer_refines(e in expr(), a in addr(), p in 0..2usize) {
        let bare: Multiaddr = a.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
        let before = eval(&e, &bare, None);
        let after = eval(&e, &bare, Some(peers()[p]));
        prop_assert_ne!(after, Truth::Unknown);
        if before != Truth::Unknown {
            prop_assert_eq!(before, after);
        }
    }

    /// Without a `peer` test, nothing is ever unknown.
    #[test]
    fn address_tests_are_decided(e in expr(), a in addr()) {
        if !e.to_string().contains("peer") {
            prop_assert_ne!(eval(&e, &a, None), Truth::Unknown);
        }
    }
}

fn ma(s: &str) -> Multiaddr {
    s.parse().expect("test multiaddr")
}

#[test]
fn atoms_match_what_their_docs_say() {
    let cases: &[(&str, &str, bool)] = &[
        ("loopback", "/ip4/127.0.0.1/tcp/1", true),
        ("loopback", "/ip6/::1/tcp/1", true),
        ("loopback", "/ip4/10.0.0.1/tcp/1", false),
        ("loopback", "/dns4/localhost/tcp/1", false),
        ("private", "/ip4/10.0.0.1/tcp/1", true),
        ("private", "/ip4/198.18.0.1/tcp/1", true),
        ("private", "/ip4/100.64.1.1/tcp/1", true),
        ("private", "/ip6/fd00::1/tcp/1", true),
        ("private", "/ip6/fe80::1/tcp/1", true),
        ("private", "/ip4/8.8.8.8/tcp/1", false),
        ("private", "/ip6/2001:4860::1/tcp/1", false),
        ("ip 10.0.0.0/8", "/ip4/10.9.9.9/udp/1/quic-v1", true),
        ("ip 10.0.0.0/8", "/ip4/11.0.0.1/udp/1/quic-v1", false),
        ("ip ::1", "/ip6/::1/tcp/1", true),
        // IPv4-mapped IPv6, as a dual-stack socket reports an IPv4 peer.
        ("loopback", "/ip6/::ffff:127.0.0.1/tcp/1", true),
        ("ip 127.0.0.0/8", "/ip6/::ffff:127.0.0.1/tcp/1", true),
        ("ip 10.0.0.0/8", "/ip6/::ffff:10.1.2.3/udp/1/quic-v1", true),
        ("ip 10.0.0.0/8", "/ip6/::ffff:11.1.2.3/tcp/1", false),
        ("private", "/ip6/::ffff:192.168.1.1/tcp/1", true),
        ("proto quic-v1", "/ip4/1.1.1.1/udp/1/quic-v1", true),
        ("proto quic-v1", "/ip4/1.1.1.1/tcp/1", false),
        ("port 4001", "/ip4/1.1.1.1/udp/4001/quic-v1", true),
        ("port 4001", "/ip4/1.1.1.1/tcp/4002", false),
        ("dns", "/dnsaddr/bootstrap.libp2p.io", true),
        ("addr /ip4/127.0.0.1/tcp/5", "/ip4/127.0.0.1/tcp/5/ws", true),
        ("addr /ip4/127.0.0.1/tcp/5", "/ip4/127.0.0.1/tcp/6", false),
        (
            "websocket and not loopback",
            "/ip4/127.0.0.1/tcp/1/ws",
            false,
        ),
        ("websocket and not loopback", "/ip4/1.2.3.4/tcp/1/ws", true),
        ("not (ws or wss)", "/ip4/1.2.3.4/tcp/1/tls/ws", false),
        ("tcp", "/ip4/1.2.3.4/tcp/1", false),
    ];
    for (text, addr, expected) in cases {
        match text.parse::<Expr>() {
            Ok(e) => assert_eq!(e.matches(&ma(addr)), *expected, "`{text}` on {addr}"),
            // `tcp` is not an atom: protocols are tested with `proto tcp`.
            Err(_) => assert_eq!(*text, "tcp"),
        }
    }
}

#[test]
fn peer_test_reads_the_address_or_the_connection() {
    let [a, b] = peers();
    let e: Expr = format!("peer {a}").parse().expect("expr");
    let bare = ma("/ip4/1.2.3.4/tcp/1");
    assert_eq!(eval(&e, &bare, None), Truth::Unknown);
    assert_eq!(eval(&e, &bare, Some(a)), Truth::True);
    assert_eq!(eval(&e, &bare, Some(b)), Truth::False);
    assert_eq!(eval(&e, &bare.with(Protocol::P2p(a)), None), Truth::True);
}

#[test]
fn bad_text_gets_a_precise_error() {
    use crate::ParseError;
    let err = |s: &str| s.parse::<Expr>().expect_err(s);
    assert_eq!(
        err("ip 10.0.0.0/33"),
        ParseError::Cidr("10.0.0.0/33".into())
    );
    assert_eq!(
        err("proto carrier-pigeon"),
        ParseError::Protocol("carrier-pigeon".into())
    );
    assert_eq!(err("port 70000"), ParseError::Port("70000".into()));
    assert_eq!(err("peer nope"), ParseError::PeerId("nope".into()));
    assert_eq!(
        err("addr ip4/1.2.3.4"),
        ParseError::Multiaddr("ip4/1.2.3.4".into())
    );
    assert!(matches!(err("(ws"), ParseError::UnexpectedEnd { .. }));
    assert!(matches!(err("ws wss"), ParseError::Unexpected { .. }));
    assert!(matches!(err("ws and"), ParseError::UnexpectedEnd { .. }));
    assert!(matches!(err(""), ParseError::UnexpectedEnd { .. }));
}
