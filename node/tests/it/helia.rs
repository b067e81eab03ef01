//! Interop with Helia (js-libp2p, @helia/bitswap from npm) as a real third-party peer on
//! loopback: blocks in both directions over TCP and ws, and many blocks from two providers.
//!
//! The Helia peer is `interop/helia/peer.mjs` on the Node 22 that `interop/helia`'s lockfile
//! installs (`cargo xtask ci` runs `npm ci` there).

use std::time::Duration;

use switchboard_node::exchange::{Block, Cid, Codec, Hash};
use switchboard_node::{Node, profile};

use switchboard_testkit::addr_of;
use switchboard_testkit::helia::Helia;

async fn node() -> Node {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addrs([
            "/ip4/127.0.0.1/tcp/0".parse().expect("addr"),
            "/ip4/127.0.0.1/tcp/0/ws".parse().expect("addr"),
        ])
        .build()
        .await
        .expect("node")
}

/// Runs blocking Helia calls off the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helia_fetches_from_switchboard() {
    for transport in ["tcp", "ws"] {
        let ours = node().await;
        let cid = ours
            .block()
            .put(format!("from switchboard over {transport}").into_bytes())
            .await
            .expect("put");
        let addr = addr_of(&ours, transport).await;
        let data = blocking(move || {
            let mut helia = Helia::start().expect("Helia starts");
            helia.dial(&addr).expect("Helia dials");
            helia.get(&cid.to_string())
        })
        .await;
        assert_eq!(
            data.expect("Helia gets the block"),
            format!("from switchboard over {transport}").into_bytes()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchboard_fetches_from_helia() {
    for transport in ["tcp", "ws"] {
        let (mut helia, cid) = blocking(move || {
            let mut helia = Helia::start().expect("Helia starts");
            let cid: Cid = helia
                .put(format!("from helia over {transport}").as_bytes())
                .expect("put")
                .parse()
                .expect("a CID");
            (helia, cid)
        })
        .await;
        let ours = node().await;
        let addr = helia.addr(transport).expect("Helia listens on it");
        let addr = addr
            .with_p2p(helia.peer_id.parse().expect("peer id"))
            .expect("no /p2p");
        let peer = ours.connect(addr).await.expect("connect to Helia");
        assert_eq!(peer.to_string(), helia.peer_id);
        let block = ours
            .block()
            .get_with_timeout(&cid, Duration::from_secs(30))
            .await
            .expect("get from Helia");
        assert_eq!(
            block.data().as_ref(),
            format!("from helia over {transport}").as_bytes()
        );
        blocking(move || drop(helia.get(&cid.to_string()))).await;
    }
}

/// 64 blocks of 256 KiB: Switchboard fetches them from two Helia providers at once, and Helia
/// fetches them all from Switchboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_blocks_both_ways() {
    switchboard_testkit::init_tracing();
    let datas: Vec<Vec<u8>> = (0..64u64)
        .map(|i| {
            let mut data = vec![0u8; 256 * 1024];
            data[..8].copy_from_slice(&i.to_le_bytes());
            data
        })
        .collect();
    let cids: Vec<Cid> = datas
        .iter()
        .map(|d| {
            *Block::encode(Codec::Raw, Hash::Sha2_256, d.clone())
                .expect("block")
                .cid()
        })
        .collect();
    let providers = blocking({
        let datas = datas.clone();
        move || {
            let mut providers = [Helia::start(), Helia::start()].map(|h| h.expect("Helia starts"));
            for helia in &mut providers {
                for data in &datas {
                    helia.put(data).expect("put");
                }
            }
            providers
        }
    })
    .await;
    let ours = node().await;
    for helia in &providers {
        ours.connect(helia.addr("tcp").expect("Helia listens on tcp"))
            .await
            .expect("connect to Helia");
    }
    let blocks_of_ours = ours.block();
    let gets = cids
        .iter()
        .map(|cid| blocks_of_ours.get_with_timeout(cid, Duration::from_secs(60)));
    let results = futures::future::join_all(gets).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    for (block, data) in results.into_iter().zip(&datas) {
        assert_eq!(
            block
                .unwrap_or_else(|e| panic!("{ok} of 64 fetched; {e}"))
                .data()
                .as_ref(),
            data.as_slice()
        );
    }
    drop(providers);

    // And back: a fresh Helia fetches every block from Switchboard.
    let addr = addr_of(&ours, "tcp").await;
    let fetched = blocking(move || {
        let mut helia = Helia::start().expect("Helia starts");
        helia.dial(&addr).expect("Helia dials");
        cids.iter()
            .map(|cid| helia.get(&cid.to_string()))
            .collect::<Vec<_>>()
    })
    .await;
    for (data, expected) in fetched.into_iter().zip(&datas) {
        assert_eq!(&data.expect("Helia fetched it"), expected);
    }
}
