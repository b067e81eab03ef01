//! Bitswap-compatible block exchange for Switchboard, and the blockstore it serves from.
//!
//! A [`Block`] is bytes and the CID that names them, verified on construction: nothing
//! unverified is ever stored or handed out. [`Blockstore`] is where blocks live, in memory
//! ([`MemoryBlockstore`]) or on disk ([`RedbBlockstore`], crash-safe).
//!
//! # Example
//!
//! ```
//! use switchboard_exchange::{Block, Blockstore, Codec, Hash, MemoryBlockstore};
//!
//! let block = Block::encode(Codec::Raw, Hash::Sha2_256, &b"here is some data"[..])?;
//! assert_eq!(block.cid().to_string(), "bafkreihsllvadc62egx5hx4wubxqa34vfjzzn3lck35uut2x7njvulfjz4");
//!
//! let store = MemoryBlockstore::new();
//! store.put(&block)?;
//! assert_eq!(store.get(block.cid())?.as_ref(), Some(&block));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs, rustdoc::broken_intra_doc_links, unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod block;
mod blockstore;
mod config;
mod engine;
mod message;
mod proto;
mod protocol;

pub use block::{Block, BlockError, Codec, Hash, MAX_BLOCK_SIZE, check_cid};
pub use blockstore::{Blockstore, MemoryBlockstore, StoreError};
#[cfg(not(wasm_browser))]
pub use blockstore::{FlatBlockstore, RedbBlockstore};
pub use cid::Cid;
pub use config::Config;
pub use engine::{Action, Engine, Misbehaviour};
pub use message::{DecodeError, MAX_MESSAGE_SIZE, Message, Presence, Version, Want, WantType};
pub use protocol::{PROTOCOLS, ReadError, read_body, read_length, read_message, write_message};
