//! The runtime a node runs on: a [`Rt`] handle (switchboard-runtime's `Handle`) that the
//! builder is given or finds, passed to every task that spawns, sleeps, times out or runs
//! blocking store calls. No module of this crate names a runtime itself.

pub(crate) use switchboard_runtime::{Elapsed, Handle as Rt, Instant};
