//! `POST /api/v0/block/put` with any body, as a local client sends it, through the real RPC
//! router of a real node (in memory, no sockets): the answer is a 200 with the block's CID or a
//! 4xx, never a panic or a 5xx, and a stored block is the bytes that were sent.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use switchboard_node::{Node, profile};
use tower::ServiceExt;

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let node = runtime.block_on(async {
            Node::builder(profile::Daemon)
                .with_transports([])
                .with_mdns(false)
                .build()
                .await
                .expect("node")
        });
        let router = switchboard_daemon::api::router(node, Arc::new(tokio::sync::Notify::new()));
        Harness { runtime, router }
    })
}

fuzz_target!(|data: &[u8]| {
    // First byte picks the query, the rest is the body under a fixed boundary.
    let (query, body) = match data.split_first() {
        Some((q, body)) => (*q, body),
        None => (0, data),
    };
    let uri = match query % 4 {
        0 => "/api/v0/block/put",
        1 => "/api/v0/block/put?cid-codec=dag-cbor&mhtype=blake3",
        2 => "/api/v0/block/put?mhtype=identity",
        _ => "/api/v0/block/put?cid-codec=nonsense",
    };
    let request = Request::post(uri)
        .header("host", "127.0.0.1:5001")
        .header("content-type", "multipart/form-data; boundary=fuzz")
        .body(Body::from(body.to_vec()))
        .expect("request");
    let harness = harness();
    let status = harness.runtime.block_on(async {
        let response = harness
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        response.status()
    });
    assert!(
        status == StatusCode::OK || status.is_client_error(),
        "block/put answered {status}"
    );
});
