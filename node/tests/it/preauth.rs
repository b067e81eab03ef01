//! Before a peer has authenticated: what a stranger who can reach a port can make the node
//! commit. Nothing is allocated at a length a peer declares, and such a peer is dropped.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use switchboard_node::{Node, profile};

use switchboard_testkit::DEADLINE;

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// A websocket upgrade on `port`, answered; the connection.
fn upgraded(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(
            format!(
                "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .expect("upgrade request");
    let mut response = Vec::new();
    let mut byte = [0u8];
    while !response.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("upgrade response");
        response.push(byte[0]);
    }
    assert!(response.starts_with(b"HTTP/1.1 101"), "{response:?}");
    stream
}

/// Sixteen connections each upgrade to a websocket and send one 14-byte frame header that
/// declares a 256 MiB payload. The node once allocated each payload's buffer at once (4 GiB
/// for 16); now each connection is closed at its header and memory stays where it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_frame_declaring_a_huge_payload_is_refused_unread() {
    let node = Node::builder(profile::Daemon)
        .with_mdns(false)
        .with_listen_addr("/ip4/127.0.0.1/tcp/0/ws".parse().expect("addr"))
        .build()
        .await
        .expect("node");
    let port = node.listen_addrs().await[0]
        .iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a tcp port");
    let before = rss();
    let closed = tokio::task::spawn_blocking(move || {
        let mut streams: Vec<TcpStream> = (0..16).map(|_| upgraded(port)).collect();
        // FIN + binary, masked, 64-bit length of 256 MiB, a masking key; no payload.
        let mut header = vec![0x82, 0xff];
        header.extend_from_slice(&(256u64 * 1024 * 1024).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        for stream in &mut streams {
            stream.write_all(&header).expect("frame header");
        }
        let started = Instant::now();
        streams
            .iter_mut()
            .map(|stream| {
                let left = DEADLINE.saturating_sub(started.elapsed());
                stream
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .expect("timeout");
                // Closed: EOF or a reset. Still open: the read times out.
                let mut buf = [0u8; 64];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => return true,
                        Ok(_) => continue,
                        Err(e) => {
                            return !matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            );
                        }
                    }
                }
            })
            .filter(|closed| *closed)
            .count()
    })
    .await
    .expect("task");
    assert_eq!(
        closed, 16,
        "connections still open after their oversize header"
    );
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 64 * 1024 * 1024,
        "resident memory grew by {} MiB",
        grown >> 20
    );
    node.shutdown().await;
}
