//! The Rekor v1 personality of the log engine: the transparency log
//! cosign, sigstore-python, sigstore-js, sigstore-rs and sigstore-java use.
//!
//! - `entry/`: the entry kinds (`hashedrekord.rs`, `dsse.rs`, `intoto.rs`,
//!   `rekord.rs`, `helm.rs`) and the search index keys (`index.rs`).
//! - `reindex`: files entries written before a key kind existed under it.
//! - `set`: the SignedEntryTimestamp, the engine's `EntrySigner` hook.
//! - `api/`: `/api/v1/` handlers; `admin`: shard rotation.
//! - `config`: `atesto tlog` options; `state`: what handlers share, `start`.
//!
//! The engine (sequencer, tiles, store) is `atesto-tlog-engine`; the tiles,
//! health and explorer routes are `atesto-tlog-http`.

pub mod admin;
pub mod api;
pub mod config;
pub mod entry;
pub mod reindex;
pub mod set;
mod state;

use atesto_common::http::{ApiOptions, with_common_layers};
use atesto_tlog_http::{explorer, ops, tiles};
use axum::Router;

pub use state::{AppState, start};

pub fn router(state: AppState, options: &ApiOptions) -> Router {
    let metrics = state.log.metrics().http.clone();
    with_common_layers(routes(state), metrics, options)
}

/// The log's routes without the shared layers, for a process that serves
/// another API beside it (`atesto dev` adds the CT log's).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(tiles::routes())
        .merge(ops::routes())
        .merge(admin::routes())
        .merge(explorer::routes())
        .with_state(state)
}
