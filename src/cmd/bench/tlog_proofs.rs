//! `atesto bench tlog-proofs`: GETs entries with their inclusion proofs at
//! random indexes, on keep-alive connections of its own (`keep_alive`): the
//! load generator shares the machine with the server and its database, so
//! the less CPU it takes per GET the more the figures are the server's.

use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::driver::{
    Latency, check_concurrency, check_count, check_rate, http_client, loop_mode, loopback_url,
    per_second, print_json,
};
use super::error::BenchError;
use super::keep_alive::{Call, Calls, Load, address, drive_calls};

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
    /// The load generator's own CPU per request sent.
    load_cpu_us_per_request: f64,
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
    let (addr, prefix) = address(&base)?;
    let answered = indexes.clone();
    let calls = Calls {
        addr,
        count: args.requests,
        load: Load {
            concurrency: args.concurrency,
            http2_connections: None,
            rate: args.rate,
            max_time: Duration::from_secs(args.max_secs),
        },
        success: StatusCode::OK,
        call: move |n| {
            Call::Get(format!(
                "{prefix}/api/v1/log/entries?logIndex={}",
                indexes[n as usize]
            ))
        },
        check: move |n: u64, answer: &[u8]| holds_index(answer, answered[n as usize]),
    };
    let tally = drive_calls(calls).await?;
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
        load_cpu_us_per_request: tally.load_cpu_secs * 1e6 / tally.sent.max(1) as f64,
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
        "latency of 200s: {}; the load generator's CPU: {:.0} µs per request",
        Latency::line(summary.latency_ms.as_ref()),
        summary.load_cpu_us_per_request
    );
    print_json(&summary)
}

/// Whether an entry's answer names `index` as its log index: a 200 that
/// answers another entry, or none, does not count.
fn holds_index(answer: &[u8], index: u64) -> bool {
    let wanted = format!("\"logIndex\":{index}");
    let wanted = wanted.as_bytes();
    answer
        .windows(wanted.len())
        .enumerate()
        .any(|(at, window)| {
            window == wanted
                && !answer
                    .get(at + wanted.len())
                    .is_some_and(u8::is_ascii_digit)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_holds_its_own_index_only() {
        let answer = br#"{"ab":{"body":"x","logIndex":123,"verification":{}}}"#;
        assert!(holds_index(answer, 123));
        assert!(!holds_index(answer, 12));
        assert!(!holds_index(answer, 1234));
        assert!(!holds_index(b"{}", 0));
        assert!(holds_index(br#"{"logIndex":7}"#, 7));
    }
}
