//! `POST /api/v2/log/entries`, and the routes of the v2 log: the C2SP
//! tlog-tiles read API under `/api/v2/` (as rekor-tiles serves it) and at
//! the root (as a static tiles log is read), health and metrics.

use std::sync::Arc;

use atesto_common::error::ApiError;
use atesto_common::http::{ApiOptions, with_common_layers};
use atesto_tlog_engine::sequencer::SubmitError;
use atesto_tlog_http::forward::forward_write;
use atesto_tlog_http::{Body, json_response, ops, submit_failure, tiles};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::Response;
use axum::routing::post;

use crate::answer;
use crate::entry;
use crate::state::RekorV2;

/// Upstream's header naming the index of the entry a duplicate repeats.
const LOG_INDEX_HEADER: &str = "x-log-index";

pub fn router(state: Arc<RekorV2>, options: &ApiOptions) -> Router {
    let metrics = state.log.metrics().http.clone();
    with_common_layers(routes(state), metrics, options)
}

/// The routes without the shared layers.
pub fn routes(state: Arc<RekorV2>) -> Router {
    Router::new()
        .route("/api/v2/log/entries", post(create))
        .nest("/api/v2", tiles::routes())
        .merge(tiles::routes())
        .merge(ops::routes())
        .merge(crate::explorer::routes())
        .with_state(state)
}

/// Verifies the entry, integrates it and answers 201 once it is durable
/// and covered by a published checkpoint.
pub async fn create(
    State(state): State<Arc<RekorV2>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    // Replicas: the integrator takes the write (and verifies it).
    if let Some(answer) = forward_write(&state.log, &headers, "/api/v2/log/entries", &body).await {
        return Ok(answer);
    }
    // Signature checks are CPU work: they run in the bounded pool.
    let prepared = state
        .cpu
        .run_api(move || entry::prepare(&body).map_err(|e| ApiError::bad_request(e.to_string())))
        .await?;
    let pending = state
        .log
        .submit(prepared.into_submission())
        .map_err(|err| submit_error(&state, err))?;
    let integrated = pending
        .await
        .map_err(|_| submit_error(&state, SubmitError::Stopped))?
        .map_err(|err| submit_error(&state, err))?;
    Ok(json_response(
        StatusCode::CREATED,
        answer::render(&integrated, &state.log_id),
    ))
}

fn submit_error(state: &RekorV2, err: SubmitError) -> ApiError {
    match err {
        SubmitError::Duplicate(index) => ApiError::new(
            StatusCode::CONFLICT,
            format!("an equivalent entry already exists in the log at index {index}"),
        )
        .with_header(
            HeaderName::from_static(LOG_INDEX_HEADER),
            &index.to_string(),
        ),
        other => submit_failure(state.log.metrics(), other),
    }
}
