//! The blocking RPC client the command line uses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p::Multiaddr;
use serde::de::DeserializeOwned;

use switchboard_exchange::Cid;

use super::{
    BitswapStatResponse, BlockRmLine, BlockStat, ErrorResponse, IdResponse, PeersResponse,
    PingLine, StringsResponse,
};
use switchboard_node::{Repo, RepoError};

/// Why an RPC call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The repo has no `api` file: no daemon runs on it.
    #[error("no switchboard daemon is running on repo {0} (start one with `switchboard daemon`)")]
    NoDaemon(PathBuf),
    /// The `api` file could not be read.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The API address is not `/ip4|ip6/<ip>/tcp/<port>`.
    #[error("unusable API address {0}")]
    Address(Multiaddr),
    /// Nothing answers at the API address (a daemon that died without cleaning up).
    #[error("the daemon API at {addr} does not answer ({reason}); is the daemon running?")]
    NotAnswering {
        /// The API address.
        addr: Multiaddr,
        /// The connection error.
        reason: String,
    },
    /// The daemon answered with an error.
    #[error("{0}")]
    Daemon(String),
    /// The daemon's answer was not what the API promises.
    #[error("unexpected answer from the daemon: {0}")]
    Malformed(String),
}

/// A client of one daemon's RPC API.
#[derive(Debug, Clone)]
pub struct Client {
    addr: Multiaddr,
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the API at `addr`.
    ///
    /// Defaults: 5 s to connect; no limit on a call (a dial or ping has its own timeout).
    pub fn new(addr: Multiaddr) -> Result<Self, ClientError> {
        let socket = super::socket_addr(&addr).ok_or_else(|| ClientError::Address(addr.clone()))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .into();
        Ok(Self {
            addr,
            base: format!("http://{socket}/api/v0"),
            agent,
        })
    }

    /// A client of the daemon running on the repo at `path`, found through its `api` file.
    pub fn for_repo(path: &Path) -> Result<Self, ClientError> {
        match Repo::api_addr(path)? {
            Some(addr) => Self::new(addr),
            None => Err(ClientError::NoDaemon(path.to_owned())),
        }
    }

    /// Posts to `command` with query `args` and an optional `(content type, body)`; the bytes
    /// of a successful answer.
    fn post(
        &self,
        command: &str,
        args: &[(&str, String)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Vec<u8>, ClientError> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(args.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let url = format!("{}/{command}?{query}", self.base);
        let request = self.agent.post(&url);
        let sent = match body {
            Some((content_type, bytes)) => request
                .header("Content-Type", content_type)
                .send(&bytes[..]),
            None => request.send_empty(),
        };
        let mut response = sent.map_err(|e| ClientError::NotAnswering {
            addr: self.addr.clone(),
            reason: e.to_string(),
        })?;
        let status = response.status();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(2 * switchboard_exchange::MAX_BLOCK_SIZE as u64 + 1024 * 1024)
            .read_to_vec()
            .map_err(|e| ClientError::Malformed(e.to_string()))?;
        if status.is_success() {
            return Ok(bytes);
        }
        match serde_json::from_slice::<ErrorResponse>(&bytes) {
            Ok(error) => Err(ClientError::Daemon(error.message)),
            Err(_) => Err(ClientError::Daemon(format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            ))),
        }
    }

    /// Calls `command` with query `args` and returns the body of a successful answer.
    pub fn call_raw(&self, command: &str, args: &[(&str, String)]) -> Result<String, ClientError> {
        let bytes = self.post(command, args, None)?;
        String::from_utf8(bytes).map_err(|e| ClientError::Malformed(e.to_string()))
    }

    fn call<T: DeserializeOwned>(
        &self,
        command: &str,
        args: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let body = self.call_raw(command, args)?;
        serde_json::from_str(&body).map_err(|e| ClientError::Malformed(format!("{e}: {body}")))
    }

    /// `id`.
    pub fn id(&self) -> Result<IdResponse, ClientError> {
        self.call("id", &[])
    }

    /// `swarm/connect`: the daemon's lines (`connect <peer> success`).
    pub fn swarm_connect(&self, addr: &Multiaddr) -> Result<Vec<String>, ClientError> {
        Ok(self
            .call::<StringsResponse>("swarm/connect", &[("arg", addr.to_string())])?
            .strings)
    }

    /// `swarm/peers`.
    pub fn swarm_peers(&self) -> Result<PeersResponse, ClientError> {
        self.call("swarm/peers", &[])
    }

    /// `swarm/resources`.
    pub fn swarm_resources(&self) -> Result<super::ResourcesResponse, ClientError> {
        self.call("swarm/resources", &[])
    }

    /// `swarm/addrs/local`, with `/p2p/<id>` when `with_id`.
    pub fn swarm_addrs_local(&self, with_id: bool) -> Result<Vec<String>, ClientError> {
        let args = [("id", with_id.to_string())];
        Ok(self
            .call::<StringsResponse>("swarm/addrs/local", &args)?
            .strings)
    }

    /// `ping`: every line of the answer.
    pub fn ping(&self, target: &str, count: u32) -> Result<Vec<PingLine>, ClientError> {
        let body = self.call_raw(
            "ping",
            &[("arg", target.to_owned()), ("count", count.to_string())],
        )?;
        body.lines()
            .map(|line| {
                serde_json::from_str(line)
                    .map_err(|e| ClientError::Malformed(format!("{e}: {line}")))
            })
            .collect()
    }

    /// `block/put`: stores `data` as a block (`codec`, `hash` as Kubo names them); its CID and
    /// size.
    pub fn block_put(
        &self,
        data: Vec<u8>,
        codec: &str,
        hash: &str,
    ) -> Result<BlockStat, ClientError> {
        const BOUNDARY: &str = "switchboard-block-put-boundary";
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"data\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend(data);
        body.extend(format!("\r\n--{BOUNDARY}--\r\n").into_bytes());
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let args = [("cid-codec", codec.to_owned()), ("mhtype", hash.to_owned())];
        let bytes = self.post("block/put", &args, Some((&content_type, body)))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Malformed(e.to_string()))
    }

    /// `block/get`: the block's bytes, waiting up to `timeout` (a Go duration) for peers.
    pub fn block_get(&self, cid: &Cid, timeout: Option<&str>) -> Result<Vec<u8>, ClientError> {
        let mut args = vec![("arg", cid.to_string())];
        args.extend(timeout.map(|t| ("timeout", t.to_owned())));
        self.post("block/get", &args, None)
    }

    /// `bitswap/stat`.
    pub fn bitswap_stat(&self) -> Result<BitswapStatResponse, ClientError> {
        self.call("bitswap/stat", &[])
    }

    /// `block/stat`.
    pub fn block_stat(&self, cid: &Cid) -> Result<BlockStat, ClientError> {
        self.call("block/stat", &[("arg", cid.to_string())])
    }

    /// `block/rm`: one line per CID.
    pub fn block_rm(&self, cids: &[Cid]) -> Result<Vec<BlockRmLine>, ClientError> {
        let args: Vec<_> = cids.iter().map(|c| ("arg", c.to_string())).collect();
        let body = self.call_raw("block/rm", &args)?;
        body.lines()
            .map(|line| {
                serde_json::from_str(line)
                    .map_err(|e| ClientError::Malformed(format!("{e}: {line}")))
            })
            .collect()
    }

    /// `perf`: one libp2p perf run from the daemon to `target`.
    pub fn perf(
        &self,
        target: &str,
        upload: u64,
        download: u64,
    ) -> Result<super::PerfResponse, ClientError> {
        let args = [
            ("arg", target.to_owned()),
            ("upload-bytes", upload.to_string()),
            ("download-bytes", download.to_string()),
        ];
        self.call("perf", &args)
    }

    /// `shutdown`: asks the daemon to stop.
    pub fn shutdown(&self) -> Result<(), ClientError> {
        self.call_raw("shutdown", &[]).map(drop)
    }
}
