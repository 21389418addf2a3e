//! Prometheus metrics of the log, served at `/metrics`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use atesto_common::http::{HttpMetrics, render_metrics};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

pub struct Metrics {
    registry: Registry,
    /// Entries integrated since start.
    pub entries: IntCounter,
    /// Submissions answered 409.
    pub duplicates: IntCounter,
    /// Submissions answered 503 because the pool was full.
    pub pool_full: IntCounter,
    pub commit_failures: IntCounter,
    /// Entries per batch.
    pub batch_size: Histogram,
    /// From a batch's start to its durable commit.
    pub commit_seconds: Histogram,
    /// Size of the active shard's tree.
    pub tree_size: IntGauge,
    /// Replicas: the integrator lease's epoch as last claimed.
    pub lease_epoch: IntGauge,
    /// Replicas: 1 while this process holds the lease and integrates.
    pub integrator: IntGauge,
    /// Batches refused because another replica holds the lease.
    pub fence_refusals: IntCounter,
    /// Batches refused because the stored checkpoint was not their base.
    pub cas_refusals: IntCounter,
    /// Writes forwarded to the integrator.
    pub forwarded: IntCounter,
    /// Replicas: entries the follower's view was behind the store at its
    /// last refresh (integration lag as readers of this replica see it).
    pub view_lag_entries: IntGauge,
    /// Free and total bytes of the data directory's file system, read at
    /// each scrape (the store cannot write once it is full).
    data_free_bytes: IntGauge,
    data_size_bytes: IntGauge,
    data_dir: OnceLock<PathBuf>,
    pub http: Arc<HttpMetrics>,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("atesto_tlog".into()), None)?;
        let entries = IntCounter::new("entries_total", "Entries integrated since start")?;
        let duplicates = IntCounter::new("duplicates_total", "Submissions refused as duplicates")?;
        let pool_full = IntCounter::new(
            "pool_full_total",
            "Submissions refused with 503 because the pool was full",
        )?;
        let commit_failures = IntCounter::new(
            "commit_failures_total",
            "Batches the store failed to commit",
        )?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("batch_size", "Entries per integrated batch").buckets(vec![
                1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0,
            ]),
        )?;
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "commit_seconds",
                "Time from a batch's start to its durable commit",
            )
            .buckets(prometheus::exponential_buckets(0.0005, 2.0, 14)?),
        )?;
        let tree_size = IntGauge::new("tree_size", "Entries in the active shard's tree")?;
        let lease_epoch = IntGauge::new("lease_epoch", "Epoch of the integrator lease")?;
        let integrator = IntGauge::new(
            "integrator",
            "1 while this replica holds the integrator lease",
        )?;
        let fence_refusals = IntCounter::new(
            "fence_refusals_total",
            "Batches refused because another replica holds the integrator lease",
        )?;
        let cas_refusals = IntCounter::new(
            "cas_refusals_total",
            "Batches refused because the stored checkpoint was not the one they extend",
        )?;
        let forwarded = IntCounter::new(
            "forwarded_total",
            "Writes forwarded to the integrating replica",
        )?;
        let view_lag_entries = IntGauge::new(
            "view_lag_entries",
            "Entries a follower's view was behind the store at its last refresh",
        )?;
        let data_free_bytes = IntGauge::new(
            "data_free_bytes",
            "Bytes available to the log on its data directory's file system",
        )?;
        let data_size_bytes = IntGauge::new(
            "data_size_bytes",
            "Size in bytes of the data directory's file system",
        )?;
        registry.register(Box::new(entries.clone()))?;
        registry.register(Box::new(duplicates.clone()))?;
        registry.register(Box::new(pool_full.clone()))?;
        registry.register(Box::new(commit_failures.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(commit_seconds.clone()))?;
        registry.register(Box::new(tree_size.clone()))?;
        registry.register(Box::new(lease_epoch.clone()))?;
        registry.register(Box::new(integrator.clone()))?;
        registry.register(Box::new(fence_refusals.clone()))?;
        registry.register(Box::new(cas_refusals.clone()))?;
        registry.register(Box::new(forwarded.clone()))?;
        registry.register(Box::new(view_lag_entries.clone()))?;
        registry.register(Box::new(data_free_bytes.clone()))?;
        registry.register(Box::new(data_size_bytes.clone()))?;
        let http = Arc::new(HttpMetrics::register(&registry)?);
        Ok(Self {
            registry,
            entries,
            duplicates,
            pool_full,
            commit_failures,
            batch_size,
            commit_seconds,
            tree_size,
            lease_epoch,
            integrator,
            fence_refusals,
            cas_refusals,
            forwarded,
            view_lag_entries,
            data_free_bytes,
            data_size_bytes,
            data_dir: OnceLock::new(),
            http,
        })
    }

    /// Where a follower of the log (publication to object storage)
    /// registers its own metrics, served with these.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Reports the disk space of the file system holding `dir` from now on.
    pub fn watch_disk(&self, dir: &Path) {
        let _ = self.data_dir.set(dir.to_owned());
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        if let Some(dir) = self.data_dir.get() {
            // One statvfs call: cheap enough for the scrape's worker.
            match rustix::fs::statvfs(dir.as_path()) {
                Ok(stats) => {
                    let bytes = |blocks: u64| i64::try_from(blocks.saturating_mul(stats.f_frsize));
                    self.data_free_bytes
                        .set(bytes(stats.f_bavail).unwrap_or(i64::MAX));
                    self.data_size_bytes
                        .set(bytes(stats.f_blocks).unwrap_or(i64::MAX));
                }
                Err(err) => tracing::warn!(%err, dir = %dir.display(), "statvfs failed"),
            }
        }
        render_metrics(&self.registry)
    }
}
