//! The HTTP API of sigstore's timestamp-authority:
//!
//! - `POST /api/v1/timestamp`: a DER TimeStampReq (`application/timestamp-query`)
//!   or sigstore's JSON request (`application/json`); `200` with the DER
//!   TimeStampResp (`application/timestamp-reply`), or a 400
//!   `{"code","message"}` saying what was wrong with the request.
//! - `GET /api/v1/timestamp/certchain`: the chain as PEM.
//! - `/healthz`, `/metrics`.
//!
//! Signing runs on the bounded CPU pool, never on the async workers.

use std::sync::Arc;
use std::time::Instant;

use atesto_common::cpu_pool::{CpuPool, CpuPoolConfig};
use atesto_common::error::ApiError;
use atesto_common::http::{ApiOptions, Body, HttpMetrics, render_metrics, with_common_layers};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::Tsa;
use crate::request::TimestampRequest;

pub const TIMESTAMP_PATH: &str = "/api/v1/timestamp";
pub const TIMESTAMP_QUERY: &str = "application/timestamp-query";
pub const TIMESTAMP_REPLY: &str = "application/timestamp-reply";
pub const PEM_CHAIN: &str = "application/pem-certificate-chain";

/// Timestamps by result and signing time.
pub struct TsaMetrics {
    registry: Registry,
    pub http: Arc<HttpMetrics>,
    timestamps: IntCounterVec,
    signing_seconds: HistogramVec,
}

impl TsaMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("atesto_tsa".into()), None)?;
        let http = Arc::new(HttpMetrics::register(&registry)?);
        let timestamps = IntCounterVec::new(
            Opts::new(
                "timestamps_total",
                "Timestamp requests by result: issued, refused (4xx), failed (5xx)",
            ),
            &["result"],
        )?;
        let signing_seconds = HistogramVec::new(
            HistogramOpts::new("signing_seconds", "Time to build and sign one timestamp")
                .buckets(prometheus::exponential_buckets(0.00005, 2.0, 16)?),
            &["key"],
        )?;
        registry.register(Box::new(timestamps.clone()))?;
        registry.register(Box::new(signing_seconds.clone()))?;
        Ok(Self {
            registry,
            http,
            timestamps,
            signing_seconds,
        })
    }
}

/// What the routes share.
pub struct TsaState {
    pub tsa: Arc<Tsa>,
    pool: CpuPool,
    metrics: TsaMetrics,
    /// `file` or `pkcs11`: the signing-time label.
    key_kind: &'static str,
}

impl TsaState {
    pub fn new(
        tsa: Tsa,
        pool: &CpuPoolConfig,
        key_kind: &'static str,
    ) -> Result<Self, prometheus::Error> {
        Ok(Self {
            tsa: Arc::new(tsa),
            pool: CpuPool::new(pool),
            metrics: TsaMetrics::new()?,
            key_kind,
        })
    }
}

/// The routes without the shared layers, for nesting under another service.
pub fn routes(state: Arc<TsaState>) -> Router {
    Router::new()
        .route(TIMESTAMP_PATH, post(timestamp))
        .route("/api/v1/timestamp/certchain", get(certchain))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The TSA's own service: its routes in the layers every service shares.
pub fn router(state: Arc<TsaState>, options: &ApiOptions) -> Router {
    let metrics = state.metrics.http.clone();
    with_common_layers(routes(state), metrics, options)
}

async fn timestamp(
    State(state): State<Arc<TsaState>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Response {
    let result = issue(&state, &headers, body.to_vec()).await;
    let outcome = match &result {
        Ok(_) => "issued",
        Err(error) if error.status.is_client_error() => "refused",
        Err(_) => "failed",
    };
    state.metrics.timestamps.with_label_values(&[outcome]).inc();
    match result {
        Ok(reply) => (
            // As sigstore's timestamp-authority since v1.2 (201 only behind its
            // `--use-http-201`).
            StatusCode::OK,
            [(header::CONTENT_TYPE, TIMESTAMP_REPLY)],
            reply,
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn issue(state: &TsaState, headers: &HeaderMap, body: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let request = match media_type.as_str() {
        TIMESTAMP_QUERY => TimestampRequest::from_der(&body)?,
        "application/json" => TimestampRequest::from_json(&body)?,
        _ => {
            return Err(ApiError::bad_request(format!(
                "Content-Type must be {TIMESTAMP_QUERY} (a DER TimeStampReq) or application/json, not {media_type:?}"
            )));
        }
    };
    // Refused before queueing for a signature.
    state.tsa.policy_for(&request)?;
    let tsa = state.tsa.clone();
    let signing_seconds = state
        .metrics
        .signing_seconds
        .with_label_values(&[state.key_kind]);
    state
        .pool
        .run_api(move || {
            let started = Instant::now();
            let reply = tsa.timestamp(&request)?;
            signing_seconds.observe(started.elapsed().as_secs_f64());
            Ok(reply)
        })
        .await
}

async fn certchain(State(state): State<Arc<TsaState>>) -> Response {
    (
        [(header::CONTENT_TYPE, PEM_CHAIN)],
        state.tsa.chain_pem().to_owned(),
    )
        .into_response()
}

/// Once it serves, the chain and key are loaded and self-checked.
async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<Arc<TsaState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render_metrics(&state.metrics.registry),
    )
        .into_response()
}
