//! Switchboard's node: one place where transports, filters and protocols become a running
//! libp2p swarm.
//!
//! A [`Node`] is built from an environment [`Profile`] ([`profile::Daemon`] for a native
//! process; browser and relay profiles follow), optionally a [`Repo`] directory holding its
//! identity and `config.toml`, and whatever the caller overrides on the [`Builder`]. The node
//! speaks identify and ping, discovers peers on the local network with mDNS when asked to,
//! applies its filter [`Policy`](switchboard_filters::Policy) to dials, inbound connections and
//! advertised addresses, and exchanges blocks with Bitswap. The `switchboard` daemon, its RPC
//! API and command line are the `switchboard-daemon` crate, built on this one.
//!
//! This crate is the only one that builds a `Swarm`.
//!
//! # Example
//!
//! Two nodes in one process over the memory transport, connected by multiaddr:
//!
//! ```
//! use std::sync::Arc;
//! use switchboard_node::{Node, profile};
//! use switchboard_transport::Memory;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let memory = || Node::builder(profile::Daemon)
//!     .with_transports([Arc::new(Memory::new()) as Arc<_>])
//!     .with_mdns(false);
//! let a = memory().with_listen_addr("/memory/0".parse()?).build().await?;
//! let b = memory().build().await?;
//!
//! let addr = a.listen_addrs().await[0].clone().with_p2p(a.peer_id()).unwrap();
//! assert_eq!(b.connect(addr).await?, a.peer_id());
//! assert_eq!(b.peers().await[0].peer, a.peer_id());
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs, rustdoc::broken_intra_doc_links, unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod behaviour;
mod bitswap;
mod builder;
pub mod config;
mod error;
mod gate;
mod inbound;
#[cfg(wasm_browser)]
mod indexeddb;
mod node;
mod perf;
mod ping;
pub mod profile;
mod relay;
#[cfg(not(wasm_browser))]
mod repo;
mod resources;
mod rt;
mod runner;

pub use builder::Builder;
pub use config::{Config, InitProfile};
pub use error::{BuildError, Cause, DialError, ListenError, PingError};
pub use inbound::StreamUsage;
#[cfg(wasm_browser)]
pub use indexeddb::IndexedDbBlockstore;
pub use node::{
    BitswapStat, BlockError, Blocks, DEFAULT_GET_TIMEOUT, Direction, Event, Events, GetError,
    Identity, Node, PeerInfo, Resources,
};
pub use perf::{PerfError, PerfReport};
pub use ping::Pinger;
pub use profile::Profile;
pub use relay::RelayUsage;
#[cfg(not(wasm_browser))]
pub use repo::{Repo, RepoError};
pub use resources::{ConnectionUsage, Exceeded};
pub use switchboard_exchange as exchange;
pub use switchboard_filters as filters;
pub use switchboard_runtime as runtime;
pub use switchboard_transport as transport;
