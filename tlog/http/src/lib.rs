//! The HTTP pieces every log personality serves, whatever its API: the
//! C2SP tlog-tiles read API (`tiles`), operations (`ops`: health,
//! readiness, metrics), the explorer page (`explorer`), and the helpers
//! their handlers share. A personality's router mounts them on its own
//! state, which only has to say where its `Log` is (`LogState`).
//!
//! Every failure a client can cause answers 4xx in the `{"code","message"}`
//! shape; only the server's own faults answer 5xx.

pub mod explorer;
pub mod forward;
pub mod ops;
pub mod tiles;

use std::collections::HashMap;

use atesto_common::error::ApiError;
pub use atesto_common::http::{ApiOptions, Body, json_response, with_common_layers};
use atesto_tlog_engine::api_error::{RETRY_AFTER_SECS, store_unavailable};
use atesto_tlog_engine::log::Log;
use atesto_tlog_engine::metrics::Metrics;
use atesto_tlog_engine::sequencer::SubmitError;
use atesto_tlog_engine::store::StoreError;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;

/// The state of a router serving one log (the Rekor API, the CT API, ...).
/// Cloned into blocking reads, so keep it a handle (an `Arc`).
pub trait LogState: Clone + Send + Sync + 'static {
    fn log(&self) -> &Log;
}

/// A personality whose router state is an `Arc` of it.
impl<T: AsRef<Log> + Send + Sync + 'static> LogState for std::sync::Arc<T> {
    fn log(&self) -> &Log {
        (**self).as_ref()
    }
}

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
        SubmitError::NotIntegrator(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "another replica integrates the log; retry shortly",
        )
        .with_header(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECS),
        SubmitError::Store(err @ StoreError::Unavailable(_)) => store_unavailable(&err),
        SubmitError::Store(err) => {
            tracing::error!(%err, "integrating an entry failed");
            ApiError::internal()
        }
        SubmitError::Sign(err) => {
            tracing::error!(%err, "signing for an entry failed");
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
