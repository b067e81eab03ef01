//! The seed's "discover each other": two daemons on one host or LAN find each other with mDNS
//! and connect, with no address exchanged by hand.
//!
//! This sends mDNS multicast on the machine's network interfaces (libp2p's mDNS skips
//! loopback), so run it only where that is welcome:
//! `cargo run -p switchboard-examples --example discover_localhost [-- --runtime smol]`.
//! `cargo xtask ci` runs it on each runtime inside a network namespace of its own.

use std::time::Duration;

use switchboard_node::{Event, profile};

fn main() -> anyhow::Result<()> {
    switchboard_examples::run(|on, rt| async move {
        let node = || {
            on.builder(profile::Daemon)
                .with_mdns(true)
                .with_listen_addr("/ip4/0.0.0.0/tcp/0".parse().expect("valid multiaddr"))
                .build()
        };
        let ipfs1 = node().await?;
        let mut events = ipfs1.subscribe();
        let ipfs2 = node().await?;
        println!(
            "ipfs1 is {}, ipfs2 is {}; waiting for mDNS",
            ipfs1.peer_id(),
            ipfs2.peer_id()
        );

        let wanted = ipfs2.peer_id();
        let found = rt
            .timeout(Duration::from_secs(30), async {
                while let Some(event) = events.next().await {
                    match event {
                        Event::Discovered { peer, addr } if peer == wanted => {
                            println!("ipfs1 discovered ipfs2 at {addr}")
                        }
                        Event::Connected { peer, addr } if peer == wanted => return Ok(addr),
                        _ => {}
                    }
                }
                Err(anyhow::anyhow!("ipfs1 stopped"))
            })
            .await
            .map_err(|_| {
                anyhow::anyhow!("no mDNS discovery within 30 s (is multicast routed here?)")
            })??;
        println!("ipfs1 and ipfs2 are connected over {found}");
        ipfs2.shutdown().await;
        ipfs1.shutdown().await;
        Ok(())
    })
}
