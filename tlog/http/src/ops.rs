//! Health, readiness, metrics and the admin endpoint that rotates shards.

use atesto_common::error::ApiError;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::api::{AppState, blocking, json_response};
use crate::log::Log;
use crate::sequencer::SubmitError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<AppState>))
        .route("/metrics", get(metrics::<AppState>))
        .route("/admin/v1/rotate", post(rotate))
}

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// The state of a router serving one log engine (the Rekor API or the CT API).
pub(crate) trait LogState: Clone + Send + Sync + 'static {
    fn log(&self) -> &Log;
}

impl LogState for AppState {
    fn log(&self) -> &Log {
        &self.log
    }
}

/// Ready when the store answers a read and its last commit did not fail
/// for want of storage (the sequencer clears that once a commit succeeds).
pub(crate) async fn readyz<S: LogState>(State(state): State<S>) -> Result<&'static str, ApiError> {
    if !state.log().sequencer.is_writable() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot commit (is the disk full?)",
        ));
    }
    let store = state.log().store.clone();
    blocking(move || {
        store.shards().map_err(|err| {
            tracing::warn!(%err, "store not ready");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        })
    })
    .await?;
    Ok("ready\n")
}

pub(crate) async fn metrics<S: LogState>(State(state): State<S>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.log().metrics.render(),
    )
        .into_response()
}

/// Starts a new shard. Authorized by the token in the data directory.
async fn rotate(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "admin token required"))?;
    if !constant_time_eq(presented.as_bytes(), state.admin_token.as_bytes()) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "wrong admin token"));
    }
    let shard = state
        .log
        .sequencer
        .rotate()
        .await
        .map_err(|err| match err {
            SubmitError::Stopped => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the log is shutting down")
            }
            other => {
                tracing::error!(err = %other, "rotation failed");
                ApiError::internal()
            }
        })?;
    let body = serde_json::json!({
        "treeID": shard.info.tree_id.to_string(),
        "startIndex": shard.info.start,
        "origin": shard.info.origin,
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
