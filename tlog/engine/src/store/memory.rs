//! A store in memory, with fault injection: the engine's tests run the
//! sequencer against it to break a commit at a chosen point, and a new
//! backend's behaviour can be compared with it. Nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Mutex, MutexGuard};

use super::{Batch, LogStore, ShardState, StoreError, StoredEntry};

/// Where an injected commit failure strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Nothing is written (a full disk before the transaction).
    BeforeWrite,
    /// Everything is written, then the commit reports a failure (an fsync
    /// error after the data reached the disk, a lost reply from a database).
    AfterWrite,
}

#[derive(Default)]
struct Contents {
    shards: Vec<ShardState>,
    entries: BTreeMap<u64, StoredEntry>,
    tiles: HashMap<(u32, u8, u64), Vec<u8>>,
    leaves: HashMap<[u8; 32], u64>,
    search: HashMap<String, Vec<u64>>,
    /// Batch commits attempted so far, failed ones included.
    commits: u64,
    /// (commit number, 1-based, and how it fails).
    fail: Option<(u64, Failure)>,
    /// Commits fail with `Unavailable` until `recover` is called.
    broken: bool,
}

#[derive(Default)]
pub struct MemoryStore {
    contents: Mutex<Contents>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `n`th batch commit from now (1 = the next) fail with
    /// `Unavailable`, and every later one until `recover`.
    pub fn fail_commit(&self, n: u64, failure: Failure) -> Result<(), StoreError> {
        let mut contents = self.lock()?;
        let at = contents.commits + n;
        contents.fail = Some((at, failure));
        Ok(())
    }

    /// Batch commits attempted so far.
    pub fn commits(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.commits)
    }

    /// Writes a checkpoint as another writer would: the next batch of the
    /// sequencer, built on the old one, must be refused.
    pub fn overwrite_checkpoint(&self, shard: &ShardState) -> Result<(), StoreError> {
        let mut contents = self.lock()?;
        let stored = contents
            .shards
            .iter_mut()
            .find(|s| s.info == shard.info)
            .ok_or_else(|| StoreError::Corrupt("no such shard".into()))?;
        stored.checkpoint = shard.checkpoint.clone();
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Contents>, StoreError> {
        self.contents
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }
}

fn write(contents: &mut Contents, batch: &Batch) {
    if let Some(shard) = contents
        .shards
        .iter_mut()
        .find(|s| s.info.ordinal == batch.shard)
    {
        shard.checkpoint = batch.checkpoint.clone();
    }
    for (offset, new) in batch.entries.iter().enumerate() {
        let index = batch.first_index + offset as u64;
        contents.entries.insert(index, new.entry.clone());
        contents.leaves.insert(new.leaf_hash, index);
        for key in &new.index_keys {
            contents.search.entry(key.clone()).or_default().push(index);
        }
    }
    for tile in &batch.tiles {
        contents
            .tiles
            .insert((batch.shard, tile.level, tile.index), tile.data.clone());
    }
}

impl LogStore for MemoryStore {
    fn shards(&self) -> Result<Vec<ShardState>, StoreError> {
        Ok(self.lock()?.shards.clone())
    }

    fn create_shard(&self, shard: &ShardState) -> Result<(), StoreError> {
        let mut contents = self.lock()?;
        if contents
            .shards
            .iter()
            .any(|s| s.info.ordinal == shard.info.ordinal)
        {
            return Err(StoreError::Corrupt(format!(
                "shard {} exists already",
                shard.info.ordinal
            )));
        }
        contents.shards.push(shard.clone());
        Ok(())
    }

    fn commit_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut contents = self.lock()?;
        contents.commits += 1;
        if contents.broken {
            return Err(StoreError::Unavailable("injected: still broken".into()));
        }
        let failure = match contents.fail {
            Some((at, failure)) if at == contents.commits => Some(failure),
            _ => None,
        };
        if failure == Some(Failure::BeforeWrite) {
            contents.broken = true;
            return Err(StoreError::Unavailable("injected before writing".into()));
        }
        let stored = contents
            .shards
            .iter()
            .find(|s| s.info.ordinal == batch.shard)
            .ok_or_else(|| StoreError::Corrupt(format!("batch for unknown shard {}", batch.shard)))?
            .checkpoint
            .clone();
        batch.check_extends(&stored)?;
        write(&mut contents, batch);
        if failure == Some(Failure::AfterWrite) {
            contents.broken = true;
            return Err(StoreError::Unavailable("injected after writing".into()));
        }
        Ok(())
    }

    fn read_tile(&self, shard: u32, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock()?.tiles.get(&(shard, level, index)).cloned())
    }

    fn read_entries(&self, range: Range<u64>) -> Result<Vec<StoredEntry>, StoreError> {
        let contents = self.lock()?;
        Ok(range
            .map_while(|index| contents.entries.get(&index).cloned())
            .collect())
    }

    fn find_leaves(&self, leaf_hashes: &[[u8; 32]]) -> Result<Vec<Option<u64>>, StoreError> {
        let contents = self.lock()?;
        Ok(leaf_hashes
            .iter()
            .map(|hash| contents.leaves.get(hash).copied())
            .collect())
    }

    fn search(&self, key: &str) -> Result<Vec<u64>, StoreError> {
        Ok(self.lock()?.search.get(key).cloned().unwrap_or_default())
    }

    fn first_filed(&self, keys: &[&str]) -> Result<Vec<Option<u64>>, StoreError> {
        let contents = self.lock()?;
        Ok(keys
            .iter()
            .map(|key| contents.search.get(*key).and_then(|v| v.first().copied()))
            .collect())
    }

    fn file_keys(&self, filed: &[(String, u64)], marker: (&str, u64)) -> Result<(), StoreError> {
        let mut contents = self.lock()?;
        for (key, index) in filed {
            let indexes = contents.search.entry(key.clone()).or_default();
            if let Err(at) = indexes.binary_search(index) {
                indexes.insert(at, *index);
            }
        }
        contents.search.insert(marker.0.to_string(), vec![marker.1]);
        Ok(())
    }

    fn recover(&self) -> Result<(), StoreError> {
        let mut contents = self.lock()?;
        contents.broken = false;
        contents.fail = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::store::contract_tests;

    #[test]
    fn keeps_the_storage_contract() {
        contract_tests::batches_round_trip_and_checkpoint_never_shrinks(&MemoryStore::new());
        contract_tests::a_batch_on_another_checkpoint_is_refused_and_writes_nothing(
            &MemoryStore::new(),
        );
        contract_tests::filed_keys_join_the_index_and_the_marker_moves(&MemoryStore::new());
        contract_tests::proof_reads_answer_tiles_whole_or_in_part(&MemoryStore::new());
    }
}
