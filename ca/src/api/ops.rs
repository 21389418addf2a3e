//! Liveness and metrics.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::CaState;

pub fn routes() -> Router<Arc<CaState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// The CA holds no store: once it serves, its chain, key and issuers are loaded.
async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<Arc<CaState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
