//! The Kubo-compatible RPC API: HTTP on loopback, `POST /api/v0/<command>?arg=…`, JSON bodies
//! shaped like Kubo's, so Kubo RPC clients can drive a Switchboard daemon.
//!
//! [`serve`] runs the server for a [`Node`](switchboard_node::Node); [`Client`] is the blocking client the
//! `switchboard` command line uses.

mod client;
mod server;

pub use client::{Client, ClientError};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::{Deserialize, Serialize};
pub use server::{ServeError, Server, router, serve};

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

/// `POST /api/v0/perf` (Switchboard's; Kubo has none): one libp2p perf run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PerfResponse {
    /// Bytes sent.
    pub upload_bytes: u64,
    /// Seconds the upload took.
    pub upload_seconds: f64,
    /// Bytes received.
    pub download_bytes: u64,
    /// Seconds the download took.
    pub download_seconds: f64,
}

/// `POST /api/v0/block/put` and `block/stat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockStat {
    /// The CID.
    pub key: String,
    /// The block's size in bytes.
    pub size: usize,
}

/// `POST /api/v0/bitswap/stat`, with Kubo's field names (the provide buffer and duplicate
/// counters, which Switchboard does not have, are 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BitswapStatResponse {
    /// Always 0: Switchboard announces no provider records.
    pub provide_buf_len: u64,
    /// The blocks being fetched, as `{"/": cid}` links.
    pub wantlist: Vec<CidLink>,
    /// Peers known to speak Bitswap.
    pub peers: Vec<String>,
    /// Blocks fetched from peers.
    pub blocks_received: u64,
    /// Bytes of those blocks.
    pub data_received: u64,
    /// Blocks written to peers.
    pub blocks_sent: u64,
    /// Bytes of those blocks.
    pub data_sent: u64,
    /// Always 0: duplicates are not counted.
    pub dup_blks_received: u64,
    /// Always 0: duplicates are not counted.
    pub dup_data_received: u64,
    /// Bitswap messages read from peers.
    pub messages_received: u64,
}

/// `swarm/resources`: what the node has in use next to each limit, a row per resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourcesResponse {
    /// The rows.
    pub rows: Vec<ResourceRow>,
}

/// One resource of one scope: `system` (the whole node), `peer` and `ip` (the busiest one),
/// `connmgr`, `protocol:<name>`, `protocol-peer:<name>` (its busiest peer), and on a relay
/// `relay` and `relay-ip` (the busiest address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceRow {
    /// The scope.
    pub scope: String,
    /// What is counted.
    pub resource: String,
    /// In use now (or, for counters such as `refused`, since the node started).
    pub usage: u64,
    /// The limit; none for counters.
    pub limit: Option<u64>,
}

impl ResourcesResponse {
    /// The rows of a node's [`Resources`](switchboard_node::Resources).
    pub fn of(resources: &switchboard_node::Resources) -> Self {
        let (c, l) = (&resources.connections, &resources.limits);
        let row = |scope: &str, resource: &str, usage: u64, limit: Option<u64>| ResourceRow {
            scope: scope.to_owned(),
            resource: resource.to_owned(),
            usage,
            limit,
        };
        let mut rows = vec![
            row(
                "system",
                "connections",
                c.established.into(),
                Some(l.max_connections.into()),
            ),
            row("system", "connections-inbound", c.inbound.into(), None),
            row(
                "system",
                "pending-inbound",
                c.pending_inbound.into(),
                Some(l.max_pending.into()),
            ),
            row(
                "system",
                "pending-outbound",
                c.pending_outbound.into(),
                Some(l.max_pending.into()),
            ),
            row(
                "peer",
                "connections",
                c.busiest_peer.into(),
                Some(l.max_connections_per_peer.into()),
            ),
            row(
                "ip",
                "connections",
                c.busiest_ip.into(),
                Some(l.max_connections_per_ip.into()),
            ),
            row(
                "connmgr",
                "high-water",
                c.established.into(),
                Some(l.high_water.into()),
            ),
            row(
                "connmgr",
                "low-water",
                c.established.into(),
                Some(l.low_water.into()),
            ),
            row("connmgr", "trimmed", c.trimmed, None),
            row("system", "banned-peers", c.banned.into(), None),
        ];
        for s in &resources.streams {
            let scope = format!("protocol:{}", s.service);
            rows.push(row(
                &scope,
                "streams-inbound",
                s.open.into(),
                Some(s.limit.into()),
            ));
            rows.push(row(&scope, "refused", s.refused, None));
            let scope = format!("protocol-peer:{}", s.service);
            rows.push(row(
                &scope,
                "streams-inbound",
                s.busiest_peer.into(),
                Some(s.limit_per_peer.into()),
            ));
        }
        rows.push(row(
            "protocol:bitswap",
            "read-bytes",
            resources.bitswap_reading,
            Some(l.bitswap_read_budget),
        ));
        if let Some(relay) = &resources.relay {
            let l = &relay.limits;
            rows.extend([
                row(
                    "relay",
                    "reservations",
                    relay.reservations.into(),
                    Some(l.max_reservations.into()),
                ),
                row(
                    "relay-ip",
                    "reservations",
                    relay.reservations_per_ip.into(),
                    Some(l.max_reservations_per_ip.into()),
                ),
                row(
                    "relay",
                    "circuits",
                    relay.circuits.into(),
                    Some(l.max_circuits.into()),
                ),
                row(
                    "relay-ip",
                    "circuits",
                    relay.circuits_per_ip.into(),
                    Some(l.max_circuits_per_ip.into()),
                ),
                row("relay", "refused", relay.refused, None),
            ]);
        }
        Self { rows }
    }
}

/// An error and its causes on one line, as the command line and the API's error answers show
/// them: each message's lines joined with `; ` (libp2p lists several dial errors one per line,
/// each behind `- `), empty ones and those already said left out, the rest joined with `: `.
pub fn one_line<'a, E>(causes: impl IntoIterator<Item = &'a E>) -> String
where
    E: std::error::Error + ?Sized + 'a,
{
    let mut parts: Vec<String> = Vec::new();
    for cause in causes {
        let text = cause
            .to_string()
            .lines()
            .map(|l| l.trim().trim_start_matches("- ").trim_end_matches(':'))
            .filter(|l| !l.is_empty() && *l != "Multiple dial errors occurred")
            .collect::<Vec<_>>()
            .join("; ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// `error` and its sources, in order.
pub fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |e| e.source())
}

/// A CID as a JSON link, `{"/": "bafy…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidLink {
    /// The CID.
    #[serde(rename = "/")]
    pub cid: String,
}

/// One line of `POST /api/v0/block/rm`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockRmLine {
    /// The CID.
    pub hash: String,
    /// Empty when removed.
    pub error: String,
}

/// Parses a Go-style duration as Kubo's `--timeout` takes it: `500ms`, `10s`, `2m`, `1h`, or
/// a sum such as `1m30s`.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let mut total = std::time::Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => number / 1e3,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return None,
        };
        // A sum past `Duration::MAX` is no duration, as Go's parser refuses one past 290 years.
        total = total.checked_add(std::time::Duration::try_from_secs_f64(seconds).ok()?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// The socket address of `/ip4|ip6/<ip>/tcp/<port>`.
pub(crate) fn socket_addr(addr: &Multiaddr) -> Option<std::net::SocketAddr> {
    match addr.iter().collect::<Vec<_>>().as_slice() {
        [Protocol::Ip4(ip), Protocol::Tcp(port)] => Some((*ip, *port).into()),
        [Protocol::Ip6(ip), Protocol::Tcp(port)] => Some((*ip, *port).into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(
            super::parse_duration("500ms"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(super::parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(
            super::parse_duration("1m30s"),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            super::parse_duration("1.5s"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(super::parse_duration("10"), None);
        // Each part fits a Duration, their sum does not: refused, not a panic.
        assert_eq!(
            super::parse_duration("10000000000000000000s10000000000000000000s"),
            None
        );
        assert_eq!(super::parse_duration("soon"), None);
        assert_eq!(super::parse_duration(""), None);
    }
}
