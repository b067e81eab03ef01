//! The `switchboard` daemon's RPC API: a Kubo-compatible HTTP server for a running
//! [`Node`](switchboard_node::Node) and the blocking client the command line drives it with.
//! The binary itself (`switchboard`, shaped like Kubo's `ipfs`) is this crate's `main.rs`.
#![deny(missing_docs, rustdoc::broken_intra_doc_links, unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod api;
