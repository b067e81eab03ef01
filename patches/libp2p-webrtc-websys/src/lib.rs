#![doc = include_str!("../README.md")]

mod connection;
mod error;
mod sdp;
mod signalled;
mod stream;
mod transport;
mod upgrade;

pub use self::{
    connection::Connection,
    error::Error,
    signalled::{SignalledConnection, SignalledEvent},
    stream::Stream,
    transport::{Config, Transport},
};
