//! The log's HTTP surface: the Rekor v1 API (`v1/`), the C2SP tlog-tiles read
//! API (`tiles`), and operations (`ops`: health, metrics, admin).
//!
//! Every failure a client can cause answers 4xx in the `{"code","message"}`
//! shape; only the server's own faults answer 5xx.

pub mod ops;
pub mod tiles;
pub mod v1;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atesto_common::error::ApiError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::log::{Log, LogError};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub log: Arc<Log>,
    /// Bearer token of the admin endpoints.
    pub admin_token: Arc<str>,
}

pub struct ApiOptions {
    pub body_limit: usize,
    pub request_timeout: Duration,
}

pub fn router(state: AppState, options: &ApiOptions) -> Router {
    Router::new()
        .merge(v1::routes())
        .merge(tiles::routes())
        .merge(ops::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    )
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.log.metrics;
    metrics
        .http_seconds
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .http_responses
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    response
}

/// A request body within the configured limit; an oversized or unreadable
/// body is a 413 or 400 in the Rekor shape rather than axum's plain text.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "request body is larger than this log accepts",
                    )
                } else {
                    ApiError::bad_request(format!(
                        "reading the request body: {}",
                        rejection.body_text()
                    ))
                }
            })
    }
}

impl From<LogError> for ApiError {
    fn from(err: LogError) -> Self {
        tracing::error!(%err, "request failed inside the log");
        ApiError::internal()
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

/// A JSON answer with the given status, serialized compactly with a trailing newline.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut body = body;
    body.push('\n');
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
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
