//! Where the log keeps everything, behind one trait.
//!
//! The sequencer is the only writer; readers run concurrently. Every method
//! blocks, so async callers run them on `spawn_blocking`; an async backend
//! (the PostgreSQL + object storage one) bridges with `Handle::block_on`.
//! No backend type crosses this boundary.
//!
//! Entries are keyed by their global index (`logIndex`), which is contiguous
//! across shards; tiles are keyed by shard, level and index within the level.

pub mod redb;

use std::ops::Range;

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

/// An entry as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// The RFC 8785 canonical body; the leaf is SHA-256(0x00 || body).
    pub body: Vec<u8>,
    /// Unix seconds at integration.
    pub integrated_time: i64,
    /// The SignedEntryTimestamp, made once at integration; empty when the
    /// log does not sign them (the CT log).
    pub set: Vec<u8>,
    /// Data kept with the entry but outside its leaf (a CT entry's chain).
    pub extra: Vec<u8>,
}

/// An entry being integrated by a batch.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub entry: StoredEntry,
    pub leaf_hash: [u8; 32],
    /// Search-index keys (see `entry::index`).
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
}

/// The storage contract of a log.
pub trait LogStore: Send + Sync + 'static {
    /// Every shard, oldest first, with its latest checkpoint. Empty for a new store.
    fn shards(&self) -> Result<Vec<ShardState>, StoreError>;

    /// Starts a new shard (it becomes the active one) with the checkpoint of its empty tree.
    fn create_shard(&self, shard: &ShardState) -> Result<(), StoreError>;

    /// Commits a batch atomically and durably (fsync'd) before returning.
    /// Refuses a checkpoint smaller than the stored one: the published tree never shrinks.
    fn commit_batch(&self, batch: &Batch) -> Result<(), StoreError>;

    /// Reads a tile of a shard: its full data if complete, else the widest partial stored.
    fn read_tile(&self, shard: u32, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// Reads entries by global index; stops at the first missing one.
    fn read_entries(&self, range: Range<u64>) -> Result<Vec<StoredEntry>, StoreError>;

    /// Global index of the entry whose leaf hash this is.
    fn find_leaf(&self, leaf_hash: &[u8; 32]) -> Result<Option<u64>, StoreError>;

    /// Global indexes of the entries filed under a search-index key, ascending.
    fn search(&self, key: &str) -> Result<Vec<u64>, StoreError>;

    /// After an `Unavailable` failure: makes the store writable again
    /// (reopening it if need be) and proves it with a durable commit, or
    /// says why it still cannot write. Committed data is never changed.
    fn recover(&self) -> Result<(), StoreError>;
}
