//! `atesto bench`: load generators for the transparency log and the CA.
//!
//! - `tlog` POSTs pre-signed hashedrekord entries to a running log, either
//!   closed-loop (a fixed number in flight) or open-loop (a fixed offered rate,
//!   latency measured from each entry's scheduled send time so that queueing
//!   in the client cannot hide queueing in the server).
//! - `tlog-proofs` GETs entries with their inclusion proofs at random indexes.
//! - `tlog-fill` grows a log in-process, straight into the sequencer, to make
//!   the large logs the read figures are measured on.
//! - `ca` sends signing requests to a running CA (see `ca.rs`).

mod ca;
mod tsa;

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use atesto_tlog::config::{BatchConfig, ConfigError, TlogConfig};
use atesto_tlog::entry::{self, EntryError, PreparedEntry};
use atesto_tlog::log::{Log, LogError, ProvenEntry};
use atesto_tlog::sequencer::SubmitError;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Caps that keep a mistyped flag from exhausting memory (pre-signed bodies
/// are held in memory, about 600 bytes each) or the disk.
const MAX_HTTP_ENTRIES: u64 = 2_000_000;
const MAX_PROOF_REQUESTS: u64 = 10_000_000;
const MAX_CONCURRENCY: usize = 4096;
/// A handful of signers, as a real log sees many clients but few keys per run.
const SIGNING_KEYS: usize = 8;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// How long the sequencer may take to finish and release the store.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Args(String),
    #[error("cryptography failed: {0}")]
    Crypto(&'static str),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the log answered {status} to {what}")]
    Server {
        what: &'static str,
        status: StatusCode,
    },
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("preparing an entry: {0}")]
    Entry(#[from] EntryError),
    #[error("submitting an entry: {0}")]
    Submit(#[from] SubmitError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("a worker thread panicked")]
    Worker,
    #[error("the sequencer did not release the store; it will be repaired on its next open")]
    Close,
}

impl From<tokio::task::JoinError> for BenchError {
    fn from(_: tokio::task::JoinError) -> Self {
        BenchError::Worker
    }
}

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: Target,
}

#[derive(clap::Subcommand)]
enum Target {
    /// POST pre-signed hashedrekord entries to a running log (loopback only).
    Tlog(LoadArgs),
    /// GET entries with their inclusion proofs at random indexes (loopback only).
    TlogProofs(ProofArgs),
    /// Grow a log in-process, without HTTP, until it holds --entries entries.
    TlogFill(FillArgs),
    /// POST signing requests to a running CA (loopback only), with tokens
    /// from a development issuer this command serves.
    Ca(ca::CaLoadArgs),
    /// Timestamps per second from an in-process TSA, beside its signing bound.
    Tsa(tsa::TsaLoadArgs),
}

#[derive(clap::Args)]
struct LoadArgs {
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

#[derive(clap::Args)]
struct ProofArgs {
    /// Base URL of the log, e.g. http://127.0.0.1:3000.
    #[arg(long)]
    url: String,
    /// Requests to send.
    #[arg(long)]
    requests: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seeds the random indexes; random when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
}

#[derive(clap::Args)]
struct FillArgs {
    /// Data directory of the log, created when absent. No server may hold it.
    #[arg(long)]
    data: PathBuf,
    /// Size to grow the log to; a rerun continues where the last one stopped.
    #[arg(long)]
    entries: u64,
    /// Most entries per batch (one transaction, one checkpoint).
    #[arg(long, default_value_t = 4096)]
    batch_size: usize,
    /// Longest a batch waits for more entries, in milliseconds.
    #[arg(long, default_value_t = 50)]
    max_age_ms: u64,
    /// Entries handed to the sequencer and not yet acknowledged.
    #[arg(long, default_value_t = 16384)]
    in_flight: usize,
    /// Page cache of the store, in MiB.
    #[arg(long, default_value_t = 256)]
    cache_mb: usize,
    /// Stop early once the file system holding --data has less free space, in GiB.
    #[arg(long, default_value_t = 15)]
    min_free_gb: u64,
    /// Stop early after this many seconds.
    #[arg(long, default_value_t = 6 * 3600)]
    max_secs: u64,
}

pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    match args.target {
        Target::Tlog(args) => load(args).await,
        Target::TlogProofs(args) => proofs(args).await,
        Target::TlogFill(args) => tokio::task::spawn_blocking(move || fill(&args)).await?,
        Target::Ca(args) => ca::load(args).await,
        Target::Tsa(args) => tsa::load(args).await,
    }
}

// ---------------------------------------------------------------- entries

/// Makes signed hashedrekord entries for unique artifacts.
struct EntryFactory {
    /// Each key with the base64 of its PEM public key, as the entry carries it.
    keys: Vec<(EcdsaKeyPair, String)>,
    /// Part of every artifact, so that runs do not collide.
    run: u64,
}

impl EntryFactory {
    fn new(run: u64) -> Result<Self, BenchError> {
        let keys = (0..SIGNING_KEYS)
            .map(|_| {
                let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(|_| BenchError::Crypto("generating a key"))?;
                let der = key
                    .public_key()
                    .as_der()
                    .map_err(|_| BenchError::Crypto("encoding a public key"))?;
                let pem = public_key_pem(der.as_ref());
                Ok((key, STANDARD.encode(pem)))
            })
            .collect::<Result<_, BenchError>>()?;
        Ok(Self { keys, run })
    }

    /// The ProposedEntry JSON for artifact number `n`.
    fn body(&self, n: u64) -> Result<Vec<u8>, BenchError> {
        let artifact = format!("atesto bench artifact {:016x} {n}", self.run);
        let hash = digest(&SHA256, artifact.as_bytes());
        let (key, public_key) = &self.keys[(n % self.keys.len() as u64) as usize];
        // Signing the digest is signing the artifact: hashedrekord verifies
        // the signature against the artifact's SHA-256.
        let signature = key
            .sign_digest(&hash)
            .map_err(|_| BenchError::Crypto("signing an artifact"))?;
        let proposed = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(hash.as_ref())}},
                "signature": {
                    "content": STANDARD.encode(signature.as_ref()),
                    "publicKey": {"content": public_key}
                }
            }
        });
        Ok(serde_json::to_vec(&proposed)?)
    }
}

fn public_key_pem(der: &[u8]) -> String {
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for (n, c) in STANDARD.encode(der).chars().enumerate() {
        if n > 0 && n % 64 == 0 {
            pem.push('\n');
        }
        pem.push(c);
    }
    pem.push_str("\n-----END PUBLIC KEY-----\n");
    pem
}

fn threads() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// Signs `count` entries on every core.
fn presign(factory: &EntryFactory, count: u64) -> Result<Vec<Vec<u8>>, BenchError> {
    let chunk = count.div_ceil(threads()).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(chunk as usize)
            .map(|first| {
                let last = (first + chunk).min(count);
                scope.spawn(move || {
                    (first..last)
                        .map(|n| factory.body(n))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut bodies = Vec::with_capacity(count as usize);
        for worker in workers {
            bodies.extend(worker.join().map_err(|_| BenchError::Worker)??);
        }
        Ok(bodies)
    })
}

// ---------------------------------------------------------------- HTTP driver

/// The base URL, refused unless it is plain HTTP to this machine.
fn loopback_url(raw: &str) -> Result<String, BenchError> {
    let url =
        reqwest::Url::parse(raw).map_err(|e| BenchError::Args(format!("--url {raw}: {e}")))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.scheme() != "http" || !loopback {
        return Err(BenchError::Args(format!(
            "--url must be http:// on a loopback address, got {raw}"
        )));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn check_concurrency(concurrency: usize) -> Result<(), BenchError> {
    if concurrency == 0 || concurrency > MAX_CONCURRENCY {
        return Err(BenchError::Args(format!(
            "--concurrency must be between 1 and {MAX_CONCURRENCY}"
        )));
    }
    Ok(())
}

fn http_client(concurrency: usize) -> Result<reqwest::Client, BenchError> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .build()?)
}

/// How requests are sent.
struct Plan {
    count: u64,
    concurrency: usize,
    /// Open loop at this many requests per second; closed loop when `None`.
    rate: Option<f64>,
    max_time: Duration,
    /// The status whose latencies are recorded.
    success: StatusCode,
}

/// What a run saw.
#[derive(Default)]
struct Tally {
    sent: u64,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    first_transport_error: Option<String>,
    /// Latencies of `Plan::success` answers, in microseconds.
    latencies_us: Vec<u64>,
    /// From the start to the last answer.
    elapsed: Duration,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.transport_errors += other.transport_errors;
        if self.first_transport_error.is_none() {
            self.first_transport_error = other.first_transport_error;
        }
        self.latencies_us.extend(other.latencies_us);
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    fn status(&self, status: StatusCode) -> u64 {
        self.statuses.get(&status.as_u16()).copied().unwrap_or(0)
    }
}

/// Sends request `n` for every `n` below `plan.count` from `plan.concurrency`
/// workers sharing one connection pool.
async fn drive<F>(plan: Plan, request: F) -> Result<Tally, BenchError>
where
    F: Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + plan.max_time;
    let plan = Arc::new(plan);
    let workers: Vec<_> = (0..plan.concurrency)
        .map(|_| {
            let (request, next, plan) = (request.clone(), next.clone(), plan.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= plan.count {
                        break;
                    }
                    let from = match plan.rate {
                        Some(rate) => start + Duration::from_secs_f64(n as f64 / rate),
                        None => Instant::now(),
                    };
                    if from >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(from).await;
                    tally.sent += 1;
                    // The body is read in full so the connection goes back to the pool.
                    let answer = match request(n).send().await {
                        Ok(response) => {
                            let status = response.status();
                            response.bytes().await.map(|_| status)
                        }
                        Err(err) => Err(err),
                    };
                    let done = Instant::now();
                    tally.elapsed = done - start;
                    match answer {
                        Ok(status) => {
                            *tally.statuses.entry(status.as_u16()).or_default() += 1;
                            if status == plan.success {
                                tally.latencies_us.push((done - from).as_micros() as u64);
                            }
                        }
                        Err(err) => {
                            tally.transport_errors += 1;
                            tally.first_transport_error.get_or_insert(err.to_string());
                        }
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        total.merge(worker.await?);
    }
    if let Some(err) = &total.first_transport_error {
        eprintln!(
            "{} transport errors; the first: {err}",
            total.transport_errors
        );
    }
    Ok(total)
}

/// Latency percentiles, in milliseconds (nearest rank).
#[derive(Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Latency {
    fn of(mut micros: Vec<u64>) -> Option<Latency> {
        micros.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
            micros[rank - 1] as f64 / 1000.0
        };
        let max = *micros.last()? as f64 / 1000.0;
        Some(Latency {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max,
        })
    }

    fn line(latency: Option<&Latency>) -> String {
        latency.map_or_else(
            || "none".into(),
            |l| {
                format!(
                    "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
                    l.p50, l.p90, l.p99, l.p999, l.max
                )
            },
        )
    }
}

fn print_json(summary: &impl Serialize) -> Result<(), BenchError> {
    println!("{}", serde_json::to_string(summary)?);
    Ok(())
}

// ---------------------------------------------------------------- bench tlog

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

async fn load(args: LoadArgs) -> Result<(), BenchError> {
    let base = loopback_url(&args.url)?;
    check_concurrency(args.concurrency)?;
    if args.entries == 0 || args.entries > MAX_HTTP_ENTRIES {
        return Err(BenchError::Args(format!(
            "--entries must be between 1 and {MAX_HTTP_ENTRIES}"
        )));
    }
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(BenchError::Args("--rate must be a positive number".into()));
    }
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
        mode: if args.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        entries: count,
        concurrency: args.concurrency,
        offered_per_s: args.rate,
        presign_secs,
        sent: tally.sent,
        secs,
        created_per_s: if secs > 0.0 {
            created as f64 / secs
        } else {
            0.0
        },
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

// ---------------------------------------------------------------- bench tlog-proofs

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
    tree_size: u64,
    concurrency: usize,
    sent: u64,
    secs: f64,
    requests_per_s: f64,
    ok: u64,
    other: u64,
    transport_errors: u64,
    /// Of the 200s.
    latency_ms: Option<Latency>,
}

async fn proofs(args: ProofArgs) -> Result<(), BenchError> {
    let base = loopback_url(&args.url)?;
    check_concurrency(args.concurrency)?;
    if args.requests == 0 || args.requests > MAX_PROOF_REQUESTS {
        return Err(BenchError::Args(format!(
            "--requests must be between 1 and {MAX_PROOF_REQUESTS}"
        )));
    }
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
        rate: None,
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
        tree_size,
        concurrency: args.concurrency,
        sent: tally.sent,
        secs,
        requests_per_s: if secs > 0.0 {
            tally.sent as f64 / secs
        } else {
            0.0
        },
        ok,
        other: tally.statuses.values().sum::<u64>() - ok,
        transport_errors: tally.transport_errors,
        latency_ms: Latency::of(tally.latencies_us),
    };
    println!(
        "{} GETs of entries with inclusion proofs in a tree of {tree_size}, {} in flight: \
         {:.0} requests/s; 200: {ok}, other: {}, transport errors: {}",
        summary.sent,
        summary.concurrency,
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

// ---------------------------------------------------------------- bench tlog-fill

#[derive(Serialize)]
struct FillSummary {
    bench: &'static str,
    added: u64,
    tree_size: u64,
    secs: f64,
    entries_per_s: f64,
    /// Time `Log::open` took: a store not closed cleanly is repaired first.
    open_secs: f64,
    /// Length of `log.redb`, and the blocks the file system gave it.
    store_bytes: u64,
    store_allocated_bytes: u64,
    bytes_per_entry: f64,
    /// Why the fill ended before `--entries`, if it did.
    stopped_early: Option<String>,
}

fn fill(args: &FillArgs) -> Result<(), BenchError> {
    if args.in_flight == 0 {
        return Err(BenchError::Args("--in-flight must be positive".into()));
    }
    let config = TlogConfig {
        data: args.data.clone(),
        batch: BatchConfig {
            max_size: args.batch_size,
            max_age_ms: args.max_age_ms,
            // The sequencer's pool holds every entry in flight, so a
            // submission never meets a full pool.
            pool_size: args.in_flight,
        },
        cache_mb: args.cache_mb,
        ..TlogConfig::default()
    };
    config.validate()?;
    let opening = std::time::Instant::now();
    let log = Log::open(&config)?;
    let open_secs = opening.elapsed().as_secs_f64();
    let initial = log.view.load().total_size();
    let wanted = args.entries.saturating_sub(initial);
    eprintln!("opened in {open_secs:.2} s; the log holds {initial} entries; adding {wanted}");

    let factory = EntryFactory::new(rand::thread_rng().r#gen())?;
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (sender, prepared) = std::sync::mpsc::sync_channel(args.in_flight);
    let started = std::time::Instant::now();
    let outcome = std::thread::scope(|scope| {
        let (factory, next, stop) = (&factory, &next, &stop);
        // Producers sign and prepare (parse, verify the signature, derive the
        // index keys) exactly as the POST handler does.
        for _ in 0..threads() {
            let sender = sender.clone();
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= wanted {
                        break;
                    }
                    let made = factory
                        .body(initial + n)
                        .and_then(|body| Ok(entry::prepare(&body)?));
                    if sender.send(made).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let outcome = sequence(&log, prepared, args, started);
        stop.store(true, Ordering::Relaxed);
        outcome
    });
    let (added, stopped_early) = outcome?;

    let secs = started.elapsed().as_secs_f64();
    let tree_size = log.view.load().total_size();
    close(log)?;
    let store_path = config.store_path();
    let metadata = std::fs::metadata(&store_path).map_err(|source| BenchError::Io {
        what: format!("reading {}", store_path.display()),
        source,
    })?;
    let store_bytes = metadata.len();
    let summary = FillSummary {
        bench: "tlog-fill",
        added,
        tree_size,
        secs,
        entries_per_s: if secs > 0.0 { added as f64 / secs } else { 0.0 },
        open_secs,
        store_bytes,
        store_allocated_bytes: std::os::unix::fs::MetadataExt::blocks(&metadata) * 512,
        bytes_per_entry: if tree_size > 0 {
            store_bytes as f64 / tree_size as f64
        } else {
            0.0
        },
        stopped_early,
    };
    println!(
        "added {added} entries in {secs:.0} s ({:.0} entries/s); the log holds {tree_size}; \
         {} is {store_bytes} bytes ({:.0} bytes/entry)",
        summary.entries_per_s,
        store_path.display(),
        summary.bytes_per_entry
    );
    print_json(&summary)
}

/// Drops the log and waits for the sequencer thread to let go of the store,
/// so that the store is closed here, cleanly, before the process exits: a
/// store left open is repaired on its next open, which reads the whole file.
fn close(log: Log) -> Result<(), BenchError> {
    let store = log.store.clone();
    drop(log);
    let deadline = std::time::Instant::now() + CLOSE_TIMEOUT;
    while Arc::strong_count(&store) > 1 {
        if std::time::Instant::now() >= deadline {
            return Err(BenchError::Close);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(store);
    Ok(())
}

type Pending = oneshot::Receiver<Result<ProvenEntry, SubmitError>>;

/// Hands prepared entries to the sequencer, keeping at most `in_flight`
/// unacknowledged. Returns how many were acknowledged and why it stopped early.
fn sequence(
    log: &Log,
    prepared: Receiver<Result<PreparedEntry, BenchError>>,
    args: &FillArgs,
    started: std::time::Instant,
) -> Result<(u64, Option<String>), BenchError> {
    let mut pending: VecDeque<Pending> = VecDeque::with_capacity(args.in_flight);
    let mut done = 0u64;
    let mut last_report = (started, 0u64);
    let mut stopped_early = None;
    for made in prepared.iter() {
        if pending.len() >= args.in_flight
            && let Some(oldest) = pending.pop_front()
        {
            settle(oldest)?;
            done += 1;
        }
        pending.push_back(log.sequencer.submit(made?)?);

        let now = std::time::Instant::now();
        if now - last_report.0 >= PROGRESS_EVERY {
            let rate = (done - last_report.1) as f64 / (now - last_report.0).as_secs_f64();
            let free_gb = free_gib(&args.data)?;
            eprintln!(
                "{:>6.0} s: {} entries in the log, {rate:.0} entries/s, {free_gb:.1} GiB free",
                (now - started).as_secs_f64(),
                log.view.load().total_size(),
            );
            last_report = (now, done);
            if free_gb < args.min_free_gb as f64 {
                stopped_early = Some(format!("less than {} GiB free", args.min_free_gb));
            } else if now - started >= Duration::from_secs(args.max_secs) {
                stopped_early = Some(format!("{} s elapsed", args.max_secs));
            }
            if stopped_early.is_some() {
                break;
            }
        }
    }
    for reply in pending {
        settle(reply)?;
        done += 1;
    }
    Ok((done, stopped_early))
}

fn settle(reply: Pending) -> Result<(), BenchError> {
    reply.blocking_recv().map_err(|_| SubmitError::Stopped)??;
    Ok(())
}

fn free_gib(path: &Path) -> Result<f64, BenchError> {
    let stats = rustix::fs::statvfs(path).map_err(|errno| BenchError::Io {
        what: format!("statvfs {}", path.display()),
        source: errno.into(),
    })?;
    Ok((stats.f_bavail * stats.f_frsize) as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_urls_are_accepted() {
        for good in [
            "http://127.0.0.1:3000",
            "http://localhost:1/",
            "http://[::1]:8080",
        ] {
            assert!(loopback_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://10.0.0.1:3000",
            "https://127.0.0.1:3000",
            "http://example.com",
            "x",
        ] {
            assert!(loopback_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let latency = Latency::of((1..=1000).map(|ms| ms * 1000).collect()).unwrap();
        assert_eq!(latency.p50, 500.0);
        assert_eq!(latency.p99, 990.0);
        assert_eq!(latency.p999, 999.0);
        assert_eq!(latency.max, 1000.0);
        assert!(Latency::of(Vec::new()).is_none());
    }

    #[test]
    fn entries_are_unique_and_well_formed() {
        let factory = EntryFactory::new(7).unwrap();
        let bodies = presign(&factory, 20).unwrap();
        assert_eq!(bodies.len(), 20);
        let unique: std::collections::HashSet<_> = bodies.iter().collect();
        assert_eq!(unique.len(), 20);
        let first: serde_json::Value = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(first["kind"], "hashedrekord");
        let pem = STANDARD
            .decode(
                first["spec"]["signature"]["publicKey"]["content"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert!(
            String::from_utf8(pem)
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
    }
}
