//! POST /api/v1/log/entries and the entry reads.

use std::collections::HashMap;

use atesto_common::error::ApiError;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use atesto_tlog_engine::merkle;
use atesto_tlog_engine::sequencer::SubmitError;
use atesto_tlog_engine::view::{ProvenEntry, entry_id};
use atesto_tlog_http::forward::forward_write;
use atesto_tlog_http::{
    Body, blocking, json_response, parse_query, parse_u64_param, submit_failure,
};

use super::log_entry;
use crate::entry;
use crate::state::AppState;

/// Most entries one retrieve request may name, as Rekor.
const MAX_RETRIEVE: usize = 10;

fn created(entry: &ProvenEntry, log_id_hex: &str) -> Response {
    let id = entry.entry_id();
    let mut response = json_response(StatusCode::CREATED, log_entry::render(entry, log_id_hex));
    let headers = response.headers_mut();
    if let Ok(etag) = id.parse() {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(location) = format!("/api/v1/log/entries/{id}").parse() {
        headers.insert(header::LOCATION, location);
    }
    response
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    // Replicas: the integrator takes the write (and verifies it).
    if let Some(answer) = forward_write(&state.log, &headers, "/api/v1/log/entries", &body).await {
        return Ok(answer);
    }
    // Signature checks are CPU work: they run in the bounded pool.
    let prepared = state.cpu.run_api(move || prepare_proposed(&body)).await?;
    // Entry bundles (C2SP tlog-tiles) prefix each entry with a 16-bit length.
    if prepared.body.len() > usize::from(u16::MAX) {
        return Err(ApiError::bad_request(format!(
            "the canonical entry is {} bytes; entries are limited to {} bytes",
            prepared.body.len(),
            u16::MAX
        )));
    }
    let leaf_hash = merkle::leaf_hash(&prepared.body);
    let pending = state
        .log
        .submit(prepared.into_submission())
        .map_err(|err| submit_error(&state, err, &leaf_hash))?;
    let integrated = pending
        .await
        .map_err(|_| submit_error(&state, SubmitError::Stopped, &leaf_hash))?
        .map_err(|err| submit_error(&state, err, &leaf_hash))?;
    Ok(created(&integrated, &state.log.keys().log_id_hex))
}

/// Validates a ProposedEntry and verifies its signatures; a refusal is a 400. CPU-bound.
fn prepare_proposed(body: &[u8]) -> Result<entry::PreparedEntry, ApiError> {
    entry::prepare(body).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn submit_error(state: &AppState, err: SubmitError, leaf_hash: &[u8; 32]) -> ApiError {
    match err {
        SubmitError::Duplicate(index) => {
            let view = state.log.view();
            // The shard with the greatest start at or below the index holds it.
            let tree_id = view
                .shards
                .iter()
                .rev()
                .find(|s| s.info.start <= index)
                .map_or(0, |s| s.info.tree_id);
            let id = entry_id(tree_id, leaf_hash);
            ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "an equivalent entry already exists in the transparency log with UUID {id}"
                ),
            )
            .with_header(header::LOCATION, &format!("/api/v1/log/entries/{id}"))
        }
        other => submit_failure(state.log.metrics(), other),
    }
}

fn entry_response(
    entry: Option<ProvenEntry>,
    log_id_hex: &str,
    what: &str,
) -> Result<Response, ApiError> {
    let entry = entry.ok_or_else(|| ApiError::not_found(format!("no entry with {what}")))?;
    Ok(json_response(
        StatusCode::OK,
        log_entry::render(&entry, log_id_hex),
    ))
}

pub async fn get_by_index(
    State(state): State<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = parse_query(params)?;
    let raw = params
        .get("logIndex")
        .ok_or_else(|| ApiError::bad_request("logIndex is required"))?;
    let index = parse_u64_param("logIndex", raw)?;
    let entry = state.log.entry_at_async(index).await?;
    entry_response(
        entry,
        &state.log.keys().log_id_hex,
        &format!("logIndex {index}"),
    )
}

/// An entry id: 64 hex digits (the leaf hash) or 80 (tree id, then leaf hash).
pub fn parse_entry_id(id: &str) -> Result<(Option<u64>, [u8; 32]), ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "entry id must be 64 or 80 hexadecimal characters, got {} characters",
            id.chars().count()
        ))
    };
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("entry id must be hexadecimal"));
    }
    let (tree_id, leaf) = match id.len() {
        64 => (None, id),
        80 => {
            let tree_id = u64::from_str_radix(&id[..16], 16).map_err(|_| bad())?;
            (Some(tree_id), &id[16..])
        }
        _ => return Err(bad()),
    };
    let mut hash = [0u8; 32];
    hex::decode_to_slice(leaf, &mut hash).map_err(|_| bad())?;
    Ok((tree_id, hash))
}

pub async fn get_by_id(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (tree_id, leaf_hash) = parse_entry_id(&id)?;
    let log = state.log.clone();
    let entry = blocking(move || Ok(log.entry_by_leaf(&leaf_hash, tree_id)?)).await?;
    entry_response(entry, &state.log.keys().log_id_hex, &format!("UUID {id}"))
}

/// Go clients (cosign's generated Rekor client) send the lists they leave
/// empty as `null`: null reads as absent.
#[derive(Deserialize)]
struct RetrieveRequest {
    #[serde(rename = "entryUUIDs", default)]
    entry_uuids: Option<Vec<String>>,
    #[serde(rename = "logIndexes", default)]
    log_indexes: Option<Vec<i64>>,
    #[serde(default)]
    entries: Option<Vec<serde_json::Value>>,
}

/// POST /api/v1/log/entries/retrieve: entries by id, index or content; the
/// ones not in the log are left out of the answer.
pub async fn retrieve(
    State(state): State<AppState>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let request: RetrieveRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed search query: {e}")))?;
    let entry_uuids = request.entry_uuids.unwrap_or_default();
    let log_indexes = request.log_indexes.unwrap_or_default();
    let entries = request.entries.unwrap_or_default();
    let count = entry_uuids.len() + log_indexes.len() + entries.len();
    if count == 0 {
        return Err(ApiError::bad_request(
            "name at least one of entryUUIDs, logIndexes or entries",
        ));
    }
    if count > MAX_RETRIEVE {
        return Err(ApiError::unprocessable(format!(
            "at most {MAX_RETRIEVE} entries may be retrieved at once, {count} were asked for"
        )));
    }
    let mut by_leaf = Vec::new();
    for id in &entry_uuids {
        by_leaf.push(parse_entry_id(id)?);
    }
    if !entries.is_empty() {
        // Proposed entries are verified like new ones: CPU work for the pool.
        let proposals = entries;
        let leaves = state
            .cpu
            .run_api(move || {
                proposals
                    .iter()
                    .map(|proposed| {
                        let bytes =
                            serde_json::to_vec(proposed).map_err(|_| ApiError::internal())?;
                        Ok(merkle::leaf_hash(&prepare_proposed(&bytes)?.body))
                    })
                    .collect::<Result<Vec<_>, ApiError>>()
            })
            .await?;
        by_leaf.extend(leaves.into_iter().map(|leaf| (None, leaf)));
    }
    let mut indexes = Vec::new();
    for &index in &log_indexes {
        indexes.push(u64::try_from(index).map_err(|_| {
            ApiError::bad_request(format!("logIndexes must be non-negative, got {index}"))
        })?);
    }
    let log = state.log.clone();
    let found = blocking(move || {
        let mut found = Vec::new();
        for (tree_id, leaf) in by_leaf {
            found.extend(log.entry_by_leaf(&leaf, tree_id)?);
        }
        for index in indexes {
            found.extend(log.entry_at(index)?);
        }
        Ok(found)
    })
    .await?;
    let log_id = &state.log.keys().log_id_hex;
    let rendered: Vec<String> = found.iter().map(|e| log_entry::render(e, log_id)).collect();
    Ok(json_response(
        StatusCode::OK,
        format!("[{}]", rendered.join(",")),
    ))
}
