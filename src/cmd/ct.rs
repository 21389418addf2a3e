//! `atesto ct`: serve the RFC 6962 CT log the CA submits precertificates to.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use atesto_tlog::api::ApiOptions;
use atesto_tlog::ct::config::CtConfig;
use atesto_tlog::ct::{self, CtLog};

use super::tlog::ServeArgs;

#[derive(clap::Args)]
pub struct CtArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// PEM file of the accepted roots (replaces `roots` of the config).
    #[arg(long)]
    roots: Option<PathBuf>,
}

fn load_config(args: CtArgs) -> anyhow::Result<CtConfig> {
    let mut config = args
        .serve
        .load(CtConfig::from_file, CtConfig::default, |c| {
            (&mut c.data, &mut c.addr, &mut c.key)
        })?;
    if let Some(roots) = args.roots {
        config.roots = vec![roots];
    }
    config.validate()?;
    Ok(config)
}

pub async fn run(args: CtArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    let mut roots = Vec::new();
    for path in &config.roots {
        roots.extend(ct::read_roots(path).map_err(anyhow::Error::msg)?);
    }
    let log = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || CtLog::open(&config, roots)).await??
    };
    tracing::info!(
        data = %config.data.display(),
        roots = log.roots.len(),
        tree_size = log.log.view.load_full().total_size(),
        "CT log opened"
    );
    let router = ct::api::router(
        Arc::new(log),
        &ApiOptions {
            body_limit: config.body_limit,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
        },
    );
    let listener = tokio::net::TcpListener::bind(&config.addr)
        .await
        .with_context(|| format!("listening on {}", config.addr))?;
    tracing::info!(addr = %listener.local_addr()?, "serving");
    axum::serve(listener, router)
        .with_graceful_shutdown(super::tlog::shutdown_signal())
        .await?;
    Ok(())
}
