//! Writes reaching a replica that does not integrate the log go to the one
//! that does (its advertised URL, from the lease), and its answer comes
//! back unchanged: a 201 still means durable and integrated. A request
//! forwarded once is never forwarded again (a replica that lost the lease
//! meanwhile answers 503 and the client retries).

use std::sync::OnceLock;
use std::time::Duration;

use atesto_common::error::ApiError;
use atesto_tlog_engine::api_error::RETRY_AFTER_SECS;
use atesto_tlog_engine::log::Log;
use atesto_tlog_engine::replica::Role;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Marks a request one replica forwarded to another.
pub const FORWARDED: &str = "x-atesto-forwarded";

/// The headers of the integrator's answer a client may rely on (Rekor
/// v2 names a duplicate's index in `x-log-index`).
const KEPT: [HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::RETRY_AFTER,
    HeaderName::from_static("x-log-index"),
];

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default()
    })
}

fn no_integrator(reason: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("no replica integrates the log right now ({reason}); retry shortly"),
    )
    .with_header(header::RETRY_AFTER, RETRY_AFTER_SECS)
}

/// `None` when this process integrates the write itself; else the answer
/// of the integrator to the same request (`path`, `body`), or a 503.
pub async fn forward_write(
    log: &Log,
    headers: &HeaderMap,
    path: &str,
    body: &Bytes,
) -> Option<Response> {
    let integrator = match &*log.role()? {
        Role::Integrator => return None,
        Role::Follower { integrator } => integrator.clone(),
    };
    if headers.contains_key(FORWARDED) {
        return Some(no_integrator("the lease moved while forwarding").into_response());
    }
    let Some(base) = integrator else {
        return Some(no_integrator("the lease is being taken over").into_response());
    };
    log.metrics().forwarded.inc();
    let mut request = client()
        .post(format!("{}{path}", base.trim_end_matches('/')))
        .header(FORWARDED, "1")
        .body(body.clone());
    // The admin token of an admin write: replicas share it.
    for name in [header::CONTENT_TYPE, header::AUTHORIZATION] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(err) => {
            tracing::warn!(%err, integrator = %base, "forwarding a write failed");
            return Some(no_integrator("the integrator did not answer").into_response());
        }
    };
    let status = answer.status();
    let kept: Vec<(HeaderName, axum::http::HeaderValue)> = KEPT
        .iter()
        .filter_map(|name| Some((name.clone(), answer.headers().get(name)?.clone())))
        .collect();
    let body = match answer.bytes().await {
        Ok(body) => body,
        Err(err) => {
            tracing::warn!(%err, integrator = %base, "reading a forwarded answer failed");
            return Some(no_integrator("the integrator's answer was cut").into_response());
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    // Replaces the default content type of a byte body.
    for (name, value) in kept {
        headers.insert(name, value);
    }
    Some(response)
}
