//! `atesto ca`: serve the Fulcio-compatible CA, and `atesto ca init` to make
//! a CA chain that fits the certificate profile.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use atesto_ca::config::CaConfig;
use atesto_ca::issuance::{InitOptions, init_chain};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CaArgs {
    #[command(subcommand)]
    action: Option<CaAction>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
enum CaAction {
    /// Create a root and an intermediate CA (ECDSA) that fit the certificate profile.
    Init(InitArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// YAML config: listen address, signer, issuers file, CT log, limits.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen address (overrides the config's).
    #[arg(long)]
    addr: Option<String>,
    /// Issue certificates without SCTs when no CT log is configured.
    /// Sigstore clients refuse them: for testing the CA alone.
    #[arg(long)]
    issue_without_sct: bool,
}

/// The arguments of `atesto ca init` and `atesto tsa init`.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Directory to write the chain and keys into (created; existing files are never overwritten).
    #[arg(long)]
    pub dir: PathBuf,
    /// Use ECDSA P-384 instead of P-256.
    #[arg(long)]
    p384: bool,
    /// Organization (O) of both subjects.
    #[arg(long, default_value = "Atesto")]
    organization: String,
    /// Common name (CN) of the root; the other certificate's is this plus
    /// " intermediate" (CA) or " timestamping" (TSA).
    #[arg(long, default_value = "atesto")]
    common_name: String,
    /// Validity of both certificates, in years.
    #[arg(long, default_value_t = 10)]
    years: u32,
    /// Encrypt the private keys with the password in this environment variable.
    #[arg(long)]
    password_env: Option<String>,
}

impl InitArgs {
    pub fn options(self) -> InitOptions {
        InitOptions {
            p384: self.p384,
            organization: self.organization,
            common_name: self.common_name,
            validity_years: self.years,
            password_env: self.password_env,
        }
    }
}

pub async fn run(args: CaArgs) -> anyhow::Result<()> {
    match args.action {
        Some(CaAction::Init(init)) => init_ca(init),
        None => serve(args.serve).await,
    }
}

fn init_ca(args: InitArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone();
    let output = init_chain(&dir, &args.options())?;
    println!(
        "wrote {}, {}, {}, {} and {}\n\nsigner:\n{}",
        output.root_cert.display(),
        output.root_key.display(),
        output.intermediate_cert.display(),
        output.intermediate_key.display(),
        output.chain.display(),
        output
            .signer_config_yaml
            .lines()
            .map(|line| format!("  {line}\n"))
            .collect::<String>()
    );
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let path = args
        .config
        .context("--config FILE is required (see deploy/ca.example.yaml)")?;
    let mut config = CaConfig::from_file(&path)?;
    if let Some(addr) = args.addr {
        config.addr = addr;
    }
    config.issue_without_sct |= args.issue_without_sct;
    let config = Arc::new(config);
    let state = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || atesto_ca::service::open(&config)).await??
    };
    let router = atesto_ca::api::router(
        Arc::new(state),
        &super::api_options(config.body_limit, config.request_timeout_secs),
    );
    super::serve(router, &config.addr, config.connections).await
}
