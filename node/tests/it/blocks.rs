//! Blocks between in-process nodes over real loopback connections: Bitswap end to end.

use std::time::Duration;

use switchboard_node::exchange::{Block, Cid, Codec, Hash};
use switchboard_node::{GetError, Node};

use switchboard_testkit::{DEADLINE, addr_of, tcp_node};

async fn connect(from: &Node, to: &Node) {
    from.connect(addr_of(to, "tcp").await)
        .await
        .expect("connect");
}

/// The seed's scenario: `ipfs1.block.put('here is some data')`, `ipfs2.block.get(cid)`.
#[tokio::test]
async fn put_on_one_node_get_on_the_other() {
    let (ipfs1, ipfs2) = (tcp_node().await, tcp_node().await);
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
    let fetched = ipfs2.block().bitswap_stat().await.expect("stat");
    assert_eq!((fetched.blocks_received, fetched.data_received), (1, 17));
    assert_eq!(fetched.peers, vec![ipfs1.peer_id()]);
    assert!(fetched.wantlist.is_empty());
    // The provider counts the block once its writer reports the message written, which
    // may come just after the fetcher has it: poll, within the deadline.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let served = ipfs1.block().bitswap_stat().await.expect("stat");
        if (served.blocks_sent, served.data_sent) == (1, 17) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{served:?}");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_block_nobody_has_times_out() {
    let (a, b) = (tcp_node().await, tcp_node().await);
    connect(&b, &a).await;
    let missing = *Block::encode(Codec::Raw, Hash::Sha2_256, &b"nobody has this"[..])
        .expect("block")
        .cid();
    let err = b
        .block()
        .get_with_timeout(&missing, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GetError::Timeout { cid, after } if cid == missing && after == Duration::from_millis(500)),
        "{err:?}"
    );
}

/// A get whose caller goes away (a dropped future, a closed RPC connection) takes its want
/// with it: nothing keeps asking peers for a block nobody waits for.
#[tokio::test]
async fn an_abandoned_get_leaves_no_want() {
    let (a, b) = (tcp_node().await, tcp_node().await);
    connect(&b, &a).await;
    let missing = *Block::encode(Codec::Raw, Hash::Sha2_256, &b"nobody waits for this"[..])
        .expect("block")
        .cid();
    let getter = {
        let b = b.clone();
        tokio::spawn(async move {
            b.block()
                .get_with_timeout(&missing, Duration::from_secs(3600))
                .await
        })
    };
    let wanted = |b: Node| async move {
        b.block()
            .bitswap_stat()
            .await
            .expect("stat")
            .wantlist
            .contains(&missing)
    };
    let start = tokio::time::Instant::now();
    while !wanted(b.clone()).await {
        assert!(start.elapsed() < DEADLINE, "the get never wanted the block");
        tokio::task::yield_now().await;
    }
    getter.abort();
    while wanted(b.clone()).await {
        assert!(start.elapsed() < DEADLINE, "the abandoned want stayed");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn unsupported_cids_are_refused_before_asking() {
    let a = tcp_node().await;
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
    let (a, c, b) = (tcp_node().await, tcp_node().await, tcp_node().await);
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
