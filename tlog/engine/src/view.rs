//! What readers see of a log: its shards with their published checkpoints,
//! and an entry with its inclusion proof. Only the sequencer replaces the
//! view, after a durable commit.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rand::Rng;

use crate::merkle;
use crate::store::{ShardInfo, ShardState, StoredCheckpoint, StoredEntry};

/// Every shard with its latest committed checkpoint, active last.
#[derive(Debug, Clone)]
pub struct LogView {
    pub shards: Vec<ShardState>,
}

impl LogView {
    pub fn active(&self) -> Option<&ShardState> {
        self.shards.last()
    }

    pub fn inactive(&self) -> &[ShardState] {
        self.shards.split_last().map_or(&[], |(_, rest)| rest)
    }

    /// The shard holding global index `index` within its published checkpoint.
    pub fn shard_of_index(&self, index: u64) -> Option<&ShardState> {
        self.shards
            .iter()
            .find(|s| index >= s.info.start && index - s.info.start < s.checkpoint.size)
    }

    pub fn shard_by_tree_id(&self, tree_id: u64) -> Option<&ShardState> {
        self.shards.iter().find(|s| s.info.tree_id == tree_id)
    }

    /// Entries in all shards.
    pub fn total_size(&self) -> u64 {
        self.active()
            .map_or(0, |s| s.info.start + s.checkpoint.size)
    }
}

/// The view the sequencer publishes and every reader loads.
pub type SharedView = Arc<ArcSwap<LogView>>;

/// An entry with its inclusion proof against a committed checkpoint of its shard.
#[derive(Debug, Clone)]
pub struct ProvenEntry {
    /// Global index (`logIndex`).
    pub index: u64,
    pub shard: ShardInfo,
    pub entry: StoredEntry,
    /// Audit path at `checkpoint.size`, leaf to root.
    pub proof: Vec<[u8; 32]>,
    pub checkpoint: Arc<StoredCheckpoint>,
}

impl ProvenEntry {
    pub fn index_in_shard(&self) -> u64 {
        self.index - self.shard.start
    }

    /// The 80-hex entry id: 16 hex digits of the tree id, then the leaf hash.
    pub fn entry_id(&self) -> String {
        entry_id(self.shard.tree_id, &merkle::leaf_hash(&self.entry.body))
    }
}

pub fn entry_id(tree_id: u64, leaf_hash: &[u8; 32]) -> String {
    format!("{tree_id:016x}{}", hex::encode(leaf_hash))
}

/// A random positive 63-bit tree id, as Trillian assigns them.
pub fn new_tree_id() -> u64 {
    rand::thread_rng().gen_range(1..=i64::MAX as u64)
}
