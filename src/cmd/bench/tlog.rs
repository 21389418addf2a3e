//! `atesto bench tlog`: POSTs pre-signed hashedrekord entries to a running
//! log, closed-loop or open-loop.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use serde::Serialize;
use tokio::time::Instant;

use super::driver::{
    Latency, Plan, check_concurrency, check_count, check_rate, drive, http_client, loop_mode,
    loopback_url, per_second, print_json,
};
use super::entries::{EntryFactory, presign};
use super::error::BenchError;

/// Pre-signed bodies are held in memory, about 600 bytes each.
const MAX_HTTP_ENTRIES: u64 = 2_000_000;

#[derive(clap::Args)]
pub(super) struct LoadArgs {
    /// Base URL of the log, e.g. http://127.0.0.1:3000.
    #[arg(long)]
    url: String,
    /// Entries to pre-sign and submit.
    #[arg(long)]
    entries: u64,
    /// Requests in flight (closed loop), or at most in flight (open loop).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Open loop: offer this many entries per second on a fixed schedule.
    #[arg(long)]
    rate: Option<f64>,
    /// Seeds the artifacts, not the keys; reusing one against the same log
    /// repeats artifacts under new signatures. Random when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
}

#[derive(Serialize)]
struct LoadSummary {
    bench: &'static str,
    mode: &'static str,
    entries: u64,
    concurrency: usize,
    offered_per_s: Option<f64>,
    presign_secs: f64,
    sent: u64,
    secs: f64,
    /// 201s per second: durable entries.
    created_per_s: f64,
    created: u64,
    conflict: u64,
    unavailable: u64,
    other: u64,
    transport_errors: u64,
    /// Of the 201s, from the scheduled send time (open loop) or the send (closed loop).
    latency_ms: Option<Latency>,
}

pub(super) async fn load(args: LoadArgs) -> Result<(), BenchError> {
    let base = loopback_url(&args.url)?;
    check_concurrency(args.concurrency)?;
    check_count("--entries", args.entries, MAX_HTTP_ENTRIES)?;
    check_rate(args.rate)?;
    let run = args.seed.unwrap_or_else(|| rand::thread_rng().r#gen());
    let factory = EntryFactory::new(run)?;
    let count = args.entries;
    let signing = Instant::now();
    let bodies = Arc::new(tokio::task::spawn_blocking(move || presign(&factory, count)).await??);
    let presign_secs = signing.elapsed().as_secs_f64();
    println!("pre-signed {count} entries in {presign_secs:.1} s");

    let client = http_client(args.concurrency)?;
    let url = format!("{base}/api/v1/log/entries");
    let plan = Plan {
        count,
        concurrency: args.concurrency,
        rate: args.rate,
        max_time: Duration::from_secs(args.max_secs),
        success: StatusCode::CREATED,
    };
    let tally = drive(plan, move |n| {
        client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bodies[n as usize].clone())
    })
    .await?;

    let created = tally.status(StatusCode::CREATED);
    let conflict = tally.status(StatusCode::CONFLICT);
    let unavailable = tally.status(StatusCode::SERVICE_UNAVAILABLE);
    let answered: u64 = tally.statuses.values().sum();
    let secs = tally.elapsed.as_secs_f64();
    let summary = LoadSummary {
        bench: "tlog",
        mode: loop_mode(args.rate),
        entries: count,
        concurrency: args.concurrency,
        offered_per_s: args.rate,
        presign_secs,
        sent: tally.sent,
        secs,
        created_per_s: per_second(created, secs),
        created,
        conflict,
        unavailable,
        other: answered - created - conflict - unavailable,
        transport_errors: tally.transport_errors,
        latency_ms: Latency::of(tally.latencies_us),
    };
    println!(
        "{} loop, {} in flight{}: sent {} of {count} in {secs:.2} s",
        summary.mode,
        summary.concurrency,
        args.rate
            .map_or_else(String::new, |r| format!(", offered {r} entries/s")),
        summary.sent,
    );
    println!(
        "durable entries/s: {:.0}; 201: {created}, 409: {conflict}, 503: {unavailable}, \
         other: {}, transport errors: {}",
        summary.created_per_s, summary.other, summary.transport_errors
    );
    println!(
        "latency of 201s: {}",
        Latency::line(summary.latency_ms.as_ref())
    );
    print_json(&summary)
}
