//! `atesto bench tlog-fill`: grows a log in-process, straight into the
//! sequencer, to make the large logs the read figures are measured on:
//! its embedded store under `--data`, or its PostgreSQL schema with
//! `--database` (the signing key stays under `--data`, as for `atesto tlog`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use atesto_rekor_v1::config::{BatchConfig, TlogConfig};
use atesto_rekor_v1::entry::{self, PreparedEntry};
use atesto_tlog_engine::log::{Log, LogError};
use atesto_tlog_engine::sequencer::SubmitError;
use atesto_tlog_engine::store::LogStore;
use atesto_tlog_engine::store::postgres::tls;
use atesto_tlog_engine::store::postgres::{self, PostgresStore};
use atesto_tlog_engine::store::redb::{RedbStore, STORE_FILE};
use atesto_tlog_engine::view::ProvenEntry;
use rand::Rng;
use serde::Serialize;
use tokio::sync::oneshot;

use super::driver::print_json;
use super::entries::{EntryFactory, threads};
use super::error::BenchError;

const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// How long the sequencer may take to finish and release the store.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(clap::Args)]
pub(super) struct FillArgs {
    /// Data directory of the log, created when absent. No server may hold it.
    #[arg(long)]
    data: PathBuf,
    /// Grow the log in this PostgreSQL database instead of the embedded store.
    #[arg(long)]
    database: Option<String>,
    /// The log's PostgreSQL schema (with --database).
    #[arg(long, default_value = "tlog")]
    database_schema: String,
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

#[derive(Serialize)]
struct FillSummary {
    bench: &'static str,
    added: u64,
    tree_size: u64,
    secs: f64,
    entries_per_s: f64,
    /// Time opening the store and starting the log took: a store not closed cleanly is repaired first.
    open_secs: f64,
    /// Length of `log.redb` and the blocks the file system gave it; in
    /// PostgreSQL both are the schema's tables with their indexes and TOAST.
    store_bytes: u64,
    store_allocated_bytes: u64,
    bytes_per_entry: f64,
    /// Why the fill ended before `--entries`, if it did.
    stopped_early: Option<String>,
}

pub(super) fn fill(args: &FillArgs) -> Result<(), BenchError> {
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
    std::fs::create_dir_all(&config.data).map_err(|source| BenchError::Io {
        what: format!("creating {}", config.data.display()),
        source,
    })?;
    let opening = std::time::Instant::now();
    let store: Arc<dyn LogStore> = match &args.database {
        Some(url) => Arc::new(
            PostgresStore::open(url, &args.database_schema, postgres::DEFAULT_POOL_SIZE)
                .map_err(LogError::from)?,
        ),
        None => Arc::new(
            RedbStore::open_dir(&config.data, config.cache_mb << 20).map_err(LogError::from)?,
        ),
    };
    let log = atesto_rekor_v1::start(store.clone(), &config)?;
    let open_secs = opening.elapsed().as_secs_f64();
    let initial = log.view().total_size();
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
    let tree_size = log.view().total_size();
    close(log, store)?;
    let (store_name, store_bytes, store_allocated_bytes) = match &args.database {
        Some(url) => {
            let bytes = schema_bytes(url, &args.database_schema)?;
            (format!("schema {}", args.database_schema), bytes, bytes)
        }
        None => {
            let path = config.data.join(STORE_FILE);
            let metadata = std::fs::metadata(&path).map_err(|source| BenchError::Io {
                what: format!("reading {}", path.display()),
                source,
            })?;
            let allocated = std::os::unix::fs::MetadataExt::blocks(&metadata) * 512;
            (path.display().to_string(), metadata.len(), allocated)
        }
    };
    let summary = FillSummary {
        bench: "tlog-fill",
        added,
        tree_size,
        secs,
        entries_per_s: if secs > 0.0 { added as f64 / secs } else { 0.0 },
        open_secs,
        store_bytes,
        store_allocated_bytes,
        bytes_per_entry: if tree_size > 0 {
            store_bytes as f64 / tree_size as f64
        } else {
            0.0
        },
        stopped_early,
    };
    println!(
        "added {added} entries in {secs:.0} s ({:.0} entries/s); the log holds {tree_size}; \
         {store_name} is {store_bytes} bytes ({:.0} bytes/entry)",
        summary.entries_per_s, summary.bytes_per_entry
    );
    print_json(&summary)
}

/// Drops the log and waits for the sequencer thread to let go of the store,
/// so that the store is closed here, cleanly, before the process exits: a
/// store left open is repaired on its next open, which reads the whole file.
fn close(log: Log, store: Arc<dyn LogStore>) -> Result<(), BenchError> {
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
        pending.push_back(log.submit(made?.into_submission())?);

        let now = std::time::Instant::now();
        if now - last_report.0 >= PROGRESS_EVERY {
            let rate = (done - last_report.1) as f64 / (now - last_report.0).as_secs_f64();
            let free_gb = free_gib(&args.data)?;
            eprintln!(
                "{:>6.0} s: {} entries in the log, {rate:.0} entries/s, {free_gb:.1} GiB free",
                (now - started).as_secs_f64(),
                log.view().total_size(),
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

/// Bytes the log's schema takes in PostgreSQL: every table with its
/// indexes and TOAST, as on disk.
fn schema_bytes(url: &str, schema: &str) -> Result<u64, BenchError> {
    let database = |e: ::postgres::Error| BenchError::Database(e.to_string());
    // The same TLS settings (`sslmode`, `sslrootcert`) as the store's own connections.
    let target = tls::parse(url).map_err(|e| BenchError::Database(e.to_string()))?;
    let mut client = ::postgres::Config::from(target.config)
        .connect(target.tls)
        .map_err(database)?;
    let row = client
        .query_one(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'r'",
            &[&schema],
        )
        .map_err(database)?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

fn free_gib(path: &Path) -> Result<f64, BenchError> {
    let stats = rustix::fs::statvfs(path).map_err(|errno| BenchError::Io {
        what: format!("statvfs {}", path.display()),
        source: errno.into(),
    })?;
    Ok((stats.f_bavail * stats.f_frsize) as f64 / f64::from(1u32 << 30))
}
