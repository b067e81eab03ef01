//! smol: tasks on an executor (smol's global one unless given another), blocking work on the
//! `blocking` crate's thread pool, timers and sockets on async-io.

use std::sync::Arc;
use std::time::Duration;

use crate::{Reactor, Runtime, Sleep, Task};

/// smol, on its global executor or on one of the caller's.
#[derive(Debug, Clone, Default)]
pub struct Smol {
    executor: Option<Arc<::smol::Executor<'static>>>,
}

impl Smol {
    /// smol's global executor (`smol::spawn`), which runs on threads of its own: one unless the
    /// `SMOL_THREADS` environment variable asks for more. A node that should use every core
    /// wants more ([`Smol::with_executor`] with threads of yours, or `SMOL_THREADS`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Tasks run on `executor`; the caller drives it (e.g. `smol::block_on(executor.run(…))`).
    pub fn with_executor(executor: Arc<::smol::Executor<'static>>) -> Self {
        Self {
            executor: Some(executor),
        }
    }
}

impl Runtime for Smol {
    fn name(&self) -> &'static str {
        "smol"
    }

    fn spawn(&self, task: Task) {
        // A smol task is cancelled when dropped: detach it.
        match &self.executor {
            Some(executor) => executor.spawn(task).detach(),
            None => ::smol::spawn(task).detach(),
        }
    }

    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        ::smol::unblock(work).detach();
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        // Created now, so the time runs from the call, not from the first poll.
        Box::pin(futures::FutureExt::map(
            ::smol::Timer::after(duration),
            drop,
        ))
    }

    fn reactor(&self) -> Reactor {
        Reactor::AsyncIo
    }
}
