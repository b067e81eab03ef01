//! async-std 1.13: tasks on its executor, blocking work on its blocking pool, timers and
//! sockets on async-io (the reactor it shares with smol).

use std::time::Duration;

use crate::{Reactor, Runtime, Sleep, Task};

/// async-std's global runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    fn name(&self) -> &'static str {
        "async-std"
    }

    fn spawn(&self, task: Task) {
        // Dropping the join handle detaches the task.
        drop(::async_std::task::spawn(task));
    }

    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        drop(::async_std::task::spawn_blocking(work));
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        // async-std's `sleep` starts at its first poll; async-io's timer (the one under it)
        // starts now, as the trait asks.
        Box::pin(futures::FutureExt::map(
            ::async_io::Timer::after(duration),
            drop,
        ))
    }

    fn reactor(&self) -> Reactor {
        Reactor::AsyncIo
    }
}
