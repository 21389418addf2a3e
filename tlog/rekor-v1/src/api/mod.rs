//! Rekor v1: the API cosign, sigstore-python, sigstore-js and sigstore-rs
//! speak, under `/api/v1/`.

pub mod entries;
pub mod index;
pub mod log_entry;
pub mod log_info;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/log", get(log_info::log_info))
        .route("/api/v1/log/proof", get(log_info::consistency_proof))
        .route("/api/v1/log/publicKey", get(log_info::public_key))
        .route(
            "/api/v1/log/entries",
            post(entries::create).get(entries::get_by_index),
        )
        .route("/api/v1/log/entries/{id}", get(entries::get_by_id))
        // sigstore-python posts to the trailing-slash form.
        .route("/api/v1/log/entries/retrieve", post(entries::retrieve))
        .route("/api/v1/log/entries/retrieve/", post(entries::retrieve))
        .route("/api/v1/index/retrieve", post(index::retrieve))
}
