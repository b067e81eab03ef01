//! Every key type peers on the network have (ed25519; RSA, Kubo's default for years;
//! secp256k1; ECDSA) authenticates in both directions, over noise (TCP, WebSocket) and TLS
//! (QUIC, and TCP when preferred).

use libp2p::identity::Keypair;
use switchboard_node::transport::Security;
use switchboard_node::{Node, profile};

use switchboard_testkit::addr_of;

/// A 2048-bit RSA test key in PKCS#8 DER (`openssl genpkey -algorithm RSA`, then `openssl pkcs8
/// -topk8 -nocrypt -outform DER`, as Debian's openssl 3.0 writes PKCS#1 DER): rust-libp2p reads
/// RSA keys but cannot generate them.
const RSA_PKCS8: &[u8] = include_bytes!("keys/rsa-2048.pk8");

fn keypairs() -> Vec<(&'static str, Keypair)> {
    vec![
        ("ed25519", Keypair::generate_ed25519()),
        (
            "rsa",
            Keypair::rsa_from_pkcs8(&mut RSA_PKCS8.to_vec()).expect("the test RSA key"),
        ),
        ("secp256k1", Keypair::generate_secp256k1()),
        ("ecdsa", Keypair::generate_ecdsa()),
    ]
}

async fn node(keypair: Keypair, security: Security) -> Node {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_keypair(keypair)
        .with_security(security)
        .with_listen_addrs(
            [
                "/ip4/127.0.0.1/tcp/0",
                "/ip4/127.0.0.1/udp/0/quic-v1",
                "/ip4/127.0.0.1/tcp/0/ws",
            ]
            .map(|a| a.parse().expect("listen address")),
        )
        .build()
        .await
        .expect("node")
}

#[tokio::test]
async fn every_key_type_connects_both_ways() {
    switchboard_testkit::init_tracing();
    for (name, keypair) in keypairs() {
        for security in [Security::Noise, Security::Tls] {
            for transport in ["tcp", "quic-v1", "ws"] {
                for typed_dials in [false, true] {
                    let other = node(Keypair::generate_ed25519(), security).await;
                    let typed = node(keypair.clone(), security).await;
                    let (dialer, listener) = if typed_dials {
                        (&typed, &other)
                    } else {
                        (&other, &typed)
                    };
                    let addr = addr_of(listener, transport).await;
                    let connected = dialer
                        .connect(addr)
                        .await
                        .unwrap_or_else(|e| panic!("{name} over {transport} ({security:?}): {e}"));
                    assert_eq!(connected, listener.peer_id(), "{name} over {transport}");
                    other.shutdown().await;
                    typed.shutdown().await;
                }
            }
        }
    }
}
