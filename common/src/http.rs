//! What every Atesto HTTP service shares: JSON 404/405 answers, the body
//! limit (an over-limit Content-Length refused at once), per-route metrics, the request time limit, tracing, and a body
//! extractor whose failures are in the `{"code","message"}` shape.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

pub struct ApiOptions {
    pub body_limit: usize,
    pub request_timeout: Duration,
}

/// HTTP answers and handling time by route, registered in a service's registry.
pub struct HttpMetrics {
    responses: IntCounterVec,
    seconds: HistogramVec,
}

impl HttpMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let responses = IntCounterVec::new(
            Opts::new("http_responses_total", "HTTP responses by route and status"),
            &["route", "status"],
        )?;
        let seconds = HistogramVec::new(
            HistogramOpts::new("http_seconds", "HTTP handling time by route")
                .buckets(prometheus::exponential_buckets(0.0001, 2.0, 16)?),
            &["route"],
        )?;
        registry.register(Box::new(responses.clone()))?;
        registry.register(Box::new(seconds.clone()))?;
        Ok(Self { responses, seconds })
    }
}

/// The text exposition format of a registry.
pub fn render_metrics(registry: &Registry) -> String {
    let mut out = Vec::new();
    // Encoding into a Vec cannot fail on I/O; a metric family error would be a bug.
    if let Err(err) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::error!(%err, "encoding metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Wraps a service's routes in the layers every service shares.
pub fn with_common_layers(
    routes: Router,
    metrics: Arc<HttpMetrics>,
    options: &ApiOptions,
) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(middleware::from_fn_with_state(
            options.body_limit,
            refuse_declared_oversize,
        ))
        .layer(middleware::from_fn_with_state(metrics, record_metrics))
        .layer(middleware::from_fn_with_state(
            options.request_timeout,
            time_limit,
        ))
        .layer(TraceLayer::new_for_http())
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

/// Abandons a request that runs past the configured time (a slow client's
/// body included) with a 408 in the upstream shape; tower-http's
/// `TimeoutLayer` would answer with an empty body.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request was not completed within {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// A body whose declared length is over the limit is refused before any of
/// it is read; otherwise the client would wait for the request time limit
/// while the server waited for bytes it would refuse anyway.
async fn refuse_declared_oversize(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return body_too_large().into_response();
    }
    next.run(request).await
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request body is larger than this server accepts",
    )
}

async fn record_metrics(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .seconds
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .responses
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    response
}

/// A request body within the configured limit; an oversized or unreadable
/// body is a 413 or 400 in the upstream shape rather than axum's plain text.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    body_too_large()
                } else {
                    ApiError::bad_request(format!(
                        "reading the request body: {}",
                        rejection.body_text()
                    ))
                }
            })
    }
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
