//! `/api/v0/block/{put,get,stat,rm}`, shaped like Kubo's.

use std::str::FromStr;
use std::time::Duration;

use axum::extract::{Multipart, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use switchboard_exchange::{Block, Cid, Codec, Hash};

use super::{ApiError, AppState, Query};
use crate::api::{BlockRmLine, BlockStat, parse_duration};
use switchboard_node::DEFAULT_GET_TIMEOUT;

fn cid_arg(query: &Query) -> Result<Cid, ApiError> {
    let arg = query.args()?[0];
    let cid = Cid::from_str(arg)
        .map_err(|e| ApiError::bad_request(format!("invalid cid `{arg}`: {e}")))?;
    switchboard_exchange::check_cid(&cid)
        .map_err(|e| ApiError::bad_request(format!("invalid cid `{arg}`: {e}")))?;
    Ok(cid)
}

fn timeout(query: &Query) -> Result<Duration, ApiError> {
    match query.get("timeout") {
        None => Ok(DEFAULT_GET_TIMEOUT),
        Some(text) => parse_duration(text)
            .ok_or_else(|| ApiError::bad_request(format!("invalid timeout `{text}`"))),
    }
}

/// `block/put`: the first multipart file becomes a block (`cid-codec`, `mhtype` as Kubo).
pub(super) async fn put(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    mut multipart: Multipart,
) -> Result<axum::Json<BlockStat>, ApiError> {
    let query = Query::parse(raw);
    let codec =
        Codec::from_str(query.get("cid-codec").unwrap_or("raw")).map_err(ApiError::bad_request)?;
    let hash =
        Hash::from_str(query.get("mhtype").unwrap_or("sha2-256")).map_err(ApiError::bad_request)?;
    let too_large = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::bad_request("block is over the 2 MiB limit")
        } else {
            ApiError::bad_request(e.body_text())
        }
    };
    // A client that sends its upload slowly, or not at all, gets a bounded time to finish it.
    let data = tokio::time::timeout(super::BODY_TIMEOUT, async {
        let field = multipart
            .next_field()
            .await
            .map_err(too_large)?
            .ok_or_else(|| ApiError::bad_request("file argument 'data' is required"))?;
        field.bytes().await.map_err(too_large)
    })
    .await
    .map_err(|_| ApiError::bad_request("the upload took too long"))??;
    let size = data.len();
    let block = Block::encode(codec, hash, data).map_err(ApiError::bad_request)?;
    let key = block.cid().to_string();
    state
        .node
        .block()
        .put_block(block)
        .await
        .map_err(ApiError::failed)?;
    Ok(axum::Json(BlockStat { key, size }))
}

/// The block a `block/get` or `block/stat` query names, from the store or from peers.
async fn fetch(state: &AppState, raw: Option<String>) -> Result<(Cid, Block), ApiError> {
    let query = Query::parse(raw);
    let (cid, timeout) = (cid_arg(&query)?, timeout(&query)?);
    let block = state
        .node
        .block()
        .get_with_timeout(&cid, timeout)
        .await
        .map_err(ApiError::failed)?;
    Ok((cid, block))
}

/// `block/get`: the block's bytes, from the store or from peers.
pub(super) async fn get(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (_, block) = fetch(&state, raw).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        block.data().clone(),
    )
        .into_response())
}

/// `block/stat`: the block's CID and size (fetching it first when it is not stored, as Kubo).
pub(super) async fn stat(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<BlockStat>, ApiError> {
    let (cid, block) = fetch(&state, raw).await?;
    Ok(axum::Json(BlockStat {
        key: cid.to_string(),
        size: block.data().len(),
    }))
}

/// `block/rm`: one line per CID, with an error for a block that is not stored.
pub(super) async fn rm(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw);
    let mut body = String::new();
    for arg in query.args()? {
        let cid = Cid::from_str(arg)
            .map_err(|e| ApiError::bad_request(format!("invalid cid `{arg}`: {e}")))?;
        let error = match state.node.block().rm(&cid).await {
            Ok(true) => String::new(),
            Ok(false) => "block not found".to_owned(),
            Err(e) => e.to_string(),
        };
        body.push_str(
            &serde_json::to_string(&BlockRmLine {
                hash: cid.to_string(),
                error,
            })
            .expect("plain struct"),
        );
        body.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
