//! The node in a web page, in headless Chromium: `cargo xtask browser` starts a daemon, puts
//! [`DAEMON_BLOCK`] on it, has it wait in the background for the blocks [`browser_block`]
//! makes, then runs these tests with the daemon's addresses in `SWITCHBOARD_BROWSER_WS`,
//! `SWITCHBOARD_BROWSER_WSS` and `SWITCHBOARD_BROWSER_WEBRTC_DIRECT` (all inside a network
//! namespace, where Chromium has the default route it needs to gather ICE candidates).
#![cfg(wasm_browser)]

use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;
use switchboard_node::exchange::{Block, Codec, Hash};
use switchboard_node::transport::{Filter, Transport, Unsupported, WebSocket};
use switchboard_node::{DialError, Node, profile};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// What the xtask puts on the daemon.
const DAEMON_BLOCK: &[u8] = b"served by the switchboard daemon";
/// Blocks of [`BULK_BLOCK_SIZE`] the xtask puts on the daemon too: more than one WebRTC message
/// (16 KiB) holds, and more than js-libp2p lets wait unread on a stream (4 MiB).
const BULK_BLOCKS: u64 = 24;
const BULK_BLOCK_SIZE: usize = 256 * 1024;
/// How long a fetch may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

fn daemon_addr(var: &str, value: Option<&str>) -> Multiaddr {
    value
        .unwrap_or_else(|| panic!("{var} is not set: run these tests with `cargo xtask browser`"))
        .parse()
        .expect("a multiaddr")
}

fn ws() -> Multiaddr {
    daemon_addr(
        "SWITCHBOARD_BROWSER_WS",
        option_env!("SWITCHBOARD_BROWSER_WS"),
    )
}

fn wss() -> Multiaddr {
    daemon_addr(
        "SWITCHBOARD_BROWSER_WSS",
        option_env!("SWITCHBOARD_BROWSER_WSS"),
    )
}

/// What the page puts over `transport`, and the daemon fetches (the xtask knows the text too).
fn browser_block(transport: &str) -> Block {
    raw(format!("put by the switchboard browser node over {transport}").as_bytes())
}

fn webrtc_direct() -> Multiaddr {
    daemon_addr(
        "SWITCHBOARD_BROWSER_WEBRTC_DIRECT",
        option_env!("SWITCHBOARD_BROWSER_WEBRTC_DIRECT"),
    )
}

/// Bulk block `i`: its index (little-endian), then zeros; the xtask makes the same.
fn bulk_block(i: u64) -> Block {
    let mut data = vec![0; BULK_BLOCK_SIZE];
    data[..8].copy_from_slice(&i.to_le_bytes());
    raw(&data)
}

fn raw(data: &[u8]) -> Block {
    Block::encode(Codec::Raw, Hash::Sha2_256, data.to_vec()).expect("block")
}

async fn browser_node(filter: Option<Filter>) -> Node {
    let mut builder = Node::builder(profile::Browser);
    if let Some(filter) = filter {
        let websocket: Arc<dyn Transport> = Arc::new(WebSocket::new().with_filter(filter));
        builder = builder.with_transport(websocket);
    }
    builder.build().await.expect("a browser node")
}

/// Connects, fetches the daemon's block and its bulk blocks (all at once), puts one and waits
/// until the daemon has fetched it.
async fn exchange_blocks_with(node: &Node, addr: Multiaddr, transport: &str) {
    node.connect(addr).await.expect("connect");
    let wanted = raw(DAEMON_BLOCK);
    let block = node
        .block()
        .get_with_timeout(wanted.cid(), DEADLINE)
        .await
        .expect("the daemon's block");
    assert_eq!(block, wanted);

    let bulk: Vec<Block> = (0..BULK_BLOCKS).map(bulk_block).collect();
    let blocks = node.block();
    let fetched = futures::future::join_all(
        bulk.iter()
            .map(|block| blocks.get_with_timeout(block.cid(), DEADLINE)),
    )
    .await;
    for (got, wanted) in fetched.into_iter().zip(&bulk) {
        assert_eq!(got.expect("a bulk block"), *wanted);
    }

    node.block()
        .put_block(browser_block(transport))
        .await
        .expect("put");
    // The daemon asked for this block before the page existed; the page serves it as soon as
    // it has it. Poll the exchange's counters until the block is written to the daemon.
    let started = web_time::Instant::now();
    loop {
        let stat = node.block().bitswap_stat().await.expect("stat");
        if stat.blocks_sent >= 1 {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the daemon never got the block: {stat:?}"
        );
        futures_timer::Delay::new(Duration::from_millis(20)).await;
    }
}

#[wasm_bindgen_test]
async fn ws_is_refused_by_the_default_browser_filter() {
    let node = browser_node(None).await;
    let err = node
        .connect(ws())
        .await
        .expect_err("insecure ws to 127.0.0.1");
    assert!(
        matches!(
            &err,
            DialError::Unsupported(Unsupported::Filtered { filter, .. }) if *filter == Filter::dns_wss()
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`dns-wss`"), "{err}");
}

#[wasm_bindgen_test]
async fn blocks_go_both_ways_over_ws_with_the_all_filter() {
    let node = browser_node(Some(Filter::all())).await;
    exchange_blocks_with(&node, ws(), "ws").await;
}

#[wasm_bindgen_test]
async fn blocks_go_both_ways_over_webrtc_direct() {
    let node = browser_node(None).await;
    exchange_blocks_with(&node, webrtc_direct(), "webrtc-direct").await;
}

#[wasm_bindgen_test]
async fn blocks_go_both_ways_over_wss() {
    let node = browser_node(Some(Filter::wss())).await;
    exchange_blocks_with(&node, wss(), "wss").await;
}

/// Blocks put through an IndexedDB store are there when the store is opened again (as after a
/// page reload), and a removal is too.
#[wasm_bindgen_test]
async fn indexeddb_keeps_blocks_across_opens() {
    use switchboard_node::IndexedDbBlockstore;
    use switchboard_node::exchange::Blockstore;

    let name = format!("switchboard-test-{}", js_sys::Math::random());
    let (kept, removed) = (raw(b"kept across opens"), raw(b"removed before reopening"));
    {
        let store = IndexedDbBlockstore::open(&name).await.expect("open");
        store.put(&kept).expect("put");
        store.put(&removed).expect("put");
        assert!(store.remove(removed.cid()).expect("remove"));
        store.flush().await;
    }
    let store = IndexedDbBlockstore::open(&name).await.expect("reopen");
    assert_eq!(store.get(kept.cid()).expect("get"), Some(kept));
    assert_eq!(store.get(removed.cid()).expect("get"), None);

    // A node uses it like any blockstore.
    let node = Node::builder(profile::Browser)
        .with_blockstore(Arc::new(store))
        .build()
        .await
        .expect("node");
    assert_eq!(
        node.block()
            .stat(raw(b"kept across opens").cid())
            .await
            .expect("stat"),
        Some(17)
    );
}
