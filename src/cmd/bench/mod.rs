//! `atesto bench`: load generators for the transparency log and the CA.
//!
//! - `tlog` POSTs pre-signed hashedrekord entries to a running log, either
//!   closed-loop (a fixed number in flight) or open-loop (a fixed offered rate,
//!   latency measured from each entry's scheduled send time so that queueing
//!   in the client cannot hide queueing in the server).
//! - `tlog-proofs` GETs entries with their inclusion proofs at random indexes.
//! - `tlog-fill` grows a log in-process, straight into the sequencer, to make
//!   the large logs the read figures are measured on.
//! - `ca` sends signing requests to a running CA.
//! - `tsa` times an in-process TSA beside its signing bound.
//! - `rekor-v2` times an in-process Rekor v2 log beside its crypto bound.
//!
//! One file per command (`tlog.rs`, `tlog_proofs.rs`, `tlog_fill.rs`,
//! `ca.rs`, `tsa.rs`, `rekor_v2.rs`); `driver.rs` is the HTTP load driver they share,
//! `keep_alive.rs` the leaner one of the in-process benchmarks and
//! `in_process.rs` the rest those two share, `cpu_split.rs`
//! what their load generator and server each use of the CPU, `entries.rs`
//! the pre-signed entries.

mod ca;
mod cpu_split;
mod driver;
mod entries;
mod error;
mod in_process;
mod keep_alive;
mod rekor_v2;
mod tlog;
mod tlog_fill;
mod tlog_proofs;
mod tsa;

pub use error::BenchError;

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: Target,
}

#[derive(clap::Subcommand)]
enum Target {
    /// POST pre-signed hashedrekord entries to a running log (loopback only).
    Tlog(tlog::LoadArgs),
    /// GET entries with their inclusion proofs at random indexes (loopback only).
    TlogProofs(tlog_proofs::ProofArgs),
    /// Grow a log in-process, without HTTP, until it holds --entries entries.
    TlogFill(tlog_fill::FillArgs),
    /// POST signing requests to a running CA (loopback only), with tokens
    /// from a development issuer this command serves.
    Ca(ca::CaLoadArgs),
    /// Timestamps per second from an in-process TSA, beside its signing bound.
    Tsa(tsa::TsaLoadArgs),
    /// Durable entries per second of an in-process Rekor v2 log, beside its crypto bound.
    RekorV2(rekor_v2::RekorV2LoadArgs),
}

pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    match args.target {
        Target::Tlog(args) => tlog::load(args).await,
        Target::TlogProofs(args) => tlog_proofs::proofs(args).await,
        Target::TlogFill(args) => {
            tokio::task::spawn_blocking(move || tlog_fill::fill(&args)).await?
        }
        Target::Ca(args) => ca::load(args).await,
        Target::Tsa(args) => tsa::load(args).await,
        Target::RekorV2(args) => rekor_v2::load(args).await,
    }
}
