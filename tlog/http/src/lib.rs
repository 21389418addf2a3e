//! The log's HTTP surface: the Rekor v1 API (`v1/`), the C2SP tlog-tiles read
//! API (`tiles`), operations (`ops`: health, metrics, admin) and the explorer
//! page (`explorer`).
//!
//! Every failure a client can cause answers 4xx in the `{"code","message"}`
//! shape; only the server's own faults answer 5xx.

pub mod explorer;
pub mod ops;
pub mod tiles;
pub mod v1;

use std::collections::HashMap;
use std::sync::Arc;

use atesto_common::error::ApiError;
pub use atesto_common::http::{ApiOptions, Body, json_response, with_common_layers};
use axum::Router;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;

use crate::log::{Log, LogError};
use crate::metrics::Metrics;
use crate::sequencer::SubmitError;
use crate::store::StoreError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub log: Arc<Log>,
    /// Bearer token of the admin endpoints.
    pub admin_token: Arc<str>,
}

pub fn router(state: AppState, options: &ApiOptions) -> Router {
    let metrics = state.log.metrics.http.clone();
    with_common_layers(routes(state), metrics, options)
}

/// The log's routes without the shared layers, for a process that serves
/// another API beside it (`atesto dev` adds the CT log's).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .merge(v1::routes())
        .merge(tiles::routes())
        .merge(ops::routes())
        .merge(explorer::routes())
        .with_state(state)
}

impl From<LogError> for ApiError {
    fn from(err: LogError) -> Self {
        match err {
            LogError::Store(err @ StoreError::Unavailable(_)) => store_unavailable(&err),
            other => {
                tracing::error!(err = %other, "request failed inside the log");
                ApiError::internal()
            }
        }
    }
}

/// 503 + Retry-After while the store cannot write (a full disk): the
/// sequencer retries it on its own, so the client should too.
fn store_unavailable(err: &StoreError) -> ApiError {
    tracing::warn!(%err, "the store is unavailable");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the log cannot store entries right now; retry shortly",
    )
    .with_header(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECS)
}

/// Seconds a client is told to wait before retrying a 503.
const RETRY_AFTER_SECS: &str = "1";

/// The answer to a submission the sequencer could not take or integrate
/// (duplicates excepted: each API answers those its own way).
pub fn submit_failure(metrics: &Metrics, err: SubmitError) -> ApiError {
    match err {
        SubmitError::PoolFull => {
            metrics.pool_full.inc();
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the log is at capacity; retry shortly",
            )
            .with_header(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECS)
        }
        SubmitError::Stopped => {
            tracing::error!("the sequencer is gone");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the log is shutting down")
        }
        SubmitError::Store(err @ StoreError::Unavailable(_)) => store_unavailable(&err),
        SubmitError::Store(err) => {
            tracing::error!(%err, "integrating an entry failed");
            ApiError::internal()
        }
        SubmitError::Duplicate(index) => {
            tracing::error!(index, "an unexpected duplicate reached the generic handler");
            ApiError::internal()
        }
    }
}

/// Runs a blocking store read off the async workers.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| {
        tracing::error!(%err, "blocking task failed");
        ApiError::internal()
    })?
}

/// The query string as a map; a malformed one is a 400.
pub fn parse_query(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("malformed query: {}", e.body_text())))
}

/// Parses a decimal query parameter, refusing negatives and garbage with a 400.
pub fn parse_u64_param(name: &str, value: &str) -> Result<u64, ApiError> {
    value.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be a non-negative integer below 2^64, got {value:?}"
        ))
    })
}
