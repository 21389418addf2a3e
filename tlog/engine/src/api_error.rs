//! What a client is told when the engine fails: the one mapping every
//! personality's HTTP API shares. It sits beside `LogError` because only
//! the crate of one of the two types may implement the conversion.

use atesto_common::error::ApiError;
use axum::http::{StatusCode, header};

use crate::log::LogError;
use crate::store::StoreError;

/// Seconds a client is told to wait before retrying a 503.
pub const RETRY_AFTER_SECS: &str = "1";

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
pub fn store_unavailable(err: &StoreError) -> ApiError {
    tracing::warn!(%err, "the store is unavailable");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the log cannot store entries right now; retry shortly",
    )
    .with_header(header::RETRY_AFTER, RETRY_AFTER_SECS)
}
