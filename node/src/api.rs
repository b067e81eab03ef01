//! The Kubo-compatible RPC API: HTTP on loopback, `POST /api/v0/<command>?arg=…`, JSON bodies
//! shaped like Kubo's, so Kubo RPC clients can drive a Switchboard daemon.
//!
//! [`serve`] runs the server for a [`Node`](crate::Node); [`Client`] is the blocking client the
//! `switchboard` command line uses.

mod client;
mod server;

pub use client::{Client, ClientError};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::{Deserialize, Serialize};
pub use server::{ServeError, Server, serve};

/// `POST /api/v0/id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdResponse {
    /// The peer id.
    #[serde(rename = "ID")]
    pub id: String,
    /// The public key: protobuf-encoded, then base64 (standard alphabet), as Kubo.
    pub public_key: String,
    /// Advertised addresses, each with `/p2p/<id>`.
    pub addresses: Vec<String>,
    /// `switchboard/<version>`.
    pub agent_version: String,
    /// The protocols the node answers.
    pub protocols: Vec<String>,
}

/// Kubo's generic `{"Strings": [...]}` answer (`swarm/connect`, `swarm/addrs/local`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StringsResponse {
    /// The lines.
    pub strings: Vec<String>,
}

/// `POST /api/v0/swarm/peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeersResponse {
    /// One entry per connected peer.
    pub peers: Vec<PeerEntry>,
}

/// One connected peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeerEntry {
    /// The peer's address on the connection.
    pub addr: String,
    /// The peer id.
    pub peer: String,
    /// 1 inbound, 2 outbound (go-libp2p's `network.Direction`).
    pub direction: u8,
}

/// One line of `POST /api/v0/ping`'s newline-delimited answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PingLine {
    /// Whether this step succeeded.
    pub success: bool,
    /// The round trip in nanoseconds (0 on text-only lines).
    pub time: u64,
    /// A message, empty on round-trip lines.
    pub text: String,
}

/// `POST /api/v0/version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionResponse {
    /// Switchboard's version.
    pub version: String,
    /// `<arch>/<os>`.
    pub system: String,
}

/// The body of every error answer, as Kubo's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorResponse {
    /// What went wrong.
    pub message: String,
    /// 0 for a failure of the command, 1 for a bad request.
    pub code: u8,
    /// Always `error`.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// The socket address of `/ip4|ip6/<ip>/tcp/<port>`.
pub(crate) fn socket_addr(addr: &Multiaddr) -> Option<std::net::SocketAddr> {
    match addr.iter().collect::<Vec<_>>().as_slice() {
        [Protocol::Ip4(ip), Protocol::Tcp(port)] => Some((*ip, *port).into()),
        [Protocol::Ip6(ip), Protocol::Tcp(port)] => Some((*ip, *port).into()),
        _ => None,
    }
}
