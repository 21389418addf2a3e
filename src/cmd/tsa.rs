//! `atesto tsa`: serve the RFC 3161 timestamp authority, and `atesto tsa
//! init` to make a chain that fits its certificate profile.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use atesto_tsa::Tsa;
use atesto_tsa::api::TsaState;
use atesto_tsa::config::TsaConfig;
use atesto_tsa::init::init_chain;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TsaArgs {
    #[command(subcommand)]
    action: Option<TsaAction>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
enum TsaAction {
    /// Create a root and a TSA certificate (ECDSA) that fit the timestamping profile.
    Init(super::ca::InitArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// YAML config: listen address, signer, policies, limits.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen address (overrides the config's).
    #[arg(long)]
    addr: Option<String>,
}

pub async fn run(args: TsaArgs) -> anyhow::Result<()> {
    match args.action {
        Some(TsaAction::Init(init)) => init_tsa(init),
        None => serve(args.serve).await,
    }
}

fn init_tsa(args: super::ca::InitArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone();
    let output = init_chain(&dir, &args.options())?;
    let files: Vec<String> = output
        .files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let signer = serde_yaml_ng::to_string(&output.signer_config)?;
    println!(
        "wrote {}\n\nsigner:\n{}",
        files.join(", "),
        signer
            .lines()
            .map(|line| format!("  {line}\n"))
            .collect::<String>()
    );
    Ok(())
}

/// Loads and self-checks the TSA of `config` (off the async workers: a
/// PKCS#11 login and a signature), ready to serve.
pub async fn open(config: TsaConfig) -> anyhow::Result<Arc<TsaState>> {
    let key_kind = if config.signer.pkcs11.is_some() {
        "pkcs11"
    } else {
        "file"
    };
    let state = tokio::task::spawn_blocking(move || -> anyhow::Result<TsaState> {
        let tsa = Tsa::open(&config)?;
        Ok(TsaState::new(tsa, &config.cpu_pool, key_kind)?)
    })
    .await??;
    Ok(Arc::new(state))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let path = args
        .config
        .context("--config FILE is required (see deploy/tsa.example.yaml)")?;
    let mut config = TsaConfig::from_file(&path)?;
    if let Some(addr) = args.addr {
        config.addr = addr;
    }
    let (addr, connections) = (config.addr.clone(), config.connections);
    let options = super::api_options(config.body_limit, config.request_timeout_secs);
    let state = open(config).await?;
    let router = atesto_tsa::api::router(state, &options);
    super::serve(router, &addr, connections).await
}
