//! In-process nodes on loopback: the Rust API, its typed errors and its filters.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use switchboard_node::filters::{Policy, Rule};
use switchboard_node::transport::{
    self, Context, Environment, Kind, Memory, Security, Tcp, Transport, Unsupported, WebSocket,
};
use switchboard_node::{BuildError, Builder, DialError, Event, Events, Node, PerfError, profile};

use switchboard_testkit::{DEADLINE, addr_of, causes, transport_of};

fn ma(s: &str) -> Multiaddr {
    s.parse().expect("test multiaddr")
}

/// A daemon-profile node with mDNS off listening on `addrs`.
fn daemon(addrs: &[&str]) -> Builder {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addrs(addrs.iter().map(|a| ma(a)))
}

/// Waits for an event `pick` accepts.
pub(crate) async fn wait_for<T>(
    events: &mut Events,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    tokio::time::timeout(DEADLINE, async {
        loop {
            let event = events.next().await.expect("node stopped");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await
    .expect("event before the deadline")
}

#[tokio::test]
async fn tcp_security_is_negotiated_like_kubo() {
    // Each pair of preferences that shares a protocol connects; noise-only and tls-only do not.
    let cases = [
        (Security::NoiseThenTls, Security::Tls, true),
        (Security::Tls, Security::NoiseThenTls, true),
        (Security::TlsThenNoise, Security::Noise, true),
        (Security::Tls, Security::Tls, true),
        (Security::Noise, Security::Tls, false),
    ];
    for (listener_security, dialer_security, connects) in cases {
        let a = daemon(&["/ip4/127.0.0.1/tcp/0"])
            .with_security(listener_security)
            .build()
            .await
            .expect("a");
        let b = daemon(&[])
            .with_security(dialer_security)
            .build()
            .await
            .expect("b");
        let result = b.connect(addr_of(&a, "tcp").await).await;
        assert_eq!(
            result.is_ok(),
            connects,
            "{listener_security:?} <- {dialer_security:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn ipv6_loopback_works_too() {
    let a = daemon(&["/ip6/::1/tcp/0", "/ip6/::1/udp/0/quic-v1"])
        .build()
        .await
        .expect("a");
    let b = daemon(&[]).build().await.expect("b");
    for transport in ["tcp", "quic-v1"] {
        let b2 = daemon(&[]).build().await.expect("b");
        assert_eq!(
            b2.connect(addr_of(&a, transport).await)
                .await
                .unwrap_or_else(|e| panic!("{transport}: {e}")),
            a.peer_id(),
        );
    }
    drop(b);
}

/// `/tls/ws` is the same secure websocket as `/wss`, in the form go-libp2p and js-libp2p print.
#[tokio::test]
async fn tls_ws_form_listens_and_dials() {
    let cert = transport::Certificate::self_signed(["127.0.0.1".into()]).expect("certificate");
    let trusted = WebSocket::new()
        .with_trusted(cert.chain_pem())
        .expect("trust");
    let a = daemon(&["/ip4/127.0.0.1/tcp/0/tls/ws"])
        .with_transport(Arc::new(WebSocket::new().with_certificate(cert)))
        .build()
        .await
        .expect("a");
    let addr = addr_of(&a, "wss").await;
    assert!(addr.iter().any(|p| p == Protocol::Tls), "{addr}");
    let b = daemon(&[])
        .with_transport(Arc::new(trusted))
        .build()
        .await
        .expect("b");
    assert_eq!(b.connect(addr.clone()).await.expect("b dials"), a.peer_id());

    // Without the certificate trusted, the TLS handshake fails and says so.
    let stranger = daemon(&[]).build().await.expect("stranger");
    match stranger.connect(addr).await {
        Err(e @ DialError::Unreachable { .. }) => {
            let causes = causes(&e);
            assert!(causes.to_lowercase().contains("certificate"), "{causes}")
        }
        other => panic!("expected a certificate failure, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_peer_id_is_typed() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("a");
    let b = daemon(&[]).build().await.expect("b");
    let impostor = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id();
    let mut addr = addr_of(&a, "tcp").await;
    addr.pop();
    let err = b
        .connect(addr.clone().with(Protocol::P2p(impostor)))
        .await
        .unwrap_err();
    let dialed = addr.with(Protocol::P2p(impostor));
    assert!(
        matches!(&err, DialError::WrongPeerId { addr, expected, obtained }
            if *addr == dialed && *expected == impostor && *obtained == a.peer_id()),
        "{err:?}"
    );
    assert!(b.peers().await.is_empty());
}

/// Two peers dialing each other at the same moment both succeed. (In one process the two dials
/// rarely collide; two daemons that discover each other by mDNS do, which the mDNS test covers.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_dialing_each_other_at_once_both_connect() {
    for _ in 0..10 {
        let a = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("a");
        let b = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("b");
        let (to_b, to_a) = (addr_of(&b, "tcp").await, addr_of(&a, "tcp").await);
        let (ab, ba) = tokio::join!(a.connect(to_b), b.connect(to_a));
        assert_eq!(
            (ab.expect("a dials b"), ba.expect("b dials a")),
            (b.peer_id(), a.peer_id())
        );
    }
}

#[tokio::test]
async fn dial_without_peer_id_learns_it() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("a");
    let b = daemon(&[]).build().await.expect("b");
    let mut addr = addr_of(&a, "tcp").await;
    addr.pop();
    assert_eq!(b.connect(addr).await.expect("b dials a"), a.peer_id());
}

#[tokio::test]
async fn self_dial_is_refused() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("a");
    let addr = addr_of(&a, "tcp").await;
    let refused = a.connect(addr.clone()).await;
    assert!(
        matches!(&refused, Err(DialError::SelfDial(a)) if *a == addr),
        "{refused:?}"
    );
}

#[tokio::test]
async fn silent_peer_times_out_within_the_dial_timeout() {
    // A TCP listener that accepts and never speaks: the security handshake can never finish.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let limits = switchboard_node::config::Limits {
        dial_timeout_secs: 1,
        ..Default::default()
    };
    let b = daemon(&[]).with_limits(limits).build().await.expect("b");
    let addr = ma(&format!("/ip4/127.0.0.1/tcp/{port}"));
    let timed_out = b.connect(addr.clone()).await;
    assert!(
        matches!(&timed_out, Err(DialError::Timeout { addr: a, after })
            if *a == addr && *after == Duration::from_secs(1)),
        "{timed_out:?}"
    );
    accepting.abort();
}

#[tokio::test]
async fn policy_denies_dials_naming_the_rule() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"])
        .build()
        .await
        .expect("a");
    let rule: Rule = "no-quic: deny on dial proto quic-v1".parse().expect("rule");
    let b = daemon(&[])
        .with_policy(Policy::new().with_rule(rule))
        .build()
        .await
        .expect("b");
    match b.connect(addr_of(&a, "quic-v1").await).await {
        Err(DialError::Denied(denied)) => assert_eq!(denied.rule(), "no-quic"),
        other => panic!("expected a denial, got {other:?}"),
    }
    assert_eq!(
        b.connect(addr_of(&a, "tcp").await)
            .await
            .expect("tcp is allowed"),
        a.peer_id()
    );
}

#[tokio::test]
async fn peer_rules_apply_once_the_peer_is_known() {
    // The address passes; the peer behind it is denied after the handshake.
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("a");
    let rule: Rule = format!("not-a: deny peer {}", a.peer_id())
        .parse()
        .expect("rule");
    let b = daemon(&[])
        .with_policy(Policy::new().with_rule(rule))
        .build()
        .await
        .expect("b");
    let mut addr = addr_of(&a, "tcp").await;
    addr.pop();
    match b.connect(addr).await {
        Err(DialError::Denied(denied)) => assert_eq!(denied.rule(), "not-a"),
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn inbound_rules_refuse_connections() {
    let rule: Rule = "no-inbound-loopback: deny on inbound loopback"
        .parse()
        .expect("rule");
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"])
        .with_policy(Policy::new().with_rule(rule))
        .build()
        .await
        .expect("a");
    let b = daemon(&[]).build().await.expect("b");
    assert!(b.connect(addr_of(&a, "tcp").await).await.is_err());
    assert!(a.peers().await.is_empty());
}

#[tokio::test]
async fn websocket_filter_refuses_insecure_ws() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0/ws"])
        .build()
        .await
        .expect("a");
    let strict = WebSocket::new().with_filter(switchboard_node::filters::Filter::wss());
    let b = daemon(&[])
        .with_transport(Arc::new(strict))
        .build()
        .await
        .expect("b");
    let addr = addr_of(&a, "ws").await;
    match b.connect(addr.clone()).await {
        Err(DialError::Unsupported(Unsupported::Filtered { filter, .. })) => {
            assert_eq!(filter.name(), "wss")
        }
        other => panic!("expected the wss filter to refuse, got {other:?}"),
    }
    let all = daemon(&[]).build().await.expect("all");
    assert_eq!(
        all.connect(addr).await.expect("`all` lets ws through"),
        a.peer_id()
    );
}

#[tokio::test]
async fn denied_addresses_are_not_advertised() {
    let rule: Rule = "hide-ws: deny on advertise websocket"
        .parse()
        .expect("rule");
    let a = daemon(&["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"])
        .with_policy(Policy::new().with_rule(rule))
        .build()
        .await
        .expect("a");
    let advertised = a.identity().await.addresses;
    assert_eq!(advertised.len(), 1, "{advertised:?}");
    assert_eq!(transport_of(&advertised[0]), "tcp");
    assert_eq!(a.listen_addrs().await.len(), 2, "still listening on both");

    // What identify tells a peer leaves the ws address out too.
    let b = daemon(&[]).build().await.expect("b");
    let mut events = b.subscribe();
    b.connect(addr_of(&a, "tcp").await).await.expect("connect");
    let a_id = a.peer_id();
    let told = wait_for(&mut events, |e| match e {
        Event::Identified {
            peer, listen_addrs, ..
        } if peer == a_id => Some(listen_addrs),
        _ => None,
    })
    .await;
    assert!(
        !told.is_empty() && told.iter().all(|addr| transport_of(addr) == "tcp"),
        "{told:?}"
    );
}

#[tokio::test]
async fn identify_reports_what_id_claims() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("a");
    let b = daemon(&[]).build().await.expect("b");
    let mut events = b.subscribe();
    b.connect(addr_of(&a, "tcp").await).await.expect("connect");
    let a_id = a.peer_id();
    let (agent, mut protocols) = wait_for(&mut events, |e| match e {
        Event::Identified {
            peer,
            agent_version,
            protocols,
            ..
        } if peer == a_id => Some((agent_version, protocols)),
        _ => None,
    })
    .await;
    let identity = a.identity().await;
    let mut claimed = identity.protocols.clone();
    protocols.sort();
    claimed.sort();
    assert_eq!(protocols, claimed);
    assert_eq!(agent, identity.agent_version);
}

#[tokio::test]
async fn concurrent_pings_share_a_connection() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("a");
    let b = daemon(&[]).build().await.expect("b");
    let addr = addr_of(&a, "tcp").await;
    b.connect(addr.clone()).await.expect("connect");
    let count = NonZeroU32::new(3).expect("3");
    let by_peer = Multiaddr::empty().with(Protocol::P2p(a.peer_id()));
    let (x, y) = tokio::join!(b.ping(&addr, count), b.ping(&by_peer, count));
    assert_eq!(x.expect("ping by address").len(), 3);
    assert_eq!(y.expect("ping by peer id").len(), 3);
    // A ping the other way, served by B.
    assert_eq!(
        a.ping(&Multiaddr::empty().with(Protocol::P2p(b.peer_id())), count)
            .await
            .expect("pings")
            .len(),
        3
    );
}

#[tokio::test]
async fn perf_moves_the_bytes_it_was_asked_for() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"])
        .with_perf_server(true)
        .build()
        .await
        .expect("a");
    let b = daemon(&[]).build().await.expect("b");
    let report = b
        .perf(&addr_of(&a, "tcp").await, 3 << 20, 5 << 20)
        .await
        .expect("perf");
    assert_eq!(
        (report.upload_bytes, report.download_bytes),
        (3 << 20, 5 << 20)
    );
}

/// Kubo serves no perf, and neither does a node unless built to: each perf stream moves as many
/// bytes as the peer asks for.
#[tokio::test]
async fn perf_is_served_only_when_asked_for() {
    let a = daemon(&["/ip4/127.0.0.1/tcp/0"]).build().await.expect("a");
    let b = daemon(&[]).build().await.expect("b");
    let err = b
        .perf(&addr_of(&a, "tcp").await, 0, 1 << 20)
        .await
        .unwrap_err();
    assert!(matches!(err, PerfError::Unsupported(_)), "{err}");
    assert!(
        !a.identity()
            .await
            .protocols
            .iter()
            .any(|p| p == "/perf/1.0.0")
    );
}

#[tokio::test]
async fn build_errors_are_typed() {
    let err = daemon(&["/ip4/127.0.0.1/udp/0/quic-v1/webtransport"])
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, BuildError::UnsupportedListenAddr { .. }),
        "{err}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let err = daemon(&[&format!("/ip4/127.0.0.1/tcp/{port}")])
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::Listen { .. } if causes(&err).contains("in use")),
        "{err}"
    );

    #[derive(Debug)]
    struct BrowserOnly;
    impl Transport for BrowserOnly {
        fn kind(&self) -> Kind {
            Kind::Other("browser-only")
        }
        fn environments(&self) -> &'static [Environment] {
            &[Environment::Browser]
        }
        fn can_listen(&self, _: &Multiaddr) -> bool {
            false
        }
        fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
            Err(Unsupported::Address(addr.clone()))
        }
        fn build(&self, ctx: &Context) -> Result<transport::Built, transport::BuildError> {
            Memory::new().build(ctx)
        }
    }
    let err = daemon(&[])
        .with_transport(Arc::new(BrowserOnly))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BuildError::UnsupportedTransport {
                kind: Kind::Other("browser-only"),
                ..
            }
        ),
        "{err}"
    );
}

/// A transport defined outside Switchboard: memory channels that count their dials, plugged in
/// through the same trait the built-in transports implement.
#[tokio::test]
async fn a_transport_from_outside_plugs_in() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Counting {
        dials: Arc<AtomicUsize>,
    }
    impl Transport for Counting {
        fn kind(&self) -> Kind {
            Kind::Other("counting-memory")
        }
        fn environments(&self) -> &'static [Environment] {
            &[Environment::Native]
        }
        fn can_listen(&self, addr: &Multiaddr) -> bool {
            Memory::new().can_listen(addr)
        }
        fn can_dial(&self, addr: &Multiaddr) -> Result<(), Unsupported> {
            Memory::new().can_dial(addr)?;
            self.dials.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn build(&self, ctx: &Context) -> Result<transport::Built, transport::BuildError> {
            Memory::new().build(ctx)
        }
    }
    let counting = Arc::new(Counting::default());
    let dials = counting.dials.clone();
    let a = Node::builder(profile::Daemon)
        .with_transports([Arc::new(Tcp::new()) as Arc<dyn Transport>, counting])
        .with_mdns(false)
        .with_listen_addr(ma("/memory/0"))
        .build()
        .await
        .expect("a");
    let b = Node::builder(profile::Daemon)
        .with_transports([Arc::new(Counting {
            dials: dials.clone(),
        }) as Arc<dyn Transport>])
        .with_mdns(false)
        .build()
        .await
        .expect("b");
    let addr = a
        .listen_addrs()
        .await
        .into_iter()
        .find(|a| a.iter().any(|p| matches!(p, Protocol::Memory(_))))
        .expect("memory");
    assert_eq!(
        b.connect(addr.with_p2p(a.peer_id()).expect("p2p"))
            .await
            .expect("b dials a"),
        a.peer_id()
    );
    assert!(
        dials.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the outside transport dialed"
    );
}
