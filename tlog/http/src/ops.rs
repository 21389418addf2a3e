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
/// Followers of the log (publication to object storage) add a line each,
/// `degraded: ...` while they fail or lag, without making it unready: the
/// store is the authority and takes writes whatever they do.
async fn readyz<S: LogState>(State(state): State<S>) -> Result<String, ApiError> {
    if !state.log().is_writable() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot commit (a full disk, an unreachable database)",
        ));
    }
    let followers = blocking(move || {
        state.log().check_store().map_err(|err| {
            tracing::warn!(%err, "store not ready");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        })?;
        Ok(state.log().follower_status())
    })
    .await?;
    let mut body = String::from("ready\n");
    for status in followers {
        match status {
            Ok(line) => body.push_str(&format!("{line}\n")),
            Err(line) => body.push_str(&format!("degraded: {line}\n")),
        }
    }
    Ok(body)
}

async fn metrics<S: LogState>(State(state): State<S>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.log().metrics().render(),
    )
        .into_response()
}
