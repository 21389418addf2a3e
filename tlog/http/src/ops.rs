//! Health, readiness and metrics of a log, for any personality's router.

use atesto_common::error::ApiError;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{LogState, blocking};

/// `/healthz`, `/readyz` and `/metrics` of the log in `S`.
pub fn routes<S: LogState>() -> Router<S> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>))
        .route("/metrics", get(metrics::<S>))
}

/// Liveness only: answers at once under any load.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the store answers a read and its last commit did not fail
/// for want of storage (the sequencer clears that once a commit succeeds).
async fn readyz<S: LogState>(State(state): State<S>) -> Result<&'static str, ApiError> {
    if !state.log().is_writable() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot commit (a full disk, an unreachable database)",
        ));
    }
    blocking(move || {
        state.log().check_store().map_err(|err| {
            tracing::warn!(%err, "store not ready");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        })
    })
    .await?;
    Ok("ready\n")
}

async fn metrics<S: LogState>(State(state): State<S>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.log().metrics().render(),
    )
        .into_response()
}
