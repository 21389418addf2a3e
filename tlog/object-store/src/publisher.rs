//! The publisher: a task beside the log that copies each new published
//! checkpoint's tiles, entry bundles and then the checkpoint itself to the
//! bucket. It never holds up a write: it polls the log's view, publishes
//! the newest checkpoint it finds (the ones in between are skipped, so the
//! backlog is a distance, never a queue), and on any failure waits, reads
//! the bucket's checkpoint again and goes on from there.
//!
//! Safety rules (docs/design.md, "Publishing to object storage"):
//! - tiles and bundles are written before the checkpoint that covers them,
//!   and are the same bytes for the same path whoever writes them;
//! - a checkpoint is written only over an older checkpoint of the same tree
//!   (or one of an older shard at the root), after reading it back: the
//!   bucket's checkpoint never moves back, and a bucket holding another
//!   log's checkpoint, or one that is not this log's tree, is never
//!   overwritten;
//! - nothing depends on conditional writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use prometheus::{Gauge, IntCounter, IntGauge, Registry};

use atesto_tlog_engine::log::Follower;
use atesto_tlog_engine::merkle::{self, TILE_HEIGHT, TILE_WIDTH};
use atesto_tlog_engine::replica::Role;
use atesto_tlog_engine::store::ShardState;
use atesto_tlog_engine::view::LogView;
use atesto_tlog_http::LogState;
use atesto_tlog_http::tiles::{TileRequest, tile_bytes};

use crate::bucket::{Bucket, BucketCheckpoint, BucketError, ObjectKind};
use crate::plan::objects_between;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("reading the log: {0}")]
    Log(String),
    #[error("the bucket's {path} is of another log (origin {found:?}); refusing to overwrite it")]
    Foreign { path: String, found: String },
    #[error(
        "the bucket's {path} has size {size} but a root that is not this log's at that size; refusing to publish over it"
    )]
    Fork { path: String, size: u64 },
    #[error("registering metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// How often the publisher looks for a new checkpoint when all went well.
const INTERVAL: Duration = Duration::from_millis(100);
/// The longest wait between two tries while the store fails.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Uploads in flight at once.
const CONCURRENCY: usize = 16;
/// Behind for longer than this, `/readyz` says the publication is degraded.
const STALL: Duration = Duration::from_secs(5);
/// How often the bucket's checkpoints are read again when nothing is new:
/// a race between two publishers that left an older one is repaired then.
const REVERIFY: Duration = Duration::from_secs(10);

/// Where a shard's copy lives in the bucket: the active shard at the root,
/// as the HTTP API serves it, the others under `shards/<treeID>/`.
fn prefix_of(view: &LogView, shard: &ShardState) -> String {
    let active = view
        .active()
        .is_some_and(|a| a.info.tree_id == shard.info.tree_id);
    if active {
        String::new()
    } else {
        format!("shards/{}/", shard.info.tree_id)
    }
}

/// What the publisher knows, shared with `/readyz` and the metrics.
struct Progress {
    /// The size of the checkpoint the bucket holds for each shard it holds
    /// one for, by place (`prefix_of`) and tree id: a rotated shard moves
    /// from the root to `shards/<treeID>/`. `None` until read from the bucket.
    published: Option<HashMap<(String, u64), u64>>,
    /// Since when the bucket has lacked entries the log has published.
    behind_since: Option<Instant>,
    last_error: Option<String>,
}

impl Progress {
    /// Entries the log has published that the bucket has not, and for how long.
    fn lag(&self, view: &LogView) -> (u64, Duration) {
        let entries = view
            .shards
            .iter()
            .map(|s| {
                let published = self
                    .published
                    .as_ref()
                    .and_then(|p| p.get(&(prefix_of(view, s), s.info.tree_id)).copied())
                    .unwrap_or(0);
                s.checkpoint.size.saturating_sub(published)
            })
            .sum();
        let since = self.behind_since.map_or(Duration::ZERO, |t| t.elapsed());
        (entries, if entries == 0 { Duration::ZERO } else { since })
    }
}

struct Shared {
    url: String,
    progress: Mutex<Progress>,
}

impl Shared {
    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Follower for Shared {
    fn status(&self, view: &LogView) -> Result<String, String> {
        let progress = self.progress();
        let (entries, since) = progress.lag(view);
        let url = &self.url;
        if let Some(err) = &progress.last_error {
            return Err(format!(
                "object store {url}: {entries} entries not yet published, for {:.1}s; last error: {err}",
                since.as_secs_f64()
            ));
        }
        if progress.published.is_none() {
            return Err(format!(
                "object store {url}: its checkpoint is not read yet"
            ));
        }
        if entries > 0 && since > STALL {
            return Err(format!(
                "object store {url}: {entries} entries not yet published, for {:.1}s",
                since.as_secs_f64()
            ));
        }
        Ok(format!(
            "object store {url}: {entries} entries behind, for {:.1}s",
            since.as_secs_f64()
        ))
    }
}

/// The publisher's metrics, in the log's registry (`atesto_tlog_` prefix).
#[derive(Clone)]
struct PublishMetrics {
    lag_entries: IntGauge,
    lag_seconds: Gauge,
    failures: IntCounter,
    objects: IntCounter,
    bytes: IntCounter,
}

impl PublishMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            lag_entries: IntGauge::new(
                "object_store_lag_entries",
                "Entries the log has published that the object store's copy lacks",
            )?,
            lag_seconds: Gauge::new(
                "object_store_lag_seconds",
                "How long the object store's copy has lacked published entries",
            )?,
            failures: IntCounter::new(
                "object_store_failures_total",
                "Publications to the object store that failed (retried)",
            )?,
            objects: IntCounter::new(
                "object_store_objects_total",
                "Objects written to the object store",
            )?,
            bytes: IntCounter::new(
                "object_store_bytes_total",
                "Bytes written to the object store",
            )?,
        };
        registry.register(Box::new(metrics.lag_entries.clone()))?;
        registry.register(Box::new(metrics.lag_seconds.clone()))?;
        registry.register(Box::new(metrics.failures.clone()))?;
        registry.register(Box::new(metrics.objects.clone()))?;
        registry.register(Box::new(metrics.bytes.clone()))?;
        Ok(metrics)
    }

    fn show(&self, progress: &Progress, view: &LogView) {
        let (entries, since) = progress.lag(view);
        self.lag_entries
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
        self.lag_seconds.set(since.as_secs_f64());
    }
}

/// Starts publishing the log in `state` to the bucket at `url`, on the
/// current runtime. Fails for a URL or configuration that cannot work (a
/// bucket that does not exist, refused credentials); a store that is down
/// is waited for, and shows in `/readyz` and the metrics meanwhile.
pub async fn start<S: LogState>(state: S, url: &str) -> Result<(), PublishError> {
    let publisher = Publisher::open(state, url).await?;
    publisher.state.log().add_follower(publisher.shared.clone());
    // The gauges move on even while an upload hangs.
    let watcher = (
        publisher.state.clone(),
        publisher.shared.clone(),
        publisher.metrics.clone(),
    );
    tokio::spawn(async move {
        let (state, shared, metrics) = watcher;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            metrics.show(&shared.progress(), &state.log().view());
        }
    });
    tokio::spawn(publisher.run());
    Ok(())
}

/// Brings the bucket at `url` up to the log's view once, now, by the same
/// rules as the running publisher (`atesto tlog migrate` publishes a
/// migrated log before it reports success).
pub async fn publish_once<S: LogState>(state: S, url: &str) -> Result<(), PublishError> {
    let publisher = Publisher::open(state, url).await?;
    let view = publisher.state.log().view();
    publisher.publish(&view, true).await
}

struct Publisher<S> {
    state: S,
    bucket: Bucket,
    shared: Arc<Shared>,
    metrics: PublishMetrics,
}

/// What to do about the checkpoint the bucket holds where a shard's goes.
enum Decision {
    /// Nothing there (`None`) or an older checkpoint of this tree (its
    /// size): write ours.
    Write(Option<u64>),
    /// The bucket holds this tree at this size or larger: leave it.
    Keep(u64),
    /// At the root, a shard the log rotated away from (already copied under
    /// `shards/<treeID>/`): remove it, then write ours.
    ReplaceOlderShard,
}

impl<S: LogState> Publisher<S> {
    /// A publisher of `state`'s log to the bucket at `url`, which it probes.
    async fn open(state: S, url: &str) -> Result<Self, PublishError> {
        let bucket = Bucket::open(url)?;
        bucket.probe().await?;
        let metrics = PublishMetrics::register(state.log().metrics().registry())?;
        let shared = Arc::new(Shared {
            url: url.to_owned(),
            progress: Mutex::new(Progress {
                published: None,
                behind_since: None,
                last_error: None,
            }),
        });
        Ok(Self {
            state,
            bucket,
            shared,
            metrics,
        })
    }

    async fn run(self) {
        let mut delay = INTERVAL;
        let mut verified = Instant::now();
        loop {
            tokio::time::sleep(delay).await;
            // With replicas only the integrator publishes: a follower's view
            // trails it, and one writer narrows the race the checkpoint
            // rule repairs (docs/design.md).
            if matches!(
                self.state.log().role().as_deref(),
                Some(Role::Follower { .. })
            ) {
                self.shared.progress().behind_since = None;
                delay = INTERVAL;
                continue;
            }
            let view = self.state.log().view();
            let started = Instant::now();
            let reverify = verified.elapsed() > REVERIFY;
            {
                let mut progress = self.shared.progress();
                if progress.behind_since.is_none() && progress.lag(&view).0 > 0 {
                    progress.behind_since = Some(started);
                }
            }
            match self.publish(&view, reverify).await {
                Ok(()) => {
                    delay = INTERVAL;
                    if reverify {
                        verified = started;
                    }
                    let now = self.state.log().view();
                    let mut progress = self.shared.progress();
                    progress.last_error = None;
                    // Entries published since this round began have waited at most since then.
                    progress.behind_since = (progress.lag(&now).0 > 0).then_some(started);
                    self.metrics.show(&progress, &now);
                }
                Err(err) => {
                    tracing::warn!(url = self.bucket.url(), %err, "publishing to the object store failed; retrying");
                    self.metrics.failures.inc();
                    delay = (delay * 2).min(MAX_BACKOFF);
                    let mut progress = self.shared.progress();
                    // `published` stays: what the bucket held before still
                    // is (its checkpoint never moves back), and the next
                    // round reads it again before writing.
                    progress.last_error = Some(err.to_string());
                    self.metrics.show(&progress, &view);
                }
            }
        }
    }

    /// Brings the bucket up to `view`: inactive shards first, so a rotated
    /// shard is whole under `shards/<treeID>/` before the root moves on.
    /// Each shard's checkpoint in the bucket is read, and checked to be of
    /// this tree, before anything of it is written; with `reverify` also
    /// those the bucket is known to have, to repair a race.
    async fn publish(&self, view: &LogView, reverify: bool) -> Result<(), PublishError> {
        let known = self.shared.progress().published.clone();
        let mut published = known.clone().unwrap_or_default();
        for shard in &view.shards {
            let place = (prefix_of(view, shard), shard.info.tree_id);
            let done = !reverify
                && known
                    .as_ref()
                    .and_then(|k| k.get(&place))
                    .is_some_and(|size| *size >= shard.checkpoint.size);
            if done {
                continue;
            }
            let size = match self.decide(view, shard).await? {
                Decision::Keep(size) => size,
                Decision::Write(from) => self.publish_shard(view, shard, from.unwrap_or(0)).await?,
                Decision::ReplaceOlderShard => {
                    // The checkpoint first: no reader is sent to tiles that
                    // go, and none gets another tree's tile (a 404 instead).
                    self.bucket.delete("checkpoint").await?;
                    let removed = self.bucket.delete_under("tile").await?;
                    tracing::info!(
                        removed,
                        tree_id = shard.info.tree_id,
                        "the bucket's root moves to the new shard"
                    );
                    self.publish_shard(view, shard, 0).await?
                }
            };
            published.insert(place, size);
            self.shared.progress().published = Some(published.clone());
        }
        self.shared.progress().published = Some(published);
        Ok(())
    }

    /// Writes the objects of `shard`'s published tree the bucket lacks
    /// beyond size `from`, then its checkpoint unless the bucket's is as new
    /// by then. Returns the size of the bucket's checkpoint.
    async fn publish_shard(
        &self,
        view: &LogView,
        shard: &ShardState,
        from: u64,
    ) -> Result<u64, PublishError> {
        let prefix = prefix_of(view, shard);
        let objects = objects_between(from, shard.checkpoint.size);
        // The tiles that were partial at `from` and are full now: the only
        // ones the bucket can hold partial copies of.
        let completed: Vec<String> = objects
            .iter()
            .filter(|r| {
                r.partial.is_none()
                    && r.index
                        == (from >> (u32::from(TILE_HEIGHT) * u32::from(r.level()))) / TILE_WIDTH
            })
            .map(|r| format!("{prefix}{}.p", r.path()))
            .collect();
        futures::stream::iter(objects)
            .map(|request| self.copy_tile(&prefix, shard, request))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await?;
        let size = match self.decide(view, shard).await? {
            Decision::Keep(size) => size,
            // An older shard's checkpoint at the root by now: another
            // publisher's, ours is newer.
            Decision::Write(_) | Decision::ReplaceOlderShard => {
                let note = shard.checkpoint.note.clone().into_bytes();
                self.count(note.len());
                self.bucket
                    .put(&format!("{prefix}checkpoint"), ObjectKind::Checkpoint, note)
                    .await?;
                shard.checkpoint.size
            }
        };
        // Partial copies of tiles that are full now go, as C2SP allows: a
        // reader of an older checkpoint that misses one reads the full tile,
        // which holds the same hashes first.
        for folder in completed {
            self.bucket.delete_under(&folder).await?;
        }
        Ok(size)
    }

    async fn copy_tile(
        &self,
        prefix: &str,
        shard: &ShardState,
        request: TileRequest,
    ) -> Result<(), PublishError> {
        let state = self.state.clone();
        let info = shard.info.clone();
        let width = request.partial.unwrap_or(TILE_WIDTH);
        let bytes =
            tokio::task::spawn_blocking(move || tile_bytes(state.log(), &info, &request, width))
                .await
                .map_err(|e| PublishError::Log(e.to_string()))?
                .map_err(|e| PublishError::Log(e.to_string()))?;
        self.count(bytes.len());
        self.bucket
            .put(
                &format!("{prefix}{}", request.path()),
                ObjectKind::Tile,
                bytes,
            )
            .await?;
        Ok(())
    }

    fn count(&self, bytes: usize) {
        self.metrics.objects.inc();
        self.metrics.bytes.inc_by(bytes as u64);
    }

    /// Reads the checkpoint the bucket holds where `shard`'s goes and
    /// decides whether ours may replace it.
    async fn decide(&self, view: &LogView, shard: &ShardState) -> Result<Decision, PublishError> {
        let prefix = prefix_of(view, shard);
        let path = format!("{prefix}checkpoint");
        let Some(bytes) = self.bucket.get(&path).await? else {
            return Ok(Decision::Write(None));
        };
        let found = BucketCheckpoint::parse(&bytes).map_err(|reason| BucketError::BadObject {
            url: self.bucket.url().to_owned(),
            path: path.clone(),
            reason,
        })?;
        if found.origin != shard.info.origin {
            // At the root, a shard rotated away from is replaced by the next.
            let older_shard = prefix.is_empty()
                && view
                    .shards
                    .iter()
                    .take_while(|s| s.info.tree_id != shard.info.tree_id)
                    .any(|s| s.info.origin == found.origin);
            if older_shard {
                return Ok(Decision::ReplaceOlderShard);
            }
            return Err(PublishError::Foreign {
                path,
                found: found.origin,
            });
        }
        if found.size > shard.checkpoint.size {
            // Published by a replica that is further along.
            return Ok(Decision::Keep(found.size));
        }
        let state = self.state.clone();
        let ordinal = shard.info.ordinal;
        let size = found.size;
        let ours = tokio::task::spawn_blocking(move || {
            merkle::root(&state.log().tile_source(ordinal), size).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| PublishError::Log(e.to_string()))?
        .map_err(PublishError::Log)?;
        if ours != found.root {
            return Err(PublishError::Fork { path, size });
        }
        if found.size == shard.checkpoint.size {
            Ok(Decision::Keep(found.size))
        } else {
            Ok(Decision::Write(Some(found.size)))
        }
    }
}
