//! The log explorer: one HTML page, its script and its style sheet, compiled
//! into the binary and served at `/` and under `/explorer/` (a prefix no
//! Rekor, C2SP or CT path uses). The page talks only to this server's own
//! APIs; its Content-Security-Policy lets it reach no other host.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../../explorer/index.html");
const EXPLORER_JS: &str = include_str!("../../explorer/explorer.js");
const EXPLORER_CSS: &str = include_str!("../../explorer/explorer.css");

/// Same-origin only: scripts, styles and requests come from this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The explorer's routes, for any router state (the Rekor and the CT APIs
/// each mount them once).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/explorer/explorer.js",
            get(|| asset("text/javascript; charset=utf-8", EXPLORER_JS)),
        )
        .route(
            "/explorer/explorer.css",
            get(|| asset("text/css; charset=utf-8", EXPLORER_CSS)),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
