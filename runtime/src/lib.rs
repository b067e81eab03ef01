//! The async runtime a Switchboard node is built with.
//!
//! rust-libp2p 0.57 runs on tokio only. Switchboard makes the runtime a value instead, in the
//! manner of quinn's `Runtime` trait: whatever spawns a task, sleeps, times out or runs
//! blocking work (a blockstore write) goes through a [`Handle`], and each transport picks the
//! socket provider for the runtime's [`Reactor`]. Four runtimes ship with the crate, each
//! behind a feature of the same name: [`Tokio`] (the default), [`Smol`], [`AsyncStd`]
//! (async-std 1.13, discontinued in favour of smol and still widely used; both run on the
//! async-io reactor), and [`Browser`], a web page's event loop, which needs no feature. A
//! runtime of your own implements [`Runtime`] on one of those reactors.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use switchboard_runtime::{Handle, Reactor, Tokio};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let rt = Handle::new(Tokio::current().expect("inside a tokio runtime"));
//! assert_eq!(rt.reactor(), Reactor::Tokio);
//! let sum = rt.blocking(|| (1..=10).sum::<u32>()).await;
//! assert_eq!(sum, Some(55));
//! assert!(rt.timeout(Duration::from_millis(5), std::future::pending::<()>()).await.is_err());
//! # }
//! ```
#![deny(missing_docs, rustdoc::broken_intra_doc_links, unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

#[cfg(all(feature = "async-std", not(wasm_browser)))]
mod async_std;
#[cfg(wasm_browser)]
mod browser;
#[cfg(all(feature = "smol", not(wasm_browser)))]
mod smol;
#[cfg(all(feature = "tokio", not(wasm_browser)))]
mod tokio;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use web_time::Instant;

#[cfg(all(feature = "async-std", not(wasm_browser)))]
pub use crate::async_std::AsyncStd;
#[cfg(wasm_browser)]
pub use crate::browser::Browser;
#[cfg(all(feature = "smol", not(wasm_browser)))]
pub use crate::smol::Smol;
#[cfg(all(feature = "tokio", not(wasm_browser)))]
pub use crate::tokio::Tokio;

/// A task to run in the background: `Send` natively, where runtimes move tasks between
/// threads; any future in a web page, which has one thread.
#[cfg(not(wasm_browser))]
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
/// A task to run in the background: `Send` natively, where runtimes move tasks between
/// threads; any future in a web page, which has one thread.
#[cfg(wasm_browser)]
pub type Task = Pin<Box<dyn Future<Output = ()> + 'static>>;

/// A timer that completes once its duration has passed. `Send` everywhere (a page's timers
/// are too), so tasks that sleep can move between threads natively.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What drives a runtime's sockets. Transports choose their socket provider by it: tokio's
/// own, async-io's (smol, async-std), or the browser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reactor {
    /// tokio's I/O driver.
    Tokio,
    /// async-io's reactor, under smol and async-std.
    AsyncIo,
    /// A web page: the browser owns the sockets.
    Browser,
}

impl fmt::Display for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reactor::Tokio => "tokio",
            Reactor::AsyncIo => "async-io",
            Reactor::Browser => "browser",
        })
    }
}

/// An async runtime: where tasks, timers and blocking work run, and which reactor drives the
/// sockets. Implementations are cheap handles onto a runtime that outlives them.
pub trait Runtime: fmt::Debug + Send + Sync + 'static {
    /// The runtime's name, as errors and logs show it (`tokio`, `smol`, `async-std`, `browser`).
    fn name(&self) -> &'static str;

    /// Runs `task` to completion in the background; it is not cancelled when nobody waits.
    fn spawn(&self, task: Task);

    /// Runs `work`, which may block on I/O, where it cannot stall the async threads.
    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>);

    /// A timer that completes `duration` after this call (not after its first poll: stored
    /// timers, such as a dial's deadline, count from when they were made).
    fn sleep(&self, duration: Duration) -> Sleep;

    /// What drives this runtime's sockets.
    fn reactor(&self) -> Reactor;
}

/// A [`timeout`](Handle::timeout) ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for Elapsed {}

/// A shared, cheaply cloned handle onto a [`Runtime`], with the conveniences built on it.
#[derive(Debug, Clone)]
pub struct Handle(Arc<dyn Runtime>);

impl Handle {
    /// A handle onto `runtime`.
    pub fn new(runtime: impl Runtime) -> Self {
        Self(Arc::new(runtime))
    }

    /// The runtime a node uses when it is given none: the page's event loop in a web page,
    /// natively tokio when called inside a tokio runtime (and built with the `tokio` feature);
    /// `None` otherwise.
    pub fn default_here() -> Option<Self> {
        #[cfg(wasm_browser)]
        return Some(Self::new(Browser));
        #[cfg(all(feature = "tokio", not(wasm_browser)))]
        return Tokio::current().map(Self::new);
        #[cfg(not(any(wasm_browser, feature = "tokio")))]
        return None;
    }

    /// The runtime's name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// What drives the runtime's sockets.
    pub fn reactor(&self) -> Reactor {
        self.0.reactor()
    }

    /// Runs `future` to completion in the background.
    #[cfg(not(wasm_browser))]
    pub fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        self.0.spawn(Box::pin(future));
    }

    /// Runs `future` to completion in the background.
    #[cfg(wasm_browser)]
    pub fn spawn(&self, future: impl Future<Output = ()> + 'static) {
        self.0.spawn(Box::pin(future));
    }

    /// Runs `f`, which may block, off the async threads; `None` if it panicked.
    #[cfg(not(wasm_browser))]
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = futures::channel::oneshot::channel();
        self.0.spawn_blocking(Box::new(move || {
            let _ = tx.send(f());
        }));
        rx.await.ok()
    }

    /// Runs `f` at once: a page has one thread, and its stores never block it.
    #[cfg(wasm_browser)]
    pub async fn blocking<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> Option<T> {
        Some(f())
    }

    /// A timer that completes after `duration`.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        self.0.sleep(duration)
    }

    /// Waits until `at`.
    pub async fn sleep_until(&self, at: Instant) {
        self.sleep(at.saturating_duration_since(Instant::now()))
            .await;
    }

    /// `future`'s output, or [`Elapsed`] if it takes longer than `duration`.
    pub async fn timeout<F: Future>(
        &self,
        duration: Duration,
        future: F,
    ) -> Result<F::Output, Elapsed> {
        use futures::future::{Either, select};
        match select(std::pin::pin!(future), self.sleep(duration)).await {
            Either::Left((output, _)) => Ok(output),
            Either::Right(((), _)) => Err(Elapsed),
        }
    }
}

#[cfg(test)]
mod tests;
