//! `atesto monitor`: checks that a Rekor v1 or CT log only ever grows.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use atesto_monitor::metrics::MonitorMetrics;
use atesto_monitor::monitor::{discover, http_client};
use atesto_monitor::watch::WatchList;
use atesto_monitor::{LogKind, Monitor, MonitorError, Outcome, TrustedKeys};
use clap::{ArgGroup, Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

#[derive(Args)]
#[command(group(ArgGroup::new("key").required(true).args(["public_key", "trust_root"])))]
#[command(group(ArgGroup::new("mode").required(true).args(["once", "interval"])))]
pub struct MonitorArgs {
    /// Base URL of the log (e.g. https://rekor.example).
    #[arg(long)]
    log: String,
    /// The log's public key (PEM or DER), as GET /api/v1/log/publicKey serves it.
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// A trusted_root.json or trust_config.json: the keys of the tlogs/ctlogs
    /// entry whose baseUrl is --log.
    #[arg(long)]
    trust_root: Option<PathBuf>,
    /// Where the last verified tree head is kept between runs (one file per log).
    #[arg(long)]
    state: PathBuf,
    /// Check once; exit 2 on an alert, 1 when the check could not complete.
    #[arg(long)]
    once: bool,
    /// Check every SECS seconds until SIGINT/SIGTERM; alerts are JSON lines on stdout.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    interval: Option<u64>,
    /// The log's API; `auto` asks the log.
    #[arg(long, value_enum, default_value = "auto")]
    kind: Kind,
    /// Identity watch: a YAML/JSON file of identities (san, san_regex, issuer,
    /// fingerprint, extensions); every entry added since the last scan is
    /// checked and each match printed as a JSON line, then a summary line.
    #[arg(long)]
    watch: Option<PathBuf>,
    /// Split-view check: a file or URL holding another party's tree head of
    /// this log (a checkpoint, get-sth or /api/v1/log reply, or a monitor's
    /// state file); repeatable.
    #[arg(long)]
    witness: Vec<String>,
    /// Serve Prometheus metrics (alerts by kind, checks, verified size) on this address.
    #[arg(long)]
    metrics_addr: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Auto,
    Rekor,
    Ct,
    /// C2SP tlog-tiles (`/checkpoint`): proofs computed from the tiles.
    Tiles,
}

/// Exit status of `--once` when the log is caught misbehaving, distinct from
/// 1 (the check itself failed) so scripts can tell evidence from outages.
const ALERT_EXIT: i32 = 2;

pub async fn run(args: MonitorArgs) -> anyhow::Result<()> {
    let base = args.log.trim_end_matches('/').to_owned();
    let keys = match (&args.public_key, &args.trust_root) {
        (Some(path), _) => TrustedKeys::from_public_key_file(path)?,
        (None, Some(path)) => TrustedKeys::from_trust_root_file(path, Some(&base))?,
        (None, None) => anyhow::bail!("pass --public-key or --trust-root"),
    };
    let client = http_client()?;
    let kind = match args.kind {
        Kind::Rekor => LogKind::Rekor,
        Kind::Ct => LogKind::Ct,
        Kind::Tiles => LogKind::Tiles,
        Kind::Auto => discover(&client, &base)
            .await
            .context("discovering the log's API")?,
    };
    let monitor =
        Monitor::new(kind, &base, keys, args.state.clone(), client).with_witnesses(args.witness);
    let watch = args
        .watch
        .as_deref()
        .map(WatchList::load)
        .transpose()?
        .map(Arc::new);

    if args.once {
        let outcome = monitor.check().await.context("checking the log")?;
        report(&monitor, &outcome);
        if let Outcome::Alert(alert) = outcome {
            eprintln!("ALERT {}: {alert}", monitor.base());
            std::process::exit(ALERT_EXIT);
        }
        if let Some(watch) = &watch {
            scan(&monitor, watch.clone(), None)
                .await
                .context("scanning for watched identities")?;
        }
        return Ok(());
    }

    let registry = prometheus::Registry::new();
    let metrics = MonitorMetrics::register(&registry)?;
    if let Some(addr) = &args.metrics_addr {
        let registry = Arc::new(registry);
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let registry = registry.clone();
                async move { atesto_common::http::render_metrics(&registry) }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        tracing::info!(addr = %listener.local_addr()?, "serving metrics");
        // The monitor has no config file: the metrics listener takes the
        // default limits, and lives as long as the process.
        tokio::spawn(atesto_common::serve::serve(
            listener,
            router,
            atesto_common::serve::ConnectionLimits::default(),
            std::future::pending(),
        ));
    }
    let interval = Duration::from_secs(args.interval.unwrap_or(60));
    let shutdown = super::tlog::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let result = monitor.check().await;
        metrics.record(&result);
        match &result {
            Ok(outcome) => {
                report(&monitor, outcome);
                if let (Some(watch), Outcome::Verified { .. }) = (&watch, outcome)
                    && let Err(err) = scan(&monitor, watch.clone(), Some(&metrics)).await
                {
                    tracing::warn!(err = %error_chain(&err), "identity scan failed");
                }
            }
            // An outage is not evidence: say so and try again next time.
            Err(err) => tracing::warn!(err = %error_chain(err), "check failed"),
        }
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// One JSON line on stdout per check: what was verified, or the alert.
fn report(monitor: &Monitor, outcome: &Outcome) {
    match outcome {
        Outcome::Verified {
            previous_size,
            head,
        } => println!(
            "{}",
            json!({
                "kind": "verified",
                "log": monitor.base(),
                "origin": head.origin,
                "size": head.size,
                "root": head.root,
                "previous_size": previous_size,
            })
        ),
        Outcome::Alert(alert) => println!("{}", alert.json_line(monitor.base())),
    }
}

/// Runs the identity watch over the newly verified entries: one JSON line per
/// match, then a summary line; progress on stderr.
async fn scan(
    monitor: &Monitor,
    watch: Arc<WatchList>,
    metrics: Option<&MonitorMetrics>,
) -> Result<(), MonitorError> {
    let mut progress = Progress::new();
    let summary = monitor
        .watch(
            watch,
            |found| {
                let mut line = serde_json::to_value(found).unwrap_or_default();
                line["kind"] = "match".into();
                line["log"] = monitor.base().into();
                println!("{line}");
            },
            |done, total| progress.update(done, total),
        )
        .await?;
    progress.finish();
    if let Some(summary) = summary {
        if let Some(metrics) = metrics {
            metrics.record_scan(&summary);
        }
        println!("{}", serde_json::to_value(&summary).unwrap_or_default());
    }
    Ok(())
}

/// Catch-up progress: an indicatif bar on a terminal, a plain line every few
/// seconds otherwise (logs must not fill with redraws).
struct Progress {
    bar: Option<ProgressBar>,
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "scanning [{bar:40}] {pos}/{len} entries, {per_sec}, eta {eta}",
            ) {
                bar.set_style(style.progress_chars("#>-"));
            }
            bar
        });
        Self {
            bar,
            last: Instant::now(),
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            None if self.last.elapsed() >= Duration::from_secs(5) => {
                self.last = Instant::now();
                eprintln!("scanned {done} of {total} entries");
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

fn error_chain(err: &MonitorError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
