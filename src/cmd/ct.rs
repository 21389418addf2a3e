//! `atesto ct`: serve the RFC 6962 CT log the CA submits precertificates to.

use std::path::PathBuf;
use std::sync::Arc;

use super::tlog::{ServeArgs, ServeFields, open_store};
use atesto_ct_log::config::CtConfig;
use atesto_ct_log::{self as ct, CtLog};

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
        .load(CtConfig::from_file, CtConfig::default, |c| ServeFields {
            data: &mut c.data,
            addr: &mut c.addr,
            key: &mut c.key,
            database: &mut c.database,
            database_schema: &mut c.database_schema,
            advertise_url: &mut c.replicas.advertise_url,
            object_store: &mut c.object_store,
        })?;
    if let Some(roots) = args.roots {
        config.roots = vec![roots];
    }
    config.validate()?;
    Ok(config)
}

pub async fn run(args: CtArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    let log = open(&config).await?;
    let router = ct::api::router(
        log,
        &super::api_options(config.body_limit, config.request_timeout_secs),
    );
    super::serve(router, &config.addr, config.connections).await
}

/// Opens the CT log with the roots its config names.
pub async fn open(config: &CtConfig) -> anyhow::Result<Arc<CtLog>> {
    let mut roots = Vec::new();
    for path in &config.roots {
        roots.extend(ct::read_roots(path).map_err(anyhow::Error::msg)?);
    }
    let log = {
        let mut config = config.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let store = open_store(
                &config.data,
                config.cache_mb,
                config.database.as_deref(),
                &config.database_schema,
                &mut config.replicas.id,
            )?;
            Ok(CtLog::start(store, &config, roots)?)
        })
        .await??
    };
    let log = Arc::new(log);
    if let Some(url) = &config.object_store {
        atesto_tlog_object_store::start(log.clone(), url).await?;
    }
    tracing::info!(
        data = %config.data.display(),
        roots = log.roots.len(),
        tree_size = log.tree_size(),
        "CT log opened"
    );
    Ok(log)
}
