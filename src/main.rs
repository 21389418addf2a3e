//! `atesto`: one binary for every Atesto service and tool.

mod cmd;
mod tuf;

use clap::{Parser, Subcommand};

/// jemalloc rather than glibc's malloc: per-thread caches suit the request
/// path's many small, short-lived allocations across threads.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "atesto",
    version,
    about = "Self-hosted sigstore signing infrastructure"
)]
struct Cli {
    /// Log output format.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the transparency log (Rekor v1 API and C2SP tiles), or administer it.
    Tlog(cmd::tlog::TlogArgs),
    /// Serve the Fulcio-compatible certificate authority, or create its CA chain.
    Ca(cmd::ca::CaArgs),
    /// Serve the RFC 3161 timestamp authority, or create its certificate chain.
    Tsa(cmd::tsa::TsaArgs),
    /// Run CA, CT log and transparency log in one process, for local use (DEVELOPMENT ONLY).
    Dev(cmd::dev::DevArgs),
    /// Serve the RFC 6962 Certificate Transparency log (for the CA's SCTs).
    Ct(cmd::ct::CtArgs),
    /// Build trusted_root.json, signing_config.json and trust_config.json for a deployment.
    TrustRoot(cmd::trust_root::TrustRootArgs),
    /// Write a new private key (PKCS#8 PEM, mode 0600).
    Keygen(cmd::keygen::KeygenArgs),
    /// Watch a Rekor v1 or CT log: verify every tree head is signed and extends the last one.
    Monitor(cmd::monitor::MonitorArgs),
    /// Load generators: measure a running log, or grow one in-process.
    Bench(cmd::bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Tlog(args) => cmd::tlog::run(args).await,
            Command::Ca(args) => cmd::ca::run(args).await,
            Command::Ct(args) => cmd::ct::run(args).await,
            Command::Tsa(args) => cmd::tsa::run(args).await,
            Command::Dev(args) => cmd::dev::run(args).await,
            Command::Keygen(args) => cmd::keygen::run(&args),
            Command::TrustRoot(args) => cmd::trust_root::run(&args).await,
            Command::Monitor(args) => cmd::monitor::run(args).await,
            Command::Bench(args) => Ok(cmd::bench::run(args).await?),
        }
    })
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
