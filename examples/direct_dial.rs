//! The seed's "direct dial": two daemons, one dials the other by multiaddr.
//!
//! ```js
//! const ipfs1 = await create({ repo: './ipfs1' })
//! const ipfs2 = await create({ repo: './ipfs2' })
//! await ipfs2.swarm.connect('/ip4/1.2.3.4/tcp/12345/p2p/ipfs1-peer-hash')
//! ```
//!
//! Run with `cargo run -p switchboard-examples --example direct_dial [-- --runtime smol]`.
//! Both nodes live on temporary repos and listen on 127.0.0.1 only, with mDNS off, so nothing
//! leaves the machine.

use std::num::NonZeroU32;

use libp2p::multiaddr::Protocol;
use switchboard_node::{InitProfile, Node, Repo, profile};

fn main() -> anyhow::Result<()> {
    switchboard_examples::run(|on, _| async move {
        let dir = tempfile::tempdir()?;
        // `create({ repo: './ipfs1' })` and `create({ repo: './ipfs2' })`.
        let repo1 = Repo::init(dir.path().join("ipfs1"), InitProfile::Test)?;
        let repo2 = Repo::init(dir.path().join("ipfs2"), InitProfile::Test)?;
        let ipfs1 = on
            .configure(Node::builder(profile::Daemon).with_repo(&repo1)?)
            .build()
            .await?;
        let ipfs2 = on
            .configure(Node::builder(profile::Daemon).with_repo(&repo2)?)
            .build()
            .await?;

        // ipfs1's TCP address, as `ipfs id` would show it.
        let addr = ipfs1
            .identity()
            .await
            .addresses
            .into_iter()
            .find(|a| {
                matches!(
                    a.iter().collect::<Vec<_>>().as_slice(),
                    [_, Protocol::Tcp(_), Protocol::P2p(_)]
                )
            })
            .ok_or_else(|| anyhow::anyhow!("ipfs1 has no TCP address"))?;
        println!("ipfs1 is {} at {addr}", ipfs1.peer_id());

        // `ipfs2.swarm.connect(addr)`.
        let peer = ipfs2.connect(addr.clone()).await?;
        println!("ipfs2 connected to {peer}");
        let rtt = ipfs2.ping(&addr, NonZeroU32::MIN).await?;
        println!(
            "ping ipfs1 from ipfs2: {:.2} ms",
            rtt[0].as_secs_f64() * 1e3
        );

        ipfs2.shutdown().await;
        ipfs1.shutdown().await;
        Ok(())
    })
}
