//! What the in-process benchmarks (`tsa`, `rekor-v2`) share: their load
//! options, the loopback port their server listens on, and the rounds in
//! which the HTTP load and the crypto bound alternate.
//!
//! On a shared machine the CPU left to a run drifts from second to second,
//! so a run alternates: `--rounds` slices of HTTP load, each followed by a
//! slice of the bound. The ratios then compare figures taken under the same
//! conditions.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use reqwest::StatusCode;
use tempfile::TempDir;

use super::cpu_split::ServerShare;
use super::driver::{Latency, check_concurrency, check_count};
use super::error::BenchError;
use super::keep_alive::Load;

#[derive(clap::Args)]
pub(super) struct InProcessArgs {
    /// Requests in flight, each on its own keep-alive connection unless
    /// `--http2` is given.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Share this many HTTP/2 connections among the requests in flight
    /// instead of one HTTP/1.1 connection each.
    #[arg(long)]
    http2: Option<usize>,
    /// Seconds of each crypto measurement for the bound, over all rounds.
    #[arg(long, default_value_t = 5)]
    bound_secs: u64,
    /// Slices the HTTP load and the bound's measurements alternate in.
    #[arg(long, default_value_t = 5)]
    rounds: u64,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
}

impl InProcessArgs {
    /// `total` requests of which at most `max` are allowed: refused
    /// unless both they and the load's options are sensible.
    pub(super) fn check(&self, flag: &str, total: u64, max: u64) -> Result<(), BenchError> {
        check_concurrency(self.concurrency)?;
        check_count(flag, total, max)
    }

    pub(super) fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// How each round's requests are sent.
    pub(super) fn load(&self) -> Load {
        Load {
            concurrency: self.concurrency,
            http2_connections: self.http2,
            rate: None,
            max_time: Duration::from_secs(self.max_secs),
        }
    }

    /// `total` requests split into the rounds: each round's first request
    /// and its count.
    pub(super) fn rounds(&self, total: u64) -> impl Iterator<Item = (u64, u64)> {
        let per_round = total.div_ceil(self.rounds.clamp(1, 100));
        (0..total)
            .step_by(per_round.max(1) as usize)
            .map(move |first| (first, per_round.min(total - first)))
    }

    /// How long each round measures the bound.
    pub(super) fn bound_slice(&self) -> Duration {
        Duration::from_millis(self.bound_secs.max(1) * 1000 / self.rounds.clamp(1, 100))
    }
}

/// A scratch directory for the server's files, removed when dropped.
pub(super) fn scratch_dir() -> Result<TempDir, BenchError> {
    tempfile::tempdir().map_err(|source| BenchError::Io {
        what: "a temporary directory".into(),
        source,
    })
}

/// A free loopback port, bound.
pub(super) async fn loopback_listener() -> Result<(tokio::net::TcpListener, SocketAddr), BenchError>
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| BenchError::Io {
            what: "binding a loopback port".into(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| BenchError::Io {
        what: "the loopback port".into(),
        source,
    })?;
    Ok((listener, addr))
}

/// Serves `router` on `listener` for the rest of the run, with the
/// listener limits a deployment starts with.
pub(super) fn serve(listener: tokio::net::TcpListener, router: Router) {
    tokio::spawn(atesto_common::serve::serve(
        listener,
        router,
        atesto_common::serve::ConnectionLimits::default(),
        std::future::pending(),
    ));
}

/// The lines every in-process run ends its human-readable report with.
pub(super) fn print_cpu_and_latency(
    cpu: &ServerShare,
    success: StatusCode,
    latency: Option<&Latency>,
) {
    println!("{}", cpu.line());
    println!(
        "latency of {}s: {}",
        success.as_u16(),
        Latency::line(latency)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: InProcessArgs,
    }

    fn rounds(options: &[&str], total: u64) -> Vec<(u64, u64)> {
        let cli = Cli::parse_from(std::iter::once("bench").chain(options.iter().copied()));
        cli.args.rounds(total).collect()
    }

    #[test]
    fn rounds_cover_every_request_once() {
        assert_eq!(
            rounds(&["--rounds", "4"], 10),
            [(0, 3), (3, 3), (6, 3), (9, 1)]
        );
        assert_eq!(rounds(&["--rounds", "5"], 3), [(0, 1), (1, 1), (2, 1)]);
        assert_eq!(rounds(&["--rounds", "0"], 7), [(0, 7)]);
        assert_eq!(rounds(&[], 10), [(0, 2), (2, 2), (4, 2), (6, 2), (8, 2)]);
    }
}
