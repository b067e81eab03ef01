//! The async runtime under a node: tokio in a native process, the page's event loop
//! (wasm-bindgen futures) in a web page. Everything the node spawns, sleeps on or runs off the
//! async threads goes through here, so no other module names a runtime.

use std::future::Future;
use std::time::Duration;

pub(crate) use web_time::Instant;

/// A [`timeout`] ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

/// Runs `future` to completion in the background.
#[cfg(not(wasm_browser))]
pub(crate) fn spawn(future: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(future);
}

/// Runs `future` to completion in the background.
#[cfg(wasm_browser)]
pub(crate) fn spawn(future: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(future);
}

/// Runs `f`, which may block (blockstore I/O), off the async threads; `None` if it panicked.
#[cfg(not(wasm_browser))]
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// Runs `f` at once: a page has one thread, and its stores never block it.
#[cfg(wasm_browser)]
pub(crate) async fn blocking<T: 'static>(f: impl FnOnce() -> T + 'static) -> Option<T> {
    Some(f())
}

/// Waits for `duration`.
pub(crate) async fn sleep(duration: Duration) {
    #[cfg(not(wasm_browser))]
    tokio::time::sleep(duration).await;
    #[cfg(wasm_browser)]
    futures_timer::Delay::new(duration).await;
}

/// Waits until `at`.
pub(crate) async fn sleep_until(at: Instant) {
    sleep(at.saturating_duration_since(Instant::now())).await;
}

/// `future`'s output, or [`Elapsed`] if it takes longer than `duration`.
pub(crate) async fn timeout<F: Future>(
    duration: Duration,
    future: F,
) -> Result<F::Output, Elapsed> {
    #[cfg(not(wasm_browser))]
    return tokio::time::timeout(duration, future)
        .await
        .map_err(|_| Elapsed);
    #[cfg(wasm_browser)]
    {
        use futures::future::{Either, select};
        let future = std::pin::pin!(future);
        match select(future, std::pin::pin!(sleep(duration))).await {
            Either::Left((output, _)) => Ok(output),
            Either::Right(((), _)) => Err(Elapsed),
        }
    }
}
