//! The seed document's scenarios as short programs; see this crate's `examples/`:
//! `direct_dial` (two daemons, one dials the other by multiaddr), `discover_localhost` (two
//! daemons find each other with mDNS), `block_exchange` (`block put` on one node,
//! `block get` on the other) and `through_a_relay` (a node that listens nowhere reached
//! through a circuit relay, then directly over `/webrtc`).
//!
//! Each runs on tokio, smol or async-std, chosen with `--runtime` (tokio by default):
//! `cargo run -p switchboard-examples --example block_exchange -- --runtime smol`. This crate
//! holds what they share: picking the runtime, running the example on it, and building nodes
//! for it.

use std::future::Future;

use switchboard_node::runtime::{AsyncStd, Handle, Smol, Tokio};
use switchboard_node::transport::Kind;
use switchboard_node::{Builder, Node, Profile};

/// The runtime an example runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// tokio, multi-threaded.
    Tokio,
    /// smol, on its global executor.
    Smol,
    /// async-std.
    AsyncStd,
}

impl Choice {
    /// The runtime named by `--runtime NAME` (or `--runtime=NAME`) among the program's
    /// arguments; tokio without one.
    pub fn from_args() -> anyhow::Result<Self> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut name = None;
        for (i, arg) in args.iter().enumerate() {
            if let Some(value) = arg.strip_prefix("--runtime=") {
                name = Some(value.to_owned());
            } else if arg == "--runtime" {
                name = Some(
                    args.get(i + 1)
                        .cloned()
                        .ok_or_else(|| anyhow::anyhow!("--runtime needs a value"))?,
                );
            }
        }
        match name.as_deref() {
            None | Some("tokio") => Ok(Choice::Tokio),
            Some("smol") => Ok(Choice::Smol),
            Some("async-std") => Ok(Choice::AsyncStd),
            Some(other) => {
                anyhow::bail!("unknown runtime `{other}`: tokio, smol or async-std")
            }
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Choice::Tokio => "tokio",
            Choice::Smol => "smol",
            Choice::AsyncStd => "async-std",
        }
    }

    /// Runs `example` to completion on this runtime, with a handle onto it.
    pub fn run<F, Fut>(self, example: F) -> anyhow::Result<()>
    where
        F: FnOnce(Handle) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        match self {
            Choice::Tokio => {
                let runtime = tokio::runtime::Runtime::new()?;
                let handle = Handle::new(Tokio::from_handle(runtime.handle().clone()));
                runtime.block_on(example(handle))
            }
            Choice::Smol => smol::block_on(example(Handle::new(Smol::new()))),
            Choice::AsyncStd => async_std::task::block_on(example(Handle::new(AsyncStd))),
        }
    }

    /// A node builder for `profile` on this runtime. On smol and async-std, WebRTC-direct,
    /// which needs tokio, is left out with the addresses only it listens on.
    pub fn builder(self, profile: impl Profile) -> Builder {
        self.configure(Node::builder(profile))
    }

    /// `builder` on this runtime, as [`Choice::builder`] describes; call it after `with_repo`,
    /// which sets transports and listen addresses.
    pub fn configure(self, builder: Builder) -> Builder {
        let builder = match self {
            Choice::Tokio => return builder,
            Choice::Smol => builder.with_runtime(Smol::new()),
            Choice::AsyncStd => builder.with_runtime(AsyncStd),
        };
        builder.without_transport(Kind::WebRtcDirect)
    }
}

/// Parses the runtime from the arguments and runs `example` on it.
pub fn run<F, Fut>(example: F) -> anyhow::Result<()>
where
    F: FnOnce(Choice, Handle) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let choice = Choice::from_args()?;
    println!("on {}", choice.name());
    choice.run(|handle| example(choice, handle))
}
