//! UDP sockets on the runtime's reactor, for the native WebRTC stack: tokio's, or async-io's
//! (smol, async-std).

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use switchboard_runtime::{Handle, Reactor};

/// The receive and send buffers asked of the kernel (which caps them at `net.core.rmem_max` and
/// `wmem_max`). A window of SCTP packets arrives at once, and each 1.2 KB datagram costs over
/// 2 KB of buffer: Linux's default 208 KiB overflowed on a busy receiver and the lost tail
/// waited for SCTP's 1 s retransmission timeout (`cargo xtask matrix --release --repeat 25
/// --only 'daemon -> switchboard-daemon over webrtc'`, its `webrtc` row: 1 MiB in 1.0-1.1 s in
/// 3 of 25 runs, none over 42 ms with these).
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

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
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        // Larger buffers are an optimisation: a kernel that refuses them still carries data.
        if let Err(e) = socket
            .set_recv_buffer_size(SOCKET_BUFFER)
            .and_then(|()| socket.set_send_buffer_size(SOCKET_BUFFER))
        {
            tracing::debug!("UDP socket buffers left as they are: {e}");
        }
        socket.bind(&addr.into())?;
        socket.set_nonblocking(true)?;
        let socket = std::net::UdpSocket::from(socket);
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

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;

    /// The kernel gives what it allows of [`SOCKET_BUFFER`]: more than its default (208 KiB
    /// on Linux) wherever `net.core.rmem_max` is larger, as on this project's machines.
    #[test]
    #[cfg(target_os = "linux")]
    fn sockets_ask_for_large_buffers() {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let rt = Handle::new(switchboard_runtime::Tokio::from_handle(
            runtime.handle().clone(),
        ));
        let _entered = runtime.enter();
        let socket = Udp::bind(&rt, "127.0.0.1:0".parse().expect("addr")).expect("bind");
        #[allow(irrefutable_let_patterns)]
        let Udp::Tokio(socket) = socket else {
            unreachable!("bound on tokio")
        };
        let allowed = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|max| max.trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(SOCKET_BUFFER);
        let got = socket2::SockRef::from(&socket)
            .recv_buffer_size()
            .expect("SO_RCVBUF");
        // Linux doubles what it is asked for (its bookkeeping), and reports that.
        assert!(
            got >= allowed,
            "{got} bytes of receive buffer, {allowed} allowed"
        );
    }
}
