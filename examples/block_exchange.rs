//! The seed's block exchange: two nodes on their own repos, `block.put` on one, `block.get`
//! on the other, which fetches it over Bitswap.
//!
//! ```js
//! const cid = await ipfs1.block.put(new TextEncoder().encode('here is some data'))
//! await ipfs2.swarm.connect(ipfs1Address)
//! const block = await ipfs2.block.get(cid)
//! ```
//!
//! Run with `cargo run -p switchboard-examples --example block_exchange [-- --runtime smol]`.
//! With `--from ADDR --cid CID` it is one node instead, which dials ADDR (a running
//! `switchboard daemon`, say) and fetches CID from it: the matrix runs it that way against the
//! daemon, on each runtime. Nodes listen on 127.0.0.1 only, with mDNS off.

use libp2p::Multiaddr;
use switchboard_node::exchange::Cid;
use switchboard_node::{InitProfile, Node, Repo, profile};

/// The value after `flag` among the arguments.
fn arg(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let from: Option<Multiaddr> = arg("--from").map(|a| a.parse()).transpose()?;
    let cid: Option<Cid> = arg("--cid").map(|c| c.parse()).transpose()?;
    switchboard_examples::run(|on, _| async move {
        let dir = tempfile::tempdir()?;
        let node = |name: &'static str| {
            let repo = Repo::init(dir.path().join(name), InitProfile::Test);
            async move {
                let builder = Node::builder(profile::Daemon).with_repo(&repo?)?;
                anyhow::Ok(on.configure(builder).build().await?)
            }
        };
        if let (Some(from), Some(cid)) = (from, cid) {
            let ipfs = node("ipfs").await?;
            let started = std::time::Instant::now();
            let peer = ipfs.connect(from).await?;
            let connected = started.elapsed();
            let block = ipfs.block().get(&cid).await?;
            let fetched = started.elapsed() - connected;
            println!(
                "fetched {cid} from {peer}: {} bytes: {}",
                block.data().len(),
                String::from_utf8_lossy(block.data())
            );
            println!("connect: {:.2} ms", connected.as_secs_f64() * 1e3);
            println!("fetch: {:.2} ms", fetched.as_secs_f64() * 1e3);
            ipfs.shutdown().await;
            return Ok(());
        }

        let ipfs1 = node("ipfs1").await?;
        let ipfs2 = node("ipfs2").await?;
        // `ipfs1.block.put(data)`.
        let cid = ipfs1.block().put(&b"here is some data"[..]).await?;
        println!("ipfs1 stored {cid}");
        // `ipfs2.swarm.connect(ipfs1's address)`, then `ipfs2.block.get(cid)`.
        let addr = ipfs1.listen_addrs().await[0]
            .clone()
            .with_p2p(ipfs1.peer_id())
            .map_err(|a| anyhow::anyhow!("{a} already names a peer"))?;
        ipfs2.connect(addr.clone()).await?;
        let block = ipfs2.block().get(&cid).await?;
        anyhow::ensure!(
            &block.data()[..] == b"here is some data",
            "the block changed on the way"
        );
        println!(
            "ipfs2 fetched it from {addr}: {}",
            String::from_utf8_lossy(block.data())
        );
        ipfs2.shutdown().await;
        ipfs1.shutdown().await;
        Ok(())
    })
}
