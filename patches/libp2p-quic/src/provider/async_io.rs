// Switchboard: a provider on async-io, the reactor under smol and async-std, with quinn's smol
// runtime for the endpoint. Written for this crate's `Provider` trait; rust-libp2p removed its
// async-std provider in 0.56.

//! QUIC on async-io: for smol and async-std.

use std::{
    io,
    net::{SocketAddr, UdpSocket},
    task::{Context, Poll},
    time::Duration,
};

use futures::{FutureExt, future::BoxFuture};

use crate::GenTransport;

/// A QUIC transport whose sockets and timers are on async-io.
pub type Transport = GenTransport<Provider>;

/// The async-io provider.
pub struct Provider;

impl super::Provider for Provider {
    type IfWatcher = if_watch::smol::IfWatcher;

    fn runtime() -> super::Runtime {
        super::Runtime::AsyncIo
    }

    fn new_if_watcher() -> io::Result<Self::IfWatcher> {
        if_watch::smol::IfWatcher::new()
    }

    fn poll_if_event(
        watcher: &mut Self::IfWatcher,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<if_watch::IfEvent>> {
        watcher.poll_if_event(cx)
    }

    fn sleep(duration: Duration) -> BoxFuture<'static, ()> {
        async_io::Timer::after(duration).map(|_| ()).boxed()
    }

    fn send_to<'a>(
        udp_socket: &'a UdpSocket,
        buf: &'a [u8],
        target: SocketAddr,
    ) -> BoxFuture<'a, io::Result<usize>> {
        Box::pin(async move {
            async_io::Async::new(udp_socket.try_clone()?)?
                .send_to(buf, target)
                .await
        })
    }
}
