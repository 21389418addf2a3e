//! RFC 6962 v1 under `/ct/v1/`. Errors use the `{"code","message"}` JSON
//! shape of the other APIs; every refusal of bad input is a 400.

use std::collections::HashMap;
use std::sync::Arc;

use atesto_common::ct::{AddChainResponse, TimestampedEntry};
use atesto_common::error::ApiError;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use atesto_tlog_engine::log::LogError;
use atesto_tlog_engine::merkle;
use atesto_tlog_engine::sequencer::SubmitError;
use atesto_tlog_engine::submission;
use atesto_tlog_http::forward::forward_write;
use atesto_tlog_http::{
    ApiOptions, Body, blocking, explorer, json_response, ops, parse_query, parse_u64_param,
    submit_failure, tiles, with_common_layers,
};

use crate::chain::{self, Submission};
use crate::leaf;
use crate::log::{CtLog, now_ms};
use crate::sct;

/// Most entries one get-entries answers; longer ranges are cut, as CT logs do.
pub const MAX_GET_ENTRIES: u64 = 256;

pub fn router(ct: Arc<CtLog>, options: &ApiOptions) -> Router {
    let metrics = ct.log.metrics().http.clone();
    // The C2SP tiles too: what a bucket copy of the log (`--object-store`)
    // holds, served where the log runs alone (`atesto dev` serves Rekor's there).
    let routes = ops::routes()
        .merge(tiles::routes())
        .with_state(ct.clone())
        .merge(routes(ct))
        .merge(explorer::routes());
    with_common_layers(routes, metrics, options)
}

/// The RFC 6962 routes alone, for a process that serves them beside
/// another log's (`atesto dev`).
pub fn routes(ct: Arc<CtLog>) -> Router {
    Router::new()
        .route("/ct/v1/add-chain", post(add_chain))
        .route("/ct/v1/add-pre-chain", post(add_pre_chain))
        .route("/ct/v1/get-sth", get(get_sth))
        .route("/ct/v1/get-sth-consistency", get(get_sth_consistency))
        .route("/ct/v1/get-proof-by-hash", get(get_proof_by_hash))
        .route("/ct/v1/get-entries", get(get_entries))
        .route("/ct/v1/get-roots", get(get_roots))
        .route("/ct/public-key", get(public_key))
        .with_state(ct)
}

/// GET /ct/public-key: the log key, PEM. RFC 6962 publishes keys only in log
/// lists; Atesto serves it too (outside `/ct/v1/`), so that the explorer can
/// check the STH's signature, as it checks Rekor checkpoints against
/// `/api/v1/log/publicKey`. Its SHA-256 is the log ID in every SCT.
async fn public_key(State(ct): State<Arc<CtLog>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        ct.log.keys().public_key_pem.clone(),
    )
        .into_response()
}

fn ok_json(value: &impl Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_string(value).map_err(|_| ApiError::internal())?;
    Ok(json_response(StatusCode::OK, body))
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[derive(Deserialize)]
struct AddChainRequest {
    chain: Vec<String>,
}

async fn add_chain(
    State(ct): State<Arc<CtLog>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    add(ct, &uri, &headers, body, Submission::Final).await
}

async fn add_pre_chain(
    State(ct): State<Arc<CtLog>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    add(ct, &uri, &headers, body, Submission::Precert).await
}

async fn add(
    ct: Arc<CtLog>,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: axum::body::Bytes,
    kind: Submission,
) -> Result<Response, ApiError> {
    // Replicas: the integrator takes the write.
    if let Some(answer) = forward_write(&ct.log, headers, uri.path(), &body).await {
        return Ok(answer);
    }
    submit(ct, &body, kind).await
}

/// What a submission found: an entry already logged, or a new one to integrate.
enum Checked {
    Logged(Vec<u8>),
    New(submission::Submission),
}

async fn submit(ct: Arc<CtLog>, body: &[u8], submission: Submission) -> Result<Response, ApiError> {
    let request: AddChainRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON {{\"chain\": [base64 DER certificates]}}: {e}"
        ))
    })?;
    let chain = request
        .chain
        .iter()
        .enumerate()
        .map(|(index, cert)| {
            STANDARD.decode(cert).map_err(|e| {
                ApiError::bad_request(format!("chain[{index}] is not valid base64: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let checking = ct.clone();
    // Chain signatures are CPU work: checked in the bounded pool.
    let checked = ct
        .cpu
        .run_api(move || {
            let accepted = chain::check(&checking.roots, &checking.verified, chain, submission)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let entry = TimestampedEntry {
                timestamp: now_ms(),
                entry: accepted.entry,
            };
            let identity = format!("ct:{}", hex::encode(Sha256::digest(entry.identity())));
            if let Some(&index) = checking.log.search(&identity)?.first() {
                return Ok(Checked::Logged(stored_leaf(&checking, index)?));
            }
            // The check above is only a fast path: copies submitted at once all
            // miss it, and the sequencer dedups them by this key in its batch.
            Ok(Checked::New(submission::Submission {
                leaf: entry.merkle_tree_leaf(),
                index_keys: vec![identity.clone()],
                extra: accepted.extra_data,
                dedup_key: Some(identity),
            }))
        })
        .await?;

    let leaf = match checked {
        Checked::Logged(leaf) => leaf,
        Checked::New(prepared) => {
            let metrics = ct.log.metrics();
            let pending = ct
                .log
                .submit(prepared)
                .map_err(|e| submit_failure(metrics, e))?;
            // The SCT is only signed once the entry is durably in the tree.
            match pending.await {
                Ok(Ok(integrated)) => integrated.entry.body,
                Ok(Err(SubmitError::Duplicate(index))) => {
                    let reading = ct.clone();
                    blocking(move || stored_leaf(&reading, index)).await?
                }
                Ok(Err(err)) => return Err(submit_failure(metrics, err)),
                Err(_) => return Err(submit_failure(metrics, SubmitError::Stopped)),
            }
        }
    };
    let timestamp = leaf::leaf_timestamp(&leaf).ok_or_else(|| {
        tracing::error!("a stored CT leaf is too short");
        ApiError::internal()
    })?;
    let signing = ct.clone();
    // The SCT's ECDSA signature is CPU work too: made in the bounded pool.
    let signature = ct
        .cpu
        .run_api(
            move || Ok(sct::sign_sct_input(signing.log.keys(), &leaf).map_err(LogError::from)?),
        )
        .await?;
    ok_json(&AddChainResponse {
        sct_version: 0,
        id: b64(&ct.log_id),
        timestamp,
        extensions: String::new(),
        signature: b64(&signature),
    })
}

/// The MerkleTreeLeaf stored at `index`. Blocking.
fn stored_leaf(ct: &CtLog, index: u64) -> Result<Vec<u8>, ApiError> {
    let entry = ct.log.read_entries(index..index + 1)?;
    let entry = entry.into_iter().next().ok_or_else(|| {
        tracing::error!(index, "an indexed CT entry is missing");
        ApiError::internal()
    })?;
    Ok(entry.body)
}

#[derive(Serialize)]
struct SthResponse {
    tree_size: u64,
    timestamp: u64,
    sha256_root_hash: String,
    tree_head_signature: String,
}

async fn get_sth(State(ct): State<Arc<CtLog>>) -> Result<Response, ApiError> {
    let sth = ct.signed_tree_head()?;
    ok_json(&SthResponse {
        tree_size: sth.tree_size,
        timestamp: sth.timestamp,
        sha256_root_hash: b64(&sth.root),
        tree_head_signature: b64(&sth.signature),
    })
}

/// A required decimal query parameter.
fn required_u64(params: &HashMap<String, String>, name: &str) -> Result<u64, ApiError> {
    let value = params
        .get(name)
        .ok_or_else(|| ApiError::bad_request(format!("{name} is required")))?;
    parse_u64_param(name, value)
}

/// Ordinal and size of the published tree.
fn published_tree(ct: &CtLog) -> Result<(u32, u64), ApiError> {
    let view = ct.log.view();
    let active = view.active().ok_or_else(ApiError::internal)?;
    Ok((active.info.ordinal, active.checkpoint.size))
}

#[derive(Serialize)]
struct ConsistencyResponse {
    consistency: Vec<String>,
}

async fn get_sth_consistency(
    State(ct): State<Arc<CtLog>>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = parse_query(params)?;
    let first = required_u64(&params, "first")?;
    let second = required_u64(&params, "second")?;
    let (ordinal, size) = published_tree(&ct)?;
    if first > second {
        return Err(ApiError::bad_request(format!(
            "first ({first}) must not be greater than second ({second})"
        )));
    }
    if second > size {
        return Err(ApiError::bad_request(format!(
            "second ({second}) is beyond the tree size ({size})"
        )));
    }
    // Nothing to prove from the empty tree or to the same tree.
    let hashes = if first == 0 || first == second {
        Vec::new()
    } else {
        blocking(move || {
            let source = ct.log.tile_source(ordinal);
            Ok(merkle::consistency_proof(&source, first, second).map_err(LogError::from)?)
        })
        .await?
    };
    ok_json(&ConsistencyResponse {
        consistency: hashes.iter().map(|h| b64(h)).collect(),
    })
}

#[derive(Serialize)]
struct InclusionResponse {
    leaf_index: u64,
    audit_path: Vec<String>,
}

async fn get_proof_by_hash(
    State(ct): State<Arc<CtLog>>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = parse_query(params)?;
    let hash = params
        .get("hash")
        .ok_or_else(|| ApiError::bad_request("hash is required"))?;
    let hash: [u8; 32] = STANDARD
        .decode(hash)
        .ok()
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| ApiError::bad_request("hash must be the base64 of a 32-byte leaf hash"))?;
    let requested = required_u64(&params, "tree_size")?;
    let (ordinal, size) = published_tree(&ct)?;
    if requested == 0 || requested > size {
        return Err(ApiError::bad_request(format!(
            "tree_size ({requested}) must be between 1 and the tree size ({size})"
        )));
    }
    let (index, path) = blocking(move || {
        let index = ct
            .log
            .find_leaf(&hash)?
            .filter(|&i| i < requested)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "no leaf with this hash in the tree of size {requested}"
                ))
            })?;
        let source = ct.log.tile_source(ordinal);
        let path = merkle::inclusion_proof(&source, requested, index).map_err(LogError::from)?;
        Ok((index, path))
    })
    .await?;
    ok_json(&InclusionResponse {
        leaf_index: index,
        audit_path: path.iter().map(|h| b64(h)).collect(),
    })
}

#[derive(Serialize)]
struct EntryResponse {
    leaf_input: String,
    extra_data: String,
}

#[derive(Serialize)]
struct EntriesResponse {
    entries: Vec<EntryResponse>,
}

async fn get_entries(
    State(ct): State<Arc<CtLog>>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = parse_query(params)?;
    let start = required_u64(&params, "start")?;
    let end = required_u64(&params, "end")?;
    let (_, size) = published_tree(&ct)?;
    if start > end {
        return Err(ApiError::bad_request(format!(
            "start ({start}) must not be greater than end ({end})"
        )));
    }
    if start >= size {
        return Err(ApiError::bad_request(format!(
            "start ({start}) is beyond the tree size ({size})"
        )));
    }
    // Inclusive range, cut at the tree's end and at the per-request cap.
    let stop = end.min(size - 1).min(start + MAX_GET_ENTRIES - 1) + 1;
    let entries = blocking(move || Ok(ct.log.read_entries(start..stop)?)).await?;
    ok_json(&EntriesResponse {
        entries: entries
            .iter()
            .map(|e| EntryResponse {
                leaf_input: b64(&e.body),
                extra_data: b64(&e.extra),
            })
            .collect(),
    })
}

#[derive(Serialize)]
struct RootsResponse {
    certificates: Vec<String>,
}

async fn get_roots(State(ct): State<Arc<CtLog>>) -> Result<Response, ApiError> {
    ok_json(&RootsResponse {
        certificates: ct.roots.iter().map(|r| b64(&r.der)).collect(),
    })
}
