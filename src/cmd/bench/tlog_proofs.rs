//! `atesto bench tlog-proofs`: GETs entries with their inclusion proofs at
//! random indexes.

use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::driver::{
    Latency, Plan, check_concurrency, check_count, check_rate, drive, http_client, loop_mode,
    loopback_url, per_second, print_json,
};
use super::error::BenchError;

const MAX_PROOF_REQUESTS: u64 = 10_000_000;

#[derive(clap::Args)]
pub(super) struct ProofArgs {
    /// Base URL of the log, e.g. http://127.0.0.1:3000.
    #[arg(long)]
    url: String,
    /// Requests to send.
    #[arg(long)]
    requests: u64,
    /// Requests in flight (closed loop), or at most in flight (open loop).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Open loop: offer this many requests per second on a fixed schedule;
    /// each latency counts from the request's scheduled time, so time spent
    /// waiting for a free connection is in it.
    #[arg(long)]
    rate: Option<f64>,
    /// Seeds the random indexes; random when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
}

#[derive(Deserialize)]
struct ShardSize {
    #[serde(rename = "treeSize")]
    tree_size: u64,
}

#[derive(Deserialize)]
struct LogSize {
    #[serde(rename = "treeSize")]
    tree_size: u64,
    #[serde(rename = "inactiveShards", default)]
    inactive_shards: Vec<ShardSize>,
}

#[derive(Serialize)]
struct ProofSummary {
    bench: &'static str,
    /// `closed` (every worker sends as soon as it has its answer) or `open`.
    mode: &'static str,
    tree_size: u64,
    concurrency: usize,
    offered_per_s: Option<f64>,
    sent: u64,
    secs: f64,
    requests_per_s: f64,
    ok: u64,
    other: u64,
    transport_errors: u64,
    /// Of the 200s.
    latency_ms: Option<Latency>,
}

pub(super) async fn proofs(args: ProofArgs) -> Result<(), BenchError> {
    let base = loopback_url(&args.url)?;
    check_concurrency(args.concurrency)?;
    check_rate(args.rate)?;
    check_count("--requests", args.requests, MAX_PROOF_REQUESTS)?;
    let client = http_client(args.concurrency)?;
    let response = client.get(format!("{base}/api/v1/log")).send().await?;
    if response.status() != StatusCode::OK {
        return Err(BenchError::Server {
            what: "GET /api/v1/log",
            status: response.status(),
        });
    }
    let info: LogSize = serde_json::from_slice(&response.bytes().await?)?;
    // Global indexes run through the inactive shards first.
    let tree_size = info.tree_size
        + info
            .inactive_shards
            .iter()
            .map(|s| s.tree_size)
            .sum::<u64>();
    if tree_size == 0 {
        return Err(BenchError::Args("the log is empty".into()));
    }
    let seed = args.seed.unwrap_or_else(|| rand::thread_rng().r#gen());
    // Indexes are drawn up front so the random generator is outside the timing.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let indexes: Arc<Vec<u64>> = Arc::new(
        (0..args.requests)
            .map(|_| rng.gen_range(0..tree_size))
            .collect(),
    );
    let plan = Plan {
        count: args.requests,
        concurrency: args.concurrency,
        rate: args.rate,
        max_time: Duration::from_secs(args.max_secs),
        success: StatusCode::OK,
    };
    let tally = drive(plan, move |n| {
        client.get(format!(
            "{base}/api/v1/log/entries?logIndex={}",
            indexes[n as usize]
        ))
    })
    .await?;
    let ok = tally.status(StatusCode::OK);
    let secs = tally.elapsed.as_secs_f64();
    let summary = ProofSummary {
        bench: "tlog-proofs",
        mode: loop_mode(args.rate),
        tree_size,
        concurrency: args.concurrency,
        offered_per_s: args.rate,
        sent: tally.sent,
        secs,
        requests_per_s: per_second(tally.sent, secs),
        ok,
        other: tally.statuses.values().sum::<u64>() - ok,
        transport_errors: tally.transport_errors,
        latency_ms: Latency::of(tally.latencies_us),
    };
    println!(
        "{} GETs of entries with inclusion proofs in a tree of {tree_size}, {} loop, {} in flight{}: \
         {:.0} requests/s; 200: {ok}, other: {}, transport errors: {}",
        summary.sent,
        summary.mode,
        summary.concurrency,
        args.rate
            .map_or_else(String::new, |r| format!(", offered {r} requests/s")),
        summary.requests_per_s,
        summary.other,
        summary.transport_errors
    );
    println!(
        "latency of 200s: {}",
        Latency::line(summary.latency_ms.as_ref())
    );
    print_json(&summary)
}
