use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

/// What every runtime must do: run a spawned task, run blocking work off the async threads
/// and report a panic in it as `None`, sleep, and time out.
async fn behaves(rt: Handle) {
    let (tx, rx) = futures::channel::oneshot::channel();
    rt.spawn(async move {
        let _ = tx.send(7);
    });
    assert_eq!(rx.await, Ok(7), "{} runs spawned tasks", rt.name());

    assert_eq!(rt.blocking(|| 2 + 2).await, Some(4));
    let panicked = rt.blocking(|| -> u32 { panic!("on purpose") }).await;
    assert_eq!(
        panicked,
        None,
        "{}: a panic in blocking work is None",
        rt.name()
    );

    let start = Instant::now();
    rt.sleep(Duration::from_millis(20)).await;
    assert!(
        start.elapsed() >= Duration::from_millis(20),
        "{} sleeps",
        rt.name()
    );

    // A timer counts from when it is made: one made before a 40 ms wait on another timer is
    // due by the time it is first polled.
    let made_first = rt.sleep(Duration::from_millis(30));
    rt.sleep(Duration::from_millis(40)).await;
    assert!(
        futures::FutureExt::now_or_never(made_first).is_some(),
        "{}: a timer's time runs from its creation",
        rt.name()
    );

    assert_eq!(rt.timeout(Duration::from_secs(5), async { 1 }).await, Ok(1));
    assert_eq!(
        rt.timeout(Duration::from_millis(10), std::future::pending::<()>())
            .await,
        Err(Elapsed)
    );

    let count = Arc::new(AtomicU32::new(0));
    let (done_tx, mut done_rx) = futures::channel::mpsc::channel(16);
    for _ in 0..16 {
        let (count, mut done) = (count.clone(), done_tx.clone());
        rt.spawn(async move {
            count.fetch_add(1, Ordering::Relaxed);
            let _ = futures::SinkExt::send(&mut done, ()).await;
        });
    }
    for _ in 0..16 {
        futures::StreamExt::next(&mut done_rx).await;
    }
    assert_eq!(count.load(Ordering::Relaxed), 16);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_behaves() {
    let runtime = ::tokio::runtime::Runtime::new().expect("runtime");
    // Driven from outside: the handle, not the calling thread, names the runtime.
    let rt = Handle::new(Tokio::from_handle(runtime.handle().clone()));
    assert_eq!(rt.reactor(), Reactor::Tokio);
    futures::executor::block_on(behaves(rt));
}

#[cfg(feature = "smol")]
#[test]
fn smol_behaves() {
    let rt = Handle::new(Smol::new());
    assert_eq!(rt.reactor(), Reactor::AsyncIo);
    ::smol::block_on(behaves(rt));
}

#[cfg(feature = "smol")]
#[test]
fn smol_with_an_executor_of_ours_behaves() {
    let executor = Arc::new(::smol::Executor::new());
    let rt = Handle::new(Smol::with_executor(executor.clone()));
    ::smol::block_on(executor.run(behaves(rt)));
}

#[cfg(feature = "async-std")]
#[test]
fn async_std_behaves() {
    let rt = Handle::new(AsyncStd);
    assert_eq!(rt.reactor(), Reactor::AsyncIo);
    ::async_std::task::block_on(behaves(rt));
}
