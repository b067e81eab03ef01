//! Switchboard for web pages: the browser [`Node`](switchboard_node::Node) behind a JavaScript
//! API, made with wasm-bindgen, so a page uses Switchboard without writing Rust.
//!
//! ```js
//! import init, { create } from './pkg/switchboard_js.js';
//! await init();
//! const node = await create({ websocketFilter: 'all', persist: 'my-app' }); // blocks in IndexedDB
//! node.onEvent((e) => console.log(e.type, e.peer));       // connected, disconnected, identified
//! await node.dial('/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooW…');
//! const cid = await node.block.put(new TextEncoder().encode('here is some data'));
//! const bytes = await node.block.get(cid, 30000);          // Uint8Array, timeout in ms
//! ```
//!
//! Built for `wasm32-unknown-unknown` only (`cargo xtask browser` builds it and the demo page
//! in `examples/browser/`); natively this crate is empty.
#![cfg(wasm_browser)]

mod api;

pub use api::{BlockApi, SwitchboardNode, create};
