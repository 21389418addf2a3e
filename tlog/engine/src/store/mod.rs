//! Where the log keeps everything, behind one trait.
//!
//! The sequencer is the only writer; readers run concurrently. Every method
//! blocks (why: docs/design.md, "Blocking store methods"), so async callers
//! run them on `spawn_blocking`; an async backend (PostgreSQL + object
//! storage) bridges with a runtime `Handle::block_on` from those threads.
//! The one exception is the entry GET's read, which a store with an async
//! client also offers as a future (`read_entry_and_tiles_async`). No
//! backend type crosses this boundary.
//!
//! Entries are keyed by their global index (`logIndex`), which is contiguous
//! across shards; tiles are keyed by shard, level and index within the level.
//!
//! - `redb`: the embedded backend, one file under the data directory.
//! - `memory`: in memory, with fault injection, for tests of the engine.
//! - `postgres/`: PostgreSQL, the authority for replicas of one log.
//! - `contract_tests`: the contract as tests every backend runs.

#[cfg(test)]
pub mod contract_tests;
pub mod memory;
pub mod postgres;
pub mod redb;

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use tlog_tiles::HASH_SIZE;

/// One Merkle tree of the log. A new shard starts when the operator rotates;
/// older shards are frozen but stay readable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardInfo {
    /// Position of the shard, 0 for the first.
    pub ordinal: u32,
    /// Random positive tree id, as Trillian gives Rekor (decimal in the API,
    /// 16 hex digits in 80-hex entry ids).
    pub tree_id: u64,
    /// Global index of the shard's first entry.
    pub start: u64,
    /// Checkpoint origin line: `<hostname> - <tree id>`.
    pub origin: String,
}

/// A signed checkpoint of one shard's tree, as published.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: [u8; 32],
    /// The whole signed note, every signature line included.
    pub note: String,
}

/// Tiles read for a list of `(level, index)`: each one's data in the order
/// asked, `None` where the store has none.
pub type TilesRead = Vec<Option<Vec<u8>>>;

/// A tile an entry's proof reads: all of it, or only the hashes at
/// positions `hashes`. A proof that keeps a full level-0 tile's summary
/// needs just the 16 leaves around its own (`TileSummary`): 512 bytes to
/// read instead of 8 KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileRead {
    pub level: u8,
    pub index: u64,
    pub hashes: Option<Range<u32>>,
}

impl TileRead {
    /// The whole tile.
    pub fn whole((level, index): (u8, u64)) -> Self {
        Self {
            level,
            index,
            hashes: None,
        }
    }

    /// The bytes of the tile this read wants; `None` for all of them.
    pub fn bytes(&self) -> Option<Range<usize>> {
        let hashes = self.hashes.as_ref()?;
        Some(hashes.start as usize * HASH_SIZE..hashes.end as usize * HASH_SIZE)
    }

    /// The part of a stored tile's `data` this read wants; `None` if the
    /// tile is too short to hold it.
    pub fn part_of(&self, data: Vec<u8>) -> Option<Vec<u8>> {
        match self.bytes() {
            None => Some(data),
            Some(bytes) => data.get(bytes).map(<[u8]>::to_vec),
        }
    }
}

/// What `LogStore::read_entry_and_tiles_async` resolves to.
pub type ReadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(Option<StoredEntry>, TilesRead), StoreError>> + Send + 'a>>;

/// An entry as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// The RFC 8785 canonical body; the leaf is SHA-256(0x00 || body).
    pub body: Vec<u8>,
    /// Unix seconds at integration.
    pub integrated_time: i64,
    /// The personality's per-entry signature, made once at integration by
    /// its `EntrySigner` (Rekor's SignedEntryTimestamp); empty without one.
    pub receipt: Vec<u8>,
    /// Data kept with the entry but outside its leaf (a CT entry's chain).
    pub extra: Vec<u8>,
}

/// An entry being integrated by a batch.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub entry: StoredEntry,
    pub leaf_hash: [u8; 32],
    /// Search-index keys the personality files the entry under.
    pub index_keys: Vec<String>,
}

/// One tile's data: `level`, `index` within the level and its hashes
/// (256 for a full tile, fewer at the right edge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileData {
    pub level: u8,
    pub index: u64,
    pub data: Vec<u8>,
}

/// Everything one sequencer batch writes, committed atomically and durably.
#[derive(Debug, Clone)]
pub struct Batch {
    pub shard: u32,
    /// Global index of `entries[0]`.
    pub first_index: u64,
    pub entries: Vec<NewEntry>,
    /// Tiles changed by the batch: completed ones and the new right edge.
    pub tiles: Vec<TileData>,
    /// The shard's checkpoint this batch extends: the store commits only if
    /// it still holds exactly this one (compare-and-swap).
    pub previous: StoredCheckpoint,
    /// The checkpoint covering the batch.
    pub checkpoint: StoredCheckpoint,
}

/// A shard with its latest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardState {
    pub info: ShardInfo,
    pub checkpoint: StoredCheckpoint,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the log store at {0} is in use by another process")]
    Locked(String),
    #[error("storage backend: {0}")]
    Backend(String),
    /// The store cannot write for now (an I/O error such as a full disk);
    /// `LogStore::recover` brings it back once the cause is gone.
    #[error("the store cannot write now: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "refusing to move the checkpoint of shard {shard} from size {stored} back to {proposed}"
    )]
    CheckpointRegression {
        shard: u32,
        stored: u64,
        proposed: u64,
    },
    /// The stored checkpoint is not the one the batch extends (another
    /// writer, or a commit reported failed that landed): nothing is written.
    #[error(
        "refusing a batch of shard {shard} that extends size {expected}: the stored checkpoint is another one, of size {stored}"
    )]
    CheckpointConflict {
        shard: u32,
        expected: u64,
        stored: u64,
    },
    /// Replicas: this process does not hold the integrator lease's current
    /// epoch (another replica took over): nothing is written.
    #[error(
        "refusing to write: the integrator lease is at epoch {current}, this process holds {held}"
    )]
    Fenced { held: u64, current: u64 },
    /// `atesto tlog migrate` is copying a log into this store, or stopped
    /// before it verified the copy: nothing may serve it yet.
    #[error(
        "the database schema {schema} holds an unfinished migration from {source_dir}: run `atesto tlog migrate` again (it starts the copy over) or drop the schema"
    )]
    Migrating { schema: String, source_dir: String },
    /// A migration's target already holds a log.
    #[error("refusing to migrate into the database schema {0}: it already holds a log")]
    NotEmpty(String),
}

/// A process bidding for the integrator lease of a log shared by replicas.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Unique to the process (a restart is another candidate).
    pub id: String,
    /// Where the other replicas forward writes while it integrates.
    pub url: String,
    pub ttl: std::time::Duration,
}

/// The integrator lease as a claim found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub epoch: u64,
    pub holder: String,
    pub url: String,
    /// Whether the claiming process holds it (took or renewed it).
    pub mine: bool,
}

/// How replicas of one shared store agree on one integrator: a lease with
/// a fencing epoch. Once a store has claimed it, it commits only under the
/// epoch it holds (`StoreError::Fenced` otherwise).
pub trait Coordinator: Send + Sync {
    /// Renews the lease if this candidate holds it, takes it if it has
    /// expired; answers who holds it either way.
    fn claim(&self, candidate: &Candidate) -> Result<Lease, StoreError>;
}

impl Batch {
    /// The compare-and-swap every backend makes inside its transaction:
    /// the batch commits only on top of the checkpoint it extends, and never
    /// moves the tree back.
    pub fn check_extends(&self, stored: &StoredCheckpoint) -> Result<(), StoreError> {
        if self.checkpoint.size < stored.size {
            return Err(StoreError::CheckpointRegression {
                shard: self.shard,
                stored: stored.size,
                proposed: self.checkpoint.size,
            });
        }
        if *stored != self.previous {
            return Err(StoreError::CheckpointConflict {
                shard: self.shard,
                expected: self.previous.size,
                stored: stored.size,
            });
        }
        Ok(())
    }
}

/// The storage contract of a log.
pub trait LogStore: Send + Sync + 'static {
    /// Every shard, oldest first, with its latest checkpoint. Empty for a new store.
    fn shards(&self) -> Result<Vec<ShardState>, StoreError>;

    /// Starts a new shard (it becomes the active one) with the checkpoint of its empty tree.
    fn create_shard(&self, shard: &ShardState) -> Result<(), StoreError>;

    /// Commits a batch atomically and durably (fsync'd) before returning,
    /// only if the shard's stored checkpoint is still `batch.previous`
    /// (compare-and-swap): the published tree never shrinks or forks, even
    /// with two writers (`Batch::check_extends`). A refusal writes nothing.
    fn commit_batch(&self, batch: &Batch) -> Result<(), StoreError>;

    /// Reads a tile of a shard: its full data if complete, else the widest partial stored.
    fn read_tile(&self, shard: u32, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// Reads several tiles of a shard (`read_tile` each, in order). A store
    /// across a network answers a proof's tiles in one round trip.
    fn read_tiles(&self, shard: u32, wanted: &[(u8, u64)]) -> Result<TilesRead, StoreError> {
        wanted
            .iter()
            .map(|&(level, index)| self.read_tile(shard, level, index))
            .collect()
    }

    /// Reads entries by global index; stops at the first missing one.
    fn read_entries(&self, range: Range<u64>) -> Result<Vec<StoredEntry>, StoreError>;

    /// Reads the entry at global `index` and tiles of `shard`, each whole or
    /// the part `wanted` (as `read_tiles`, `None` where a tile is missing or
    /// too short): an entry with its inclusion proof. A store across a
    /// network answers both in one round trip.
    fn read_entry_and_tiles(
        &self,
        index: u64,
        shard: u32,
        wanted: &[TileRead],
    ) -> Result<(Option<StoredEntry>, TilesRead), StoreError> {
        let entry = self.read_entries(index..index + 1)?.into_iter().next();
        let keys: Vec<_> = wanted.iter().map(|w| (w.level, w.index)).collect();
        let tiles = self.read_tiles(shard, &keys)?;
        let parts = tiles
            .into_iter()
            .zip(wanted)
            .map(|(data, want)| data.and_then(|data| want.part_of(data)))
            .collect();
        Ok((entry, parts))
    }

    /// `read_entry_and_tiles` on the caller's async task, from a store whose
    /// client waits without blocking a thread; `None` (the default) from
    /// one that blocks, which the caller then runs on `spawn_blocking`.
    fn read_entry_and_tiles_async<'a>(
        &'a self,
        _index: u64,
        _shard: u32,
        _wanted: &'a [TileRead],
    ) -> Option<ReadFuture<'a>> {
        None
    }

    /// Global index of each entry whose leaf hash is given, in one lookup
    /// (one read transaction, one round trip): the sequencer asks for a
    /// whole batch at once.
    fn find_leaves(&self, leaf_hashes: &[[u8; 32]]) -> Result<Vec<Option<u64>>, StoreError>;

    /// Global index of the entry whose leaf hash this is.
    fn find_leaf(&self, leaf_hash: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        Ok(self
            .find_leaves(std::slice::from_ref(leaf_hash))?
            .into_iter()
            .next()
            .flatten())
    }

    /// Global indexes of the entries filed under a search-index key, ascending.
    fn search(&self, key: &str) -> Result<Vec<u64>, StoreError>;

    /// The first global index filed under each key, in one lookup.
    fn first_filed(&self, keys: &[&str]) -> Result<Vec<Option<u64>>, StoreError>;

    /// Files entries already stored under more search keys (a re-index,
    /// after a personality added a key kind) and moves the re-index's
    /// progress marker: every filing of `marker.0` is replaced by
    /// `marker.0 -> marker.1`, in the same durable transaction, so an
    /// interrupted re-index resumes where its last step landed. Filing a
    /// key twice is harmless; entries, tiles and checkpoints are untouched.
    fn file_keys(&self, filed: &[(String, u64)], marker: (&str, u64)) -> Result<(), StoreError>;

    /// After an `Unavailable` failure: makes the store writable again
    /// (reopening it if need be) and proves it with a durable commit, or
    /// says why it still cannot write. Committed data is never changed.
    fn recover(&self) -> Result<(), StoreError>;

    /// The value of setting `name` every process serving this store shares:
    /// `proposed` unless another process stored one first. An embedded
    /// store has one process: `proposed`.
    fn shared_setting(&self, _name: &str, proposed: &str) -> Result<String, StoreError> {
        Ok(proposed.to_owned())
    }

    /// The lease replicas of this store share, if several processes may
    /// serve it (an embedded store has one process: none).
    fn coordinator(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn Coordinator>> {
        None
    }
}
