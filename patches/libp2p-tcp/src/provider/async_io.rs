// Switchboard: a provider on async-io, the reactor under smol and async-std. rust-libp2p
// dropped its async-io provider in 0.56 when it dropped async-std; this one is written
// against the 0.45 `Provider` trait (with the interface watcher it now asks for).

//! A TCP [`Transport`](libp2p_core::Transport) on async-io: for smol and async-std.

use std::{
    io, net,
    task::{Context, Poll},
};

use async_io::Async;
use futures::future::{BoxFuture, FutureExt};

use super::{Incoming, Provider};

/// A TCP transport whose sockets are driven by async-io.
pub type Transport = crate::Transport<Tcp>;

#[derive(Copy, Clone)]
#[doc(hidden)]
pub enum Tcp {}

impl Provider for Tcp {
    type Stream = Async<net::TcpStream>;
    type Listener = Async<net::TcpListener>;
    type IfWatcher = if_watch::smol::IfWatcher;

    fn new_if_watcher() -> io::Result<Self::IfWatcher> {
        Self::IfWatcher::new()
    }

    fn addrs(if_watcher: &Self::IfWatcher) -> Vec<if_watch::IpNet> {
        if_watcher.iter().copied().collect()
    }

    fn new_listener(listener: net::TcpListener) -> io::Result<Self::Listener> {
        Async::new(listener)
    }

    fn new_stream(stream: net::TcpStream) -> BoxFuture<'static, io::Result<Self::Stream>> {
        async move {
            // The socket is connecting (non-blocking); it turns writable once the connection
            // is set up or has failed, and the socket's error says which.
            let stream = Async::new(stream)?;
            stream.writable().await?;
            match stream.get_ref().take_error()? {
                None => Ok(stream),
                Some(e) => Err(e),
            }
        }
        .boxed()
    }

    fn poll_accept(
        listener: &mut Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Incoming<Self::Stream>>> {
        loop {
            match listener.get_ref().accept() {
                Ok((stream, remote_addr)) => {
                    let local_addr = stream.local_addr()?;
                    return Poll::Ready(Ok(Incoming {
                        stream: Async::new(stream)?,
                        local_addr,
                        remote_addr,
                    }));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Registers the waker; a readiness that turns out spurious loops once more.
                    match listener.poll_readable(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}
