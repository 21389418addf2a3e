//! The admin endpoint: `POST /admin/v1/rotate` starts a new shard, with
//! the bearer token kept in the data directory (replicas share one, and a
//! follower forwards the rotation to the integrator).

use atesto_common::error::ApiError;
use atesto_tlog_engine::sequencer::SubmitError;
use atesto_tlog_http::forward::forward_write;
use atesto_tlog_http::json_response;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/v1/rotate", post(rotate))
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
    // Replicas: the integrator rotates (they share the admin token).
    let path = "/admin/v1/rotate";
    if let Some(answer) = forward_write(&state.log, &headers, path, &Bytes::new()).await {
        return Ok(answer);
    }
    let shard = state.log.rotate().await.map_err(|err| match err {
        SubmitError::Stopped => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the log is shutting down")
        }
        SubmitError::NotIntegrator(url) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "rotate on the integrating replica ({})",
                url.as_deref().unwrap_or("none right now")
            ),
        ),
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
