//! Blocks between in-process nodes over real loopback connections: Bitswap end to end.

use std::time::Duration;

use switchboard_node::exchange::{Block, Cid, Codec, Hash};
use switchboard_node::{GetError, Node, profile};

use crate::support::transport_of;

async fn node() -> Node {
    Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addr("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .build()
        .await
        .expect("node")
}

async fn connect(from: &Node, to: &Node) {
    let addr = to
        .listen_addrs()
        .await
        .into_iter()
        .find(|a| transport_of(a) == "tcp")
        .expect("tcp");
    from.connect(addr.with_p2p(to.peer_id()).expect("p2p"))
        .await
        .expect("connect");
}

/// The seed's scenario: `ipfs1.block.put('here is some data')`, `ipfs2.block.get(cid)`.
#[tokio::test]
async fn put_on_one_node_get_on_the_other() {
    let (ipfs1, ipfs2) = (node().await, node().await);
    connect(&ipfs2, &ipfs1).await;
    let cid = ipfs1
        .block()
        .put(&b"here is some data"[..])
        .await
        .expect("put");
    assert_eq!(
        cid.to_string(),
        "bafkreihsllvadc62egx5hx4wubxqa34vfjzzn3lck35uut2x7njvulfjz4"
    );
    let block = ipfs2
        .block()
        .get_with_timeout(&cid, Duration::from_secs(20))
        .await
        .expect("get");
    assert_eq!(block.data().as_ref(), b"here is some data");
    assert_eq!(
        ipfs2.block().stat(&cid).await.expect("stat"),
        Some(17),
        "fetched blocks are kept"
    );
}

#[tokio::test]
async fn a_block_nobody_has_times_out() {
    let (a, b) = (node().await, node().await);
    connect(&b, &a).await;
    let missing = *Block::encode(Codec::Raw, Hash::Sha2_256, &b"nobody has this"[..])
        .expect("block")
        .cid();
    let err = b
        .block()
        .get_with_timeout(&missing, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        GetError::Timeout {
            cid: missing,
            after: Duration::from_millis(500)
        }
    );
}

#[tokio::test]
async fn unsupported_cids_are_refused_before_asking() {
    let a = node().await;
    let git: Cid = "baf4bcfgio7rhnatlrjxmtcmipawqiqyqrrd2hhq"
        .parse()
        .expect("git-raw cid");
    assert!(matches!(
        a.block().get(&git).await,
        Err(GetError::Unsupported(_))
    ));
}

/// 64 blocks of 256 KiB, both providers holding all of them, fetched at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_blocks_from_two_providers() {
    let (a, c, b) = (node().await, node().await, node().await);
    connect(&b, &a).await;
    connect(&b, &c).await;
    let mut cids = Vec::new();
    for i in 0..64u64 {
        let mut data = vec![0u8; 256 * 1024];
        data[..8].copy_from_slice(&i.to_le_bytes());
        let block = Block::encode(Codec::Raw, Hash::Sha2_256, data).expect("block");
        a.block().put_block(block.clone()).await.expect("put");
        c.block().put_block(block.clone()).await.expect("put");
        cids.push(*block.cid());
    }
    let blocks_of_b = b.block();
    let gets = cids
        .iter()
        .map(|cid| blocks_of_b.get_with_timeout(cid, Duration::from_secs(60)));
    let blocks = futures::future::join_all(gets).await;
    for (cid, block) in cids.iter().zip(blocks) {
        assert_eq!(block.expect("fetched").cid(), cid);
    }
}
