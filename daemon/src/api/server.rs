//! The RPC server.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use futures::StreamExt as _;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::Notify;

use super::{
    BitswapStatResponse, CidLink, ErrorResponse, IdResponse, PeerEntry, PeersResponse, PingLine,
    StringsResponse, VersionResponse,
};
use switchboard_node::{Direction, Node};

mod block;

/// Why the API server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address is not `/ip4|ip6/<ip>/tcp/<port>`.
    #[error("the API address must be /ip4|ip6/<ip>/tcp/<port>, not {0}")]
    Address(Multiaddr),
    /// Binding failed (port in use, address not local).
    #[error("cannot bind the API to {addr}")]
    Bind {
        /// The address.
        addr: Multiaddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running API server. Dropping it does not stop it; it stops with the runtime.
#[derive(Debug)]
pub struct Server {
    local_addr: Multiaddr,
    shutdown: Arc<Notify>,
}

impl Server {
    /// Where the server listens, with the real port.
    pub fn local_addr(&self) -> &Multiaddr {
        &self.local_addr
    }

    /// Resolves when a client calls `/api/v0/shutdown`.
    pub async fn shutdown_requested(&self) {
        self.shutdown.notified().await
    }
}

#[derive(Clone)]
struct AppState {
    node: Node,
    shutdown: Arc<Notify>,
}

/// Serves the RPC API for `node` on `addr` (normally loopback).
pub async fn serve(node: Node, addr: &Multiaddr) -> Result<Server, ServeError> {
    let socket = super::socket_addr(addr).ok_or_else(|| ServeError::Address(addr.clone()))?;
    let listener = tokio::net::TcpListener::bind(socket)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr.clone(),
        source,
    })?;
    let shutdown = Arc::new(Notify::new());
    let app = router(node, shutdown.clone());
    tokio::spawn(accept(listener, app));
    Ok(Server {
        local_addr: multiaddr_of(local),
        shutdown,
    })
}

/// The RPC API of `node` as a tower service, without a socket: to serve it from another
/// server, or to drive it in-process (the fuzz target of `block/put` does). `shutdown` is
/// notified when a client calls `/api/v0/shutdown`.
pub fn router(node: Node, shutdown: Arc<Notify>) -> Router {
    let state = AppState { node, shutdown };
    Router::new()
        .route("/api/v0/id", post(id))
        .route("/api/v0/version", post(version))
        .route("/api/v0/swarm/connect", post(swarm_connect))
        .route("/api/v0/swarm/peers", post(swarm_peers))
        .route("/api/v0/swarm/addrs/local", post(swarm_addrs_local))
        .route("/api/v0/swarm/resources", post(swarm_resources))
        .route("/api/v0/ping", post(ping))
        .route("/api/v0/shutdown", post(shutdown_handler))
        .route("/api/v0/perf", post(perf))
        .route("/api/v0/bitswap/stat", post(bitswap_stat))
        .route(
            "/api/v0/block/put",
            // A block of 2 MiB plus the multipart framing around it.
            post(block::put).layer(axum::extract::DefaultBodyLimit::max(
                switchboard_exchange::MAX_BLOCK_SIZE + 64 * 1024,
            )),
        )
        .route("/api/v0/block/get", post(block::get))
        .route("/api/v0/block/stat", post(block::stat))
        .route("/api/v0/block/rm", post(block::rm))
        .layer(middleware::from_fn(same_origin_only))
        .with_state(state)
}

/// Clients served at once; a connection over it is closed as soon as it is accepted.
const MAX_CLIENTS: usize = 64;
/// How long a client has to send a request's headers (also the keep-alive idle time).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a client has to upload a request's body.
pub(super) const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Serves every client connection of `listener` with `app`, bounded: at most [`MAX_CLIENTS`]
/// at once, each with [`HEADER_TIMEOUT`] to send its headers (axum's own `serve` has neither,
/// so idle or slow clients could hold the API's sockets and tasks without end).
async fn accept(listener: tokio::net::TcpListener, app: Router) {
    let clients = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(e) => {
                // Out of descriptors, most likely: wait a little rather than spin.
                tracing::warn!(error = %e, "RPC API cannot accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = clients.clone().try_acquire_owned() else {
            tracing::debug!("RPC API at its client limit; closing a connection");
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "RPC API connection ended");
            }
            drop(permit);
        });
    }
}

fn multiaddr_of(addr: SocketAddr) -> Multiaddr {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
    };
    Multiaddr::empty().with(ip).with(Protocol::Tcp(addr.port()))
}

/// An error answer, as Kubo's: 400 with code 1 for a bad request, 500 with code 0 otherwise.
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl ToString) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.to_string(),
        }
    }

    /// A 500 with `error` and its causes on one line.
    fn failed(error: impl std::error::Error + 'static) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: super::one_line(super::causes(&error)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = u8::from(self.status == StatusCode::BAD_REQUEST);
        let body = ErrorResponse {
            message: self.message,
            code,
            kind: "error".into(),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// Kubo's browser protection: a request a web page sent from another origin (an `Origin` or
/// `Referer` that is not this API's own, or `Sec-Fetch-Site: cross-site`) gets 403, and so does
/// one whose `Host` is not a loopback name (a DNS-rebinding page).
async fn same_origin_only(headers: HeaderMap, request: Request, next: Next) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    let host = text(header::HOST).unwrap_or("");
    let host_name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let own_origin = format!("http://{host}");
    let loopback_host = ["127.0.0.1", "localhost", "[::1]"].contains(&host_name);
    let cross_origin = text(header::ORIGIN).is_some_and(|o| o != own_origin)
        || text(header::REFERER)
            .is_some_and(|r| r != own_origin && !r.starts_with(&format!("{own_origin}/")))
        || text(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site");
    if cross_origin || !loopback_host {
        return (StatusCode::FORBIDDEN, "403 - Forbidden\n").into_response();
    }
    next.run(request).await
}

/// The `arg` values and other options of a Kubo-style query string.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: Option<String>) -> Self {
        let raw = raw.unwrap_or_default();
        let pairs = form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
        Self { pairs }
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.all(key).into_iter().next()
    }

    fn args(&self) -> Result<Vec<&str>, ApiError> {
        let args = self.all("arg");
        if args.is_empty() {
            return Err(ApiError::bad_request("argument \"arg\" is required"));
        }
        Ok(args)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("" | "true" | "1"))
    }
}

fn parse_addr(text: &str) -> Result<Multiaddr, ApiError> {
    Multiaddr::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("invalid multiaddr `{text}`: {e}")))
}

async fn id(State(state): State<AppState>) -> axum::Json<IdResponse> {
    let identity = state.node.identity().await;
    axum::Json(IdResponse {
        id: identity.peer_id.to_string(),
        public_key: base64::engine::general_purpose::STANDARD
            .encode(identity.public_key.encode_protobuf()),
        addresses: identity.addresses.iter().map(ToString::to_string).collect(),
        agent_version: identity.agent_version,
        protocols: identity.protocols,
    })
}

async fn bitswap_stat(
    State(state): State<AppState>,
) -> Result<axum::Json<BitswapStatResponse>, ApiError> {
    let stat = state
        .node
        .block()
        .bitswap_stat()
        .await
        .map_err(ApiError::failed)?;
    Ok(axum::Json(BitswapStatResponse {
        provide_buf_len: 0,
        wantlist: stat
            .wantlist
            .iter()
            .map(|c| CidLink { cid: c.to_string() })
            .collect(),
        peers: stat.peers.iter().map(ToString::to_string).collect(),
        blocks_received: stat.blocks_received,
        data_received: stat.data_received,
        blocks_sent: stat.blocks_sent,
        data_sent: stat.data_sent,
        dup_blks_received: 0,
        dup_data_received: 0,
        messages_received: stat.messages_received,
    }))
}

async fn version() -> axum::Json<VersionResponse> {
    axum::Json(VersionResponse {
        version: env!("CARGO_PKG_VERSION").into(),
        system: format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
    })
}

async fn swarm_connect(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<StringsResponse>, ApiError> {
    let query = Query::parse(raw);
    let addrs = query
        .args()?
        .into_iter()
        .map(parse_addr)
        .collect::<Result<Vec<_>, _>>()?;
    let mut strings = Vec::new();
    for addr in addrs {
        let peer = state.node.connect(addr).await.map_err(ApiError::failed)?;
        strings.push(format!("connect {peer} success"));
    }
    Ok(axum::Json(StringsResponse { strings }))
}

async fn swarm_peers(State(state): State<AppState>) -> axum::Json<PeersResponse> {
    let peers = state
        .node
        .peers()
        .await
        .into_iter()
        .map(|p| PeerEntry {
            addr: p.addr.to_string(),
            peer: p.peer.to_string(),
            direction: match p.direction {
                Direction::Inbound => 1,
                Direction::Outbound => 2,
            },
        })
        .collect();
    axum::Json(PeersResponse { peers })
}

async fn swarm_resources(State(state): State<AppState>) -> axum::Json<super::ResourcesResponse> {
    axum::Json(super::ResourcesResponse::of(&state.node.resources().await))
}

async fn swarm_addrs_local(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> axum::Json<StringsResponse> {
    let with_id = Query::parse(raw).flag("id");
    let peer = state.node.peer_id();
    let strings = state
        .node
        .listen_addrs()
        .await
        .into_iter()
        .map(|a| {
            if with_id {
                a.with_p2p(peer).unwrap_or_else(|a| a)
            } else {
                a
            }
        })
        .map(|a| a.to_string())
        .collect();
    axum::Json(StringsResponse { strings })
}

/// Kubo's `ping`: a header line, one line per round trip, an average, as newline-delimited
/// JSON. The lines are sent as the pings come back, so any count costs one stream and no
/// memory, and a client that goes away ends the pings.
async fn ping(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw);
    let arg = query.args()?[0].to_owned();
    let target = match PeerId::from_str(&arg) {
        Ok(peer) => Multiaddr::empty().with(Protocol::P2p(peer)),
        Err(_) => parse_addr(&arg)?,
    };
    let count = match query.get("count") {
        None => NonZeroU32::new(10).expect("10 is not zero"),
        Some(n) => n
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid count `{n}`")))?,
    };
    let line = |success, time, text: String| {
        let mut json = serde_json::to_string(&PingLine {
            success,
            time,
            text,
        })
        .expect("plain struct serialises");
        json.push('\n');
        Ok::<_, std::convert::Infallible>(json)
    };
    let header = futures::stream::iter([line(true, 0, format!("PING {arg}."))]);
    let pings = match state.node.pinger(&target).await {
        Err(e) => futures::stream::iter([line(false, 0, e.to_string())]).boxed(),
        Ok(pinger) => {
            // (the stream while pings are left, pings left, pings done, their total)
            let start = (Some(pinger), count.get(), 0u32, std::time::Duration::ZERO);
            futures::stream::unfold(start, move |(pinger, left, done, total)| async move {
                let mut pinger = pinger?;
                if left == 0 {
                    pinger.close().await;
                    let average = total / done.max(1);
                    let text = format!("Average latency: {:.2}ms", average.as_secs_f64() * 1e3);
                    return Some((line(true, 0, text), (None, 0, done, total)));
                }
                match pinger.ping().await {
                    Ok(rtt) => {
                        let next = (Some(pinger), left - 1, done + 1, total + rtt);
                        Some((line(true, rtt.as_nanos() as u64, String::new()), next))
                    }
                    Err(e) => Some((line(false, 0, e.to_string()), (None, 0, done, total))),
                }
            })
            .boxed()
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-chunked-output"), "1"),
        ],
        axum::body::Body::from_stream(header.chain(pings)),
    )
        .into_response())
}

/// One libp2p perf run against `arg` (a peer id or multiaddr), `upload-bytes` up and
/// `download-bytes` down.
async fn perf(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<super::PerfResponse>, ApiError> {
    let query = Query::parse(raw);
    let arg = query.args()?[0];
    let target = match PeerId::from_str(arg) {
        Ok(peer) => Multiaddr::empty().with(Protocol::P2p(peer)),
        Err(_) => parse_addr(arg)?,
    };
    let bytes = |key: &str| -> Result<u64, ApiError> {
        match query.get(key) {
            None => Ok(0),
            Some(n) => n
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid {key} `{n}`"))),
        }
    };
    let (upload, download) = (bytes("upload-bytes")?, bytes("download-bytes")?);
    let report = state
        .node
        .perf(&target, upload, download)
        .await
        .map_err(ApiError::failed)?;
    Ok(axum::Json(super::PerfResponse {
        upload_bytes: report.upload_bytes,
        upload_seconds: report.upload_time.as_secs_f64(),
        download_bytes: report.download_bytes,
        download_seconds: report.download_time.as_secs_f64(),
    }))
}

async fn shutdown_handler(State(state): State<AppState>) -> StatusCode {
    state.shutdown.notify_one();
    StatusCode::OK
}
