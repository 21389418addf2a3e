//! GET /api/v1/log, /api/v1/log/proof and /api/v1/log/publicKey.

use std::collections::HashMap;

use atesto_common::error::ApiError;
use atesto_common::note::first_signature_only;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use atesto_tlog_engine::log::LogError;
use atesto_tlog_engine::merkle;
use atesto_tlog_engine::store::ShardState;
use atesto_tlog_http::{blocking, json_response, parse_query, parse_u64_param};

use crate::state::AppState;

#[derive(Serialize)]
struct ShardLogInfo {
    #[serde(rename = "rootHash")]
    root_hash: String,
    #[serde(rename = "signedTreeHead")]
    signed_tree_head: String,
    #[serde(rename = "treeID")]
    tree_id: String,
    #[serde(rename = "treeSize")]
    tree_size: u64,
}

#[derive(Serialize)]
struct LogInfo {
    #[serde(rename = "inactiveShards", skip_serializing_if = "Vec::is_empty")]
    inactive_shards: Vec<ShardLogInfo>,
    #[serde(flatten)]
    active: ShardLogInfo,
}

fn shard_log_info(shard: &ShardState) -> ShardLogInfo {
    ShardLogInfo {
        root_hash: hex::encode(shard.checkpoint.root),
        signed_tree_head: first_signature_only(&shard.checkpoint.note).to_owned(),
        tree_id: shard.info.tree_id.to_string(),
        tree_size: shard.checkpoint.size,
    }
}

pub async fn log_info(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = state.log.view();
    let active = view.active().ok_or_else(ApiError::internal)?;
    let info = LogInfo {
        inactive_shards: view.inactive().iter().map(shard_log_info).collect(),
        active: shard_log_info(active),
    };
    let body = serde_json::to_string(&info).map_err(|_| ApiError::internal())?;
    Ok(json_response(StatusCode::OK, body))
}

/// Picks the shard named by `treeID`, or the active one.
fn select_shard(
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<ShardState, ApiError> {
    let view = state.log.view();
    match params.get("treeID") {
        Some(tree_id) => {
            let tree_id = parse_u64_param("treeID", tree_id)?;
            view.shard_by_tree_id(tree_id)
                .cloned()
                .ok_or_else(|| ApiError::not_found(format!("no shard with treeID {tree_id}")))
        }
        None => view.active().cloned().ok_or_else(ApiError::internal),
    }
}

#[derive(Serialize)]
struct ConsistencyProof {
    hashes: Vec<String>,
    #[serde(rename = "rootHash")]
    root_hash: String,
}

pub async fn consistency_proof(
    State(state): State<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = parse_query(params)?;
    let first = match params.get("firstSize") {
        Some(v) => parse_u64_param("firstSize", v)?,
        None => 1,
    };
    let last = params
        .get("lastSize")
        .ok_or_else(|| ApiError::bad_request("lastSize is required"))
        .and_then(|v| parse_u64_param("lastSize", v))?;
    if first == 0 || last == 0 {
        return Err(ApiError::bad_request(
            "firstSize and lastSize must be at least 1",
        ));
    }
    if first > last {
        return Err(ApiError::bad_request(format!(
            "firstSize({first}) must be less than or equal to lastSize({last})"
        )));
    }
    let shard = select_shard(&state, &params)?;
    if last > shard.checkpoint.size {
        return Err(ApiError::bad_request(format!(
            "lastSize({last}) is greater than the known tree size ({})",
            shard.checkpoint.size
        )));
    }
    let log = state.log.clone();
    let (root, hashes) = blocking(move || {
        let source = log.tile_source(shard.info.ordinal);
        let root = if last == shard.checkpoint.size {
            shard.checkpoint.root
        } else {
            merkle::root(&source, last).map_err(LogError::from)?
        };
        let hashes = merkle::consistency_proof(&source, first, last).map_err(LogError::from)?;
        Ok((root, hashes))
    })
    .await?;
    let body = serde_json::to_string(&ConsistencyProof {
        hashes: hashes.iter().map(hex::encode).collect(),
        root_hash: hex::encode(root),
    })
    .map_err(|_| ApiError::internal())?;
    Ok(json_response(StatusCode::OK, body))
}

pub async fn public_key(
    State(state): State<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = parse_query(params)?;
    // Every shard is signed with the log's one key; a treeID must still exist.
    select_shard(&state, &params)?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.log.keys().public_key_pem.clone(),
    )
        .into_response())
}
