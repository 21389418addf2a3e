//! The log explorer on the Rekor v2 listener (`atesto-tlog-http`'s page at
//! `/`), and the one thing it needs that the tiles do not say: the
//! checkpoint key, `GET /api/v2/log/publicKey` (PEM). Not in rekor-tiles,
//! whose clients take the key from their trusted root; the page shows it,
//! with its key id, to be compared with that root, as the Rekor v1 page does.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::RekorV2;

pub fn routes() -> Router<Arc<RekorV2>> {
    Router::new()
        .route("/api/v2/log/publicKey", get(public_key))
        .merge(atesto_tlog_http::explorer::routes())
}

async fn public_key(State(state): State<Arc<RekorV2>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.log.keys().public_key_pem.clone(),
    )
}
