//! The seed's last story between native nodes: a peer that cannot be dialed (a browser, a node
//! behind a NAT) is reached through a circuit relay, and then directly.
//!
//! Three nodes on 127.0.0.1: a relay; `hidden`, which listens nowhere itself but reserves a slot
//! on the relay and listens on `/webrtc`; and `dialer`. The dialer first connects through the
//! relay's circuit (`…/p2p/RELAY/p2p-circuit/p2p/HIDDEN`) and fetches a small block over it;
//! then it dials `…/p2p-circuit/webrtc/p2p/HIDDEN`: the two signal a WebRTC connection over the
//! relayed one and connect directly, and a block of 1 MiB, more than a circuit carries (128
//! KiB), comes over that. Between daemons behind real NATs the direct connection comes by hole
//! punching instead (`switchboard daemon`, see README.md); a browser gets it over `/webrtc` as
//! here (`examples/browser/`).
//!
//! Run with `cargo run -p switchboard-examples --example through_a_relay [-- --runtime smol]`:
//! WebRTC here is str0m driven on the node's own runtime, so it runs on tokio, smol and
//! async-std alike. mDNS is off; WebRTC offers loopback candidates only.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use switchboard_node::profile;
use switchboard_node::transport::{WebRtc, is_relayed};

fn main() -> anyhow::Result<()> {
    switchboard_examples::run(|on, _| async move {
        let loopback: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse()?;
        let relay = on
            .builder(profile::Relay)
            .with_listen_addr(loopback)
            .with_relay(switchboard_node::config::Relay {
                serve: true,
                ..Default::default()
            })
            .build()
            .await?;
        let peer = || {
            on.builder(profile::Daemon)
                .with_mdns(false)
                .with_listen_addrs([])
                .with_transport(Arc::new(
                    WebRtc::new().with_local_addresses([IpAddr::V4(Ipv4Addr::LOCALHOST)]),
                ))
                .build()
        };
        let (hidden, dialer) = (peer().await?, peer().await?);
        let relay_addr = relay.listen_addrs().await[0]
            .clone()
            .with(Protocol::P2p(relay.peer_id()));
        println!("relay {}", relay_addr);

        // `hidden` reserves on the relay and listens on `/webrtc` through it.
        let (reserved, webrtc) = futures::join!(
            hidden.listen(relay_addr.with(Protocol::P2pCircuit)),
            hidden.listen(Multiaddr::empty().with(Protocol::WebRTC))
        );
        let circuit = reserved?.with(Protocol::P2p(hidden.peer_id()));
        let webrtc = webrtc?.with(Protocol::P2p(hidden.peer_id()));
        println!("hidden is reachable at {circuit}\n    and at {webrtc}");

        let small = hidden.block().put(&b"here is some data"[..]).await?;
        let data: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let large = hidden.block().put(data.clone()).await?;

        // Through the relay: fine for a small block.
        let started = Instant::now();
        dialer.connect(circuit).await?;
        let block = dialer.block().get(&small).await?;
        println!(
            "through the relay: connected and fetched {:?} in {:.1} ms",
            String::from_utf8_lossy(block.data()),
            started.elapsed().as_secs_f64() * 1e3
        );

        // Then directly, over WebRTC signalled through the relay.
        let started = Instant::now();
        dialer.connect(webrtc).await?;
        let connected = started.elapsed();
        let block = dialer.block().get(&large).await?;
        anyhow::ensure!(
            block.data().as_ref() == data.as_slice(),
            "the block changed on the way"
        );
        let via = dialer
            .peers()
            .await
            .into_iter()
            .find(|p| p.peer == hidden.peer_id())
            .map(|p| p.addr)
            .ok_or_else(|| anyhow::anyhow!("not connected"))?;
        anyhow::ensure!(!is_relayed(&via), "the block came through the relay");
        println!(
            "over /webrtc: connected in {:.1} ms, fetched 1 MiB in {:.1} ms, via {via}",
            connected.as_secs_f64() * 1e3,
            (started.elapsed() - connected).as_secs_f64() * 1e3
        );

        for node in [dialer, hidden, relay] {
            node.shutdown().await;
        }
        Ok(())
    })
}
