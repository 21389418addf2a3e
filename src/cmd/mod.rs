//! One module per subcommand, and what the serving ones share.

pub mod bench;
pub mod ca;
pub mod ct;
pub mod dev;
pub mod keygen;
pub mod migrate;
pub mod monitor;
pub mod rekor_v2_section;
pub mod tlog;
pub mod trust_root;
pub mod tsa;

use anyhow::Context;
use atesto_common::serve::ConnectionLimits;

/// Serves `router` on `addr` within `limits` until SIGINT or SIGTERM.
pub async fn serve(
    router: axum::Router,
    addr: &str,
    limits: ConnectionLimits,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    serve_on(listener, router, limits).await
}

/// Serves `router` on a bound listener (one whose port was picked by the
/// system, say) within `limits` until SIGINT or SIGTERM.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "serving");
    atesto_common::serve::serve(listener, router, limits, tlog::shutdown_signal()).await;
    Ok(())
}

/// The HTTP limits every service's config carries.
pub fn api_options(
    body_limit: usize,
    request_timeout_secs: u64,
) -> atesto_common::http::ApiOptions {
    atesto_common::http::ApiOptions {
        body_limit,
        request_timeout: std::time::Duration::from_secs(request_timeout_secs),
    }
}
