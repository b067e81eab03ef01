//! A web page's event loop: tasks through wasm-bindgen futures, timers through the page's
//! `setTimeout` (futures-timer); blocking work runs inline (a page has one thread).

use std::time::Duration;

use crate::{Reactor, Runtime, Sleep, Task};

/// The page's event loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Browser;

impl Runtime for Browser {
    fn name(&self) -> &'static str {
        "browser"
    }

    fn spawn(&self, task: Task) {
        wasm_bindgen_futures::spawn_local(task);
    }

    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        work();
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(futures_timer::Delay::new(duration))
    }

    fn reactor(&self) -> Reactor {
        Reactor::Browser
    }
}
