//! UDP sockets on the runtime's reactor, for the native WebRTC stack: tokio's, or async-io's
//! (smol, async-std).

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use switchboard_runtime::{Handle, Reactor};

/// A bound UDP socket.
pub(super) enum Udp {
    #[cfg(feature = "tokio")]
    Tokio(tokio::net::UdpSocket),
    #[cfg(feature = "async-io")]
    AsyncIo(async_io::Async<std::net::UdpSocket>),
}

impl Udp {
    /// Binds `addr` on `rt`'s reactor. Must be called on the runtime (tokio registers the
    /// socket with the reactor of the task that makes it).
    pub(super) fn bind(rt: &Handle, addr: SocketAddr) -> io::Result<Self> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        match rt.reactor() {
            #[cfg(feature = "tokio")]
            Reactor::Tokio => Ok(Udp::Tokio(tokio::net::UdpSocket::from_std(socket)?)),
            #[cfg(feature = "async-io")]
            Reactor::AsyncIo => Ok(Udp::AsyncIo(async_io::Async::new(socket)?)),
            #[allow(unreachable_patterns)]
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("no UDP sockets on the {} runtime", rt.name()),
            )),
        }
    }

    /// The address it is bound to.
    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            #[cfg(feature = "tokio")]
            Udp::Tokio(socket) => socket.local_addr(),
            #[cfg(feature = "async-io")]
            Udp::AsyncIo(socket) => socket.get_ref().local_addr(),
        }
    }

    /// Receives a datagram into `buf`: its length and where it came from.
    pub(super) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        match self {
            #[cfg(feature = "tokio")]
            Udp::Tokio(socket) => {
                let mut read = tokio::io::ReadBuf::new(buf);
                let from = std::task::ready!(socket.poll_recv_from(cx, &mut read))?;
                Poll::Ready(Ok((read.filled().len(), from)))
            }
            #[cfg(feature = "async-io")]
            Udp::AsyncIo(socket) => loop {
                match socket.get_ref().recv_from(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::task::ready!(socket.poll_readable(cx))?;
                    }
                    result => return Poll::Ready(result),
                }
            },
        }
    }

    /// Sends `buf` to `target`.
    pub(super) fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        match self {
            #[cfg(feature = "tokio")]
            Udp::Tokio(socket) => socket.poll_send_to(cx, buf, target),
            #[cfg(feature = "async-io")]
            Udp::AsyncIo(socket) => loop {
                match socket.get_ref().send_to(buf, target) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::task::ready!(socket.poll_writable(cx))?;
                    }
                    result => return Poll::Ready(result),
                }
            },
        }
    }
}
