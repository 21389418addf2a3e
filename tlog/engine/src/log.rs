//! A running log: the engine's API to its personalities. `Log::start` wires
//! a store the caller chose, the keys, an optional per-entry signer and the
//! sequencer; the methods below are everything a personality may do:
//! submit an entry and get it back with its index and proof once durable,
//! rotate shards, and read checkpoints, proofs, entries, tiles and the
//! search index. Writes go through the sequencer only.
//!
//! Readers see the `LogView` the sequencer last published, which only ever
//! names committed checkpoints: every proof served is against a checkpoint
//! that is durably stored, so a restart can never serve a smaller tree.

use std::ops::Range;
use std::sync::Arc;

use arc_swap::ArcSwap;
use atesto_common::keys::KeyError;
use tokio::sync::oneshot;

use crate::checkpoint::{LogKeys, SignError};
use crate::config::LogOptions;
use crate::merkle::{self, KnownTiles, MerkleError, RightEdge, TileSource};
use crate::metrics::Metrics;
use crate::replica::{Replica, Role};
use crate::sequencer::{self, SequencerConfig, SequencerHandle, SubmitError};
use crate::store::{
    LogStore, ShardInfo, ShardState, StoreError, StoredCheckpoint, StoredEntry, TilesRead,
};
use crate::submission::{EntrySigner, Submission};
use crate::tile_cache::{Reads, TileCache};
use crate::view::{LogView, ProvenEntry, SharedView, new_tree_id};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}")]
    Setup(String),
    #[error("a blocking task ended without its answer: {0}")]
    Blocking(String),
}

/// What a submission resolves to: the entry with its proof, once durable.
pub type Pending = oneshot::Receiver<Result<ProvenEntry, SubmitError>>;

/// Work that follows the log outside its write path, such as publication to
/// object storage: `/readyz` shows how it is doing but never fails on it,
/// because the log takes writes whatever a follower does.
pub trait Follower: Send + Sync {
    /// One line on its state against the log's `view`; `Err` while it fails
    /// or falls behind.
    fn status(&self, view: &LogView) -> Result<String, String>;
}

pub struct Log {
    store: Arc<dyn LogStore>,
    view: SharedView,
    keys: Arc<LogKeys>,
    sequencer: SequencerHandle,
    metrics: Arc<Metrics>,
    hostname: String,
    followers: std::sync::Mutex<Vec<Arc<dyn Follower>>>,
    /// With a store shared by replicas: who integrates.
    replica: Option<Arc<Replica>>,
    /// Full upper tiles, hashed, for `entry_at`'s proofs.
    tile_cache: TileCache,
}

impl Log {
    /// Starts a log over `store` (its first shard is created if the store is
    /// new). `entry_signer` is the personality's per-entry signature, if it
    /// makes one at integration.
    pub fn start(
        store: Arc<dyn LogStore>,
        keys: Arc<LogKeys>,
        entry_signer: Option<Arc<dyn EntrySigner>>,
        options: &LogOptions,
    ) -> Result<Self, LogError> {
        let hostname = options.hostname.clone();
        let mut shards = store.shards()?;
        if shards.is_empty() {
            let tree_id = options.tree_id.unwrap_or_else(new_tree_id);
            let info = ShardInfo {
                ordinal: 0,
                tree_id,
                start: 0,
                origin: options.origin.origin(&hostname, tree_id),
            };
            let checkpoint = keys.checkpoint(&info.origin, 0, RightEdge::empty().root())?;
            let first = ShardState { info, checkpoint };
            match store.create_shard(&first) {
                Ok(()) => shards.push(first),
                // Another replica starting at the same time made it first.
                Err(err) => {
                    shards = store.shards()?;
                    if shards.is_empty() {
                        return Err(err.into());
                    }
                }
            }
        }
        let metrics = Arc::new(
            Metrics::new().map_err(|e| LogError::Setup(format!("registering metrics: {e}")))?,
        );
        if let Some(active) = shards.last() {
            metrics.tree_size.set(active.checkpoint.size as i64);
        }
        let view: SharedView = Arc::new(ArcSwap::from_pointee(LogView { shards }));
        let sequencer = sequencer::start(
            SequencerConfig {
                max_size: options.batch.max_size,
                max_age: options.batch.max_age(),
                pool_size: options.batch.pool_size,
                rotate_at_size: options.shards.rotate_at_size,
                hostname: hostname.clone(),
                origin: options.origin,
            },
            store.clone(),
            keys.clone(),
            entry_signer,
            view.clone(),
            metrics.clone(),
        )?;
        let replica = match store.clone().coordinator() {
            Some(coordinator) => Some(Replica::start(
                &options.replica,
                coordinator,
                store.clone(),
                view.clone(),
                sequencer.clone(),
                metrics.clone(),
            )?),
            None => None,
        };
        Ok(Self {
            store,
            view,
            keys,
            sequencer,
            metrics,
            hostname,
            followers: std::sync::Mutex::default(),
            replica,
            tile_cache: TileCache::default(),
        })
    }

    /// Reports `follower` in `/readyz` from now on.
    pub fn add_follower(&self, follower: Arc<dyn Follower>) {
        self.followers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(follower);
    }

    /// Each follower's status against the current view.
    pub fn follower_status(&self) -> Vec<Result<String, String>> {
        let view = self.view();
        let followers = self
            .followers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        followers.iter().map(|f| f.status(&view)).collect()
    }

    /// Queues an entry for the next batch; fails at once with `PoolFull`
    /// rather than queueing without bound.
    pub fn submit(&self, entry: Submission) -> Result<Pending, SubmitError> {
        self.check_integrator()?;
        self.sequencer.submit(entry)
    }

    /// With replicas: this process's role (`None`: it is the only process).
    pub fn role(&self) -> Option<Arc<Role>> {
        self.replica.as_ref().map(|r| r.role())
    }

    fn check_integrator(&self) -> Result<(), SubmitError> {
        match self.role().as_deref() {
            Some(Role::Follower { integrator }) => {
                Err(SubmitError::NotIntegrator(integrator.clone()))
            }
            _ => Ok(()),
        }
    }

    /// Freezes the active shard at its checkpoint and starts a new tree,
    /// between two batches.
    pub async fn rotate(&self) -> Result<ShardState, SubmitError> {
        self.check_integrator()?;
        self.sequencer.rotate().await
    }

    /// False from a commit that failed for want of storage (a full disk)
    /// until the store commits again: the log is not ready for writes.
    pub fn is_writable(&self) -> bool {
        self.sequencer.is_writable()
    }

    /// Whether the store answers a read. Blocking.
    pub fn check_store(&self) -> Result<(), StoreError> {
        self.store.shards().map(drop)
    }

    /// The shards and their published checkpoints, as of now.
    pub fn view(&self) -> Arc<LogView> {
        self.view.load_full()
    }

    pub fn keys(&self) -> &Arc<LogKeys> {
        &self.keys
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The name in checkpoint origins.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The entry at global `index` with its proof against its shard's latest
    /// checkpoint. Blocking.
    pub fn entry_at(&self, index: u64) -> Result<Option<ProvenEntry>, LogError> {
        match self.plan_proof(index)? {
            Some(proof) => self.read_and_prove(proof),
            None => Ok(None),
        }
    }

    /// Reads what `proof` needs from the store, then proves. Blocking.
    fn read_and_prove(&self, proof: PlannedProof) -> Result<Option<ProvenEntry>, LogError> {
        let (entry, read) = self.store.read_entry_and_tiles(
            proof.index,
            proof.shard.ordinal,
            &proof.wanted.tiles,
        )?;
        self.prove(proof, entry, read)
    }

    /// `entry_at` for an async caller. From a store with an async client
    /// the read runs on the caller's task, and so does the proof when every
    /// tile read is kept hashed (`TileCache::keeps_hashed`: at most 22
    /// hashes); anything more runs on a blocking thread.
    pub async fn entry_at_async(
        self: &Arc<Self>,
        index: u64,
    ) -> Result<Option<ProvenEntry>, LogError> {
        let Some(proof) = self.plan_proof(index)? else {
            return Ok(None);
        };
        let Some(reading) =
            self.store
                .read_entry_and_tiles_async(index, proof.shard.ordinal, &proof.wanted.tiles)
        else {
            let log = self.clone();
            return run_blocking(move || log.read_and_prove(proof)).await;
        };
        let (entry, read) = reading.await?;
        let cheap = read.iter().all(Option::is_some)
            && self
                .tile_cache
                .keeps_hashed(proof.shard.ordinal, proof.size, &proof.wanted);
        if cheap {
            return self.prove(proof, entry, read);
        }
        let log = self.clone();
        run_blocking(move || log.prove(proof, entry, read)).await
    }

    /// What a proof of the entry at `index` needs: its shard, the tiles
    /// kept and those to read. `None` if no shard holds the index yet.
    fn plan_proof(&self, index: u64) -> Result<Option<PlannedProof>, LogError> {
        let view = self.view.load_full();
        let Some(shard) = view.shard_of_index(index) else {
            return Ok(None);
        };
        let (size, leaf) = (shard.checkpoint.size, index - shard.info.start);
        let plan = merkle::inclusion_tiles(size, leaf)?;
        let (known, wanted) = self
            .tile_cache
            .split(shard.info.ordinal, size, leaf, plan.tiles());
        Ok(Some(PlannedProof {
            index,
            shard: shard.info.clone(),
            checkpoint: Arc::new(shard.checkpoint.clone()),
            size,
            leaf,
            known,
            wanted,
        }))
    }

    /// The planned proof from the entry and tiles read. Hashes.
    fn prove(
        &self,
        mut proof: PlannedProof,
        entry: Option<StoredEntry>,
        read: TilesRead,
    ) -> Result<Option<ProvenEntry>, LogError> {
        let Some(entry) = entry else {
            return Ok(None);
        };
        let ordinal = proof.shard.ordinal;
        self.tile_cache
            .add_read(ordinal, proof.size, proof.wanted, read, &mut proof.known);
        let source = self.tile_source(ordinal);
        let hashes = merkle::inclusion_proof_from(&source, proof.known, proof.size, proof.leaf)?;
        Ok(Some(ProvenEntry {
            index: proof.index,
            shard: proof.shard,
            entry,
            proof: hashes,
            checkpoint: proof.checkpoint,
        }))
    }

    /// The entry with this leaf hash, if its shard has published it. When
    /// `tree_id` is given (80-hex ids), the entry must be in that tree. Blocking.
    pub fn entry_by_leaf(
        &self,
        leaf_hash: &[u8; 32],
        tree_id: Option<u64>,
    ) -> Result<Option<ProvenEntry>, LogError> {
        let Some(index) = self.store.find_leaf(leaf_hash)? else {
            return Ok(None);
        };
        let found = self.entry_at(index)?;
        Ok(found.filter(|e| tree_id.is_none_or(|t| t == e.shard.tree_id)))
    }

    /// Global index of the entry with this leaf hash, published or not yet. Blocking.
    pub fn find_leaf(&self, leaf_hash: &[u8; 32]) -> Result<Option<u64>, LogError> {
        Ok(self.store.find_leaf(leaf_hash)?)
    }

    /// Stored entries by global index, without proofs; stops at the first
    /// missing one. Blocking.
    pub fn read_entries(&self, range: Range<u64>) -> Result<Vec<StoredEntry>, LogError> {
        Ok(self.store.read_entries(range)?)
    }

    /// Global indexes filed under a search-index key, ascending. Blocking.
    pub fn search(&self, key: &str) -> Result<Vec<u64>, LogError> {
        Ok(self.store.search(key)?)
    }

    /// Files stored entries under more search-index keys and moves the
    /// re-index's progress marker (`LogStore::file_keys`). Blocking.
    pub fn file_keys(&self, filed: &[(String, u64)], marker: (&str, u64)) -> Result<(), LogError> {
        Ok(self.store.file_keys(filed, marker)?)
    }

    /// A stored tile of a shard: full, or the widest partial stored. Blocking.
    pub fn read_tile(
        &self,
        shard: u32,
        level: u8,
        index: u64,
    ) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self.store.read_tile(shard, level, index)?)
    }

    /// Reads the stored tiles of one shard. Blocking.
    pub fn tile_source(&self, ordinal: u32) -> ShardTiles<'_> {
        ShardTiles {
            store: self.store.as_ref(),
            ordinal,
        }
    }
}

/// An inclusion proof between its plan and the read it waits for.
struct PlannedProof {
    index: u64,
    shard: ShardInfo,
    /// The shard's checkpoint the proof is against.
    checkpoint: Arc<StoredCheckpoint>,
    size: u64,
    /// The entry's index in its shard.
    leaf: u64,
    /// Tiles the cache held.
    known: KnownTiles,
    /// Tiles to read from the store.
    wanted: Reads,
}

/// Runs `work` on a blocking thread.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, LogError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| LogError::Blocking(err.to_string()))?
}

/// The stored tiles of one shard, as proofs read them.
pub struct ShardTiles<'a> {
    store: &'a dyn LogStore,
    ordinal: u32,
}

impl TileSource for ShardTiles<'_> {
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.read_tile(self.ordinal, level, index)
    }

    fn read_tiles(&self, wanted: &[(u8, u64)]) -> Result<TilesRead, StoreError> {
        self.store.read_tiles(self.ordinal, wanted)
    }
}

#[cfg(test)]
mod tests;
