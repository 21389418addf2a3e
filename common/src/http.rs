//! What every Atesto HTTP service shares: JSON 404/405 answers, the body
//! limit (an over-limit Content-Length refused at once), per-route metrics, the request time limit, tracing, and a body
//! extractor whose failures are in the `{"code","message"}` shape.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;
use tokio::time::Timeout;
use tower::{Layer, Service, ServiceBuilder};
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
    // One `Router::layer` call: axum boxes each route once per call, and a
    // request pays a clone and a boxed future for every box it passes.
    let shared = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(SharedChecksLayer {
            metrics,
            body_limit: options.body_limit,
            time_limit: options.request_timeout,
        })
        .layer(DefaultBodyLimit::max(options.body_limit));
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(shared)
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

/// The checks and records every request passes, in one service with a
/// concrete future (no per-request box):
/// - a body whose declared length is over the limit is refused before any
///   of it is read; otherwise the client would wait for the time limit
///   while the server waited for bytes it would refuse anyway;
/// - a request that runs past the time limit (a slow client's body
///   included) is abandoned with a 408 in the upstream shape, where
///   tower-http's `TimeoutLayer` would answer with an empty body;
/// - every answer, those two included, is counted by route and status.
#[derive(Clone)]
struct SharedChecksLayer {
    metrics: Arc<HttpMetrics>,
    body_limit: usize,
    time_limit: Duration,
}

impl<S> Layer<S> for SharedChecksLayer {
    type Service = SharedChecks<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SharedChecks {
            inner,
            settings: self.clone(),
        }
    }
}

#[derive(Clone)]
struct SharedChecks<S> {
    inner: S,
    settings: SharedChecksLayer,
}

impl<S> Service<Request> for SharedChecks<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = SharedChecksFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let record = Record {
            metrics: self.settings.metrics.clone(),
            route: request.extensions().get::<MatchedPath>().cloned(),
            started: Instant::now(),
        };
        let declared = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        let state = if declared.is_some_and(|length| length > self.settings.body_limit as u64) {
            Answer::Refused
        } else {
            Answer::Running {
                inner: tokio::time::timeout(self.settings.time_limit, self.inner.call(request)),
                limit: self.settings.time_limit,
            }
        };
        SharedChecksFuture { state, record }
    }
}

/// What `SharedChecksFuture` counts once its answer is ready.
struct Record {
    metrics: Arc<HttpMetrics>,
    route: Option<MatchedPath>,
    started: Instant,
}

impl Record {
    fn observe(&self, response: &Response) {
        let route = self.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        self.metrics
            .seconds
            .with_label_values(&[route])
            .observe(self.started.elapsed().as_secs_f64());
        self.metrics
            .responses
            .with_label_values(&[route, response.status().as_str()])
            .inc();
    }
}

pin_project! {
    struct SharedChecksFuture<F> {
        #[pin]
        state: Answer<F>,
        record: Record,
    }
}

pin_project! {
    #[project = AnswerProjection]
    enum Answer<F> {
        Running { #[pin] inner: Timeout<F>, limit: Duration },
        Refused,
    }
}

impl<F> Future for SharedChecksFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            AnswerProjection::Running { inner, limit } => match inner.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(answered)) => answered?,
                Poll::Ready(Err(_elapsed)) => ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the request was not completed within {} s", limit.as_secs()),
                )
                .into_response(),
            },
            AnswerProjection::Refused => body_too_large().into_response(),
        };
        this.record.observe(&response);
        Poll::Ready(Ok(response))
    }
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request body is larger than this server accepts",
    )
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
