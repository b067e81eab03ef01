//! tokio: tasks on its scheduler, blocking work on its blocking pool, its timers and reactor.

use std::time::Duration;

use crate::{Reactor, Runtime, Sleep, Task};

/// A tokio runtime, by its handle (so a node can be driven from threads outside it).
#[derive(Debug, Clone)]
pub struct Tokio {
    handle: ::tokio::runtime::Handle,
}

impl Tokio {
    /// The tokio runtime the caller runs in; `None` outside one.
    pub fn current() -> Option<Self> {
        ::tokio::runtime::Handle::try_current()
            .ok()
            .map(Self::from_handle)
    }

    /// The runtime behind `handle`.
    pub fn from_handle(handle: ::tokio::runtime::Handle) -> Self {
        Self { handle }
    }
}

impl Runtime for Tokio {
    fn name(&self) -> &'static str {
        "tokio"
    }

    fn spawn(&self, task: Task) {
        self.handle.spawn(task);
    }

    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        self.handle.spawn_blocking(work);
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        // A tokio timer binds to the runtime it is created in.
        let _entered = self.handle.enter();
        Box::pin(::tokio::time::sleep(duration))
    }

    fn reactor(&self) -> Reactor {
        Reactor::Tokio
    }
}
