//! POST /api/v1/index/retrieve: entry ids by artifact hash, email, public key
//! or subject, combined with `and` / `or`.

use std::collections::BTreeSet;

use atesto_common::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use atesto_tlog_engine::merkle;
use atesto_tlog_engine::view::entry_id;
use atesto_tlog_http::{Body, blocking, json_response};

use crate::entry::index::{Operator, parse_index_query};
use crate::state::AppState;

/// Most entry ids one search answers; the most recent matches are kept.
pub const MAX_INDEX_RESULTS: usize = 1000;

pub async fn retrieve(
    State(state): State<AppState>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let query = parse_index_query(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let log = state.log.clone();
    let ids = blocking(move || {
        let mut matched: Option<BTreeSet<u64>> = None;
        for key in &query.keys {
            let hits: BTreeSet<u64> = log.search(key)?.into_iter().collect();
            matched = Some(match (matched, query.operator) {
                (None, _) => hits,
                (Some(acc), Operator::And) => acc.intersection(&hits).copied().collect(),
                (Some(acc), Operator::Or) => acc.union(&hits).copied().collect(),
            });
        }
        // Only entries under a published checkpoint are answered, and at most
        // MAX_INDEX_RESULTS of them, the most recent: a key under millions of
        // entries must not cost millions of reads in one request.
        let view = log.view();
        let published: Vec<u64> = matched
            .unwrap_or_default()
            .into_iter()
            .filter(|&index| view.shard_of_index(index).is_some())
            .collect();
        let newest = published.len().saturating_sub(MAX_INDEX_RESULTS);
        let mut ids = Vec::new();
        for &index in published.get(newest..).unwrap_or_default() {
            let Some(shard) = view.shard_of_index(index) else {
                continue;
            };
            let entries = log.read_entries(index..index + 1)?;
            if let Some(entry) = entries.first() {
                ids.push(entry_id(
                    shard.info.tree_id,
                    &merkle::leaf_hash(&entry.body),
                ));
            }
        }
        Ok(ids)
    })
    .await?;
    let body = serde_json::to_string(&ids).map_err(|_| ApiError::internal())?;
    Ok(json_response(StatusCode::OK, body))
}
