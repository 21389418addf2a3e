//! The embedded backend: one redb file under the data directory, with its
//! write-ahead journal beside it (`redb/journal.rs`).
//!
//! A batch is one redb write transaction. Before it commits, the batch is
//! appended to the journal and synced, so it is durable before
//! `commit_batch` returns and before any submitter, or any reader of redb,
//! sees it; redb commits it without an fsync. Every `FLUSH_BYTES` of journal,
//! a durable redb commit persists all batches so far and the journal starts
//! over. Opening replays what the journal holds beyond redb's last
//! durable commit. redb holds an exclusive lock on the file, and `open_dir`
//! one on the directory: a second process opening the same store fails with
//! `StoreError::Locked`.

mod journal;

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use redb::{
    Database, Durability, MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable,
    ReadableTable, TableDefinition,
};

use super::{Batch, LogStore, ShardState, StoreError, StoredCheckpoint, StoredEntry, TileData};
use journal::{FLUSH_BYTES, Journal};

/// The store file's name inside a data directory.
pub const STORE_FILE: &str = "log.redb";

/// Shard ordinal -> JSON `ShardInfo`.
const SHARDS: TableDefinition<u32, &[u8]> = TableDefinition::new("shards");
/// Shard ordinal -> JSON `StoredCheckpoint`, the latest one.
const CHECKPOINTS: TableDefinition<u32, &[u8]> = TableDefinition::new("checkpoints");
/// Global index -> encoded `StoredEntry`.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// (shard, level, index) -> tile hashes; a partial tile is replaced as it grows.
const TILES: TableDefinition<(u32, u8, u64), &[u8]> = TableDefinition::new("tiles");
/// Leaf hash -> global index, for duplicates and lookups by entry id.
const LEAVES: TableDefinition<[u8; 32], u64> = TableDefinition::new("leaves");
/// Search-index key -> global indexes.
const SEARCH: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("search");

/// Default page cache: enough for the hot tiles and index pages while keeping
/// the process small (redb's own default is 1 GiB).
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

pub struct RedbStore {
    path: PathBuf,
    cache_bytes: usize,
    /// The open database. An I/O error (a full disk) poisons a redb handle
    /// for good, so `recover` replaces it; `None` while no reopen succeeded.
    db: RwLock<Option<Arc<Database>>>,
    /// The journal; `commit_batch` (the sequencer) appends, `recover` replays.
    journal: Mutex<JournalState>,
    /// With `open_dir`: the directory's lock, held while the store is open,
    /// so that whatever else lives there (a generated key) has one writer.
    _dir_lock: Option<File>,
}

struct JournalState {
    journal: Journal,
    /// A batch is synced in the journal but its redb commit failed: nothing
    /// more may be committed until `recover` has replayed it, or the next
    /// batch would be journaled on a tree the replay then changes.
    behind: bool,
}

/// Maps a redb failure: I/O errors (disk full, a poisoned handle) mean the
/// store cannot write for now, anything else is a backend fault.
fn backend(err: impl Into<redb::Error>) -> StoreError {
    match err.into() {
        redb::Error::Io(err) => StoreError::Unavailable(err.to_string()),
        redb::Error::PreviousIo => {
            StoreError::Unavailable("an earlier I/O error needs the store reopened".into())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

impl RedbStore {
    /// Opens (or creates) the store file. Fails with `Locked` if another process has it open.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let db = open_database(path, cache_bytes)?;
        let (mut journal, journaled) = Journal::open(&path.with_extension("journal"))?;
        replay_and_persist(&db, &mut journal, &journaled)?;
        Ok(Self {
            path: path.to_path_buf(),
            cache_bytes,
            db: RwLock::new(Some(Arc::new(db))),
            journal: Mutex::new(JournalState {
                journal,
                behind: false,
            }),
            _dir_lock: None,
        })
    }

    fn journal(&self) -> Result<std::sync::MutexGuard<'_, JournalState>, StoreError> {
        self.journal
            .lock()
            .map_err(|_| StoreError::Backend("store journal lock poisoned".into()))
    }

    /// Creates `dir` if need be, locks it (its `LOCK` file) for this process
    /// and opens `dir/log.redb`. Fails with `Locked` if another process holds it.
    pub fn open_dir(dir: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let lock = lock_dir(dir)?;
        let mut store = Self::open(&dir.join(STORE_FILE), cache_bytes)?;
        store._dir_lock = Some(lock);
        Ok(store)
    }

    /// The current handle, or `Unavailable` while it is being replaced.
    fn db(&self) -> Result<Arc<Database>, StoreError> {
        self.db
            .read()
            .map_err(|_| StoreError::Backend("store handle lock poisoned".into()))?
            .clone()
            .ok_or_else(|| StoreError::Unavailable("the store is being reopened".into()))
    }

    /// A write transaction that is fsync'd on commit and records the allocator
    /// state, so reopening after a crash takes milliseconds rather than a walk
    /// of the whole file.
    fn begin_durable_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        begin_durable_write(&*self.db()?)
    }
}

/// Creates `dir` if need be and locks it (its `LOCK` file) for this
/// process, as long as the file is open. Fails with `Locked` if another
/// process holds it.
pub fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let failed = |what: &str, path: &Path, err: std::io::Error| {
        StoreError::Backend(format!("{what} {}: {err}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| failed("creating", dir, e))?;
    let lock_path = dir.join("LOCK");
    let lock = File::create(&lock_path).map_err(|e| failed("creating", &lock_path, e))?;
    lock.try_lock()
        .map_err(|_| StoreError::Locked(dir.display().to_string()))?;
    Ok(lock)
}

fn begin_durable_write(db: &Database) -> Result<redb::WriteTransaction, StoreError> {
    let mut txn = db.begin_write().map_err(backend)?;
    txn.set_durability(Durability::Immediate).map_err(backend)?;
    txn.set_quick_repair(true);
    Ok(txn)
}

fn open_database(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    let db = Database::builder()
        .set_cache_size(cache_bytes)
        .create(path)
        .map_err(|err| match err {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::Locked(path.display().to_string())
            }
            other => backend(other),
        })?;
    // Even this first commit records the allocator state: a process that
    // stops before its first batch must not leave a full repair behind.
    commit_tables(&db)?;
    Ok(db)
}

/// Creates any missing table in one durable commit: on an existing store it
/// writes nothing but the commit itself, so it doubles as a write probe.
fn commit_tables(db: &Database) -> Result<(), StoreError> {
    let txn = begin_durable_write(db)?;
    {
        txn.open_table(SHARDS).map_err(backend)?;
        txn.open_table(CHECKPOINTS).map_err(backend)?;
        txn.open_table(ENTRIES).map_err(backend)?;
        txn.open_table(TILES).map_err(backend)?;
        txn.open_table(LEAVES).map_err(backend)?;
        txn.open_multimap_table(SEARCH).map_err(backend)?;
    }
    txn.commit().map_err(backend)
}

/// Applies journaled batches that redb's last durable commit lacks, each
/// only on top of the checkpoint it extends, then makes them durable in
/// redb and starts the journal over.
fn replay_and_persist(
    db: &Database,
    journal: &mut Journal,
    journaled: &[Batch],
) -> Result<(), StoreError> {
    for batch in journaled {
        let mut txn = db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::None).map_err(backend)?;
        let stored = stored_checkpoint(&txn, batch.shard)?;
        if stored == batch.previous {
            write_batch(&txn, batch)?;
            txn.commit().map_err(backend)?;
        } else if batch.checkpoint.size > stored.size {
            // Journal records are appended only on top of redb's tree, so a
            // record past it that does not extend it means damage.
            return Err(StoreError::Corrupt(format!(
                "the journal holds a batch of shard {} from size {} to {}, but the store's tree has size {}",
                batch.shard, batch.previous.size, batch.checkpoint.size, stored.size
            )));
        }
        // Otherwise redb holds it already (its durable commit landed, the
        // journal's new generation did not).
    }
    persist(db, journal)
}

/// A durable redb commit, which persists every batch committed before it,
/// then a new journal generation, which holds none of them.
fn persist(db: &Database, journal: &mut Journal) -> Result<(), StoreError> {
    commit_tables(db)?;
    journal.start_over()
}

/// Free space `recover` wants before it reopens the store: more than a
/// large batch writes.
const ROOM_BYTES: usize = 1 << 20;

/// Writes, syncs and removes a file of `ROOM_BYTES` beside the store.
fn check_room(store: &Path) -> Result<(), StoreError> {
    let probe = store.with_extension("room-probe");
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        file.write_all(&vec![0; ROOM_BYTES])?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.map_err(|err| StoreError::Unavailable(format!("no room to write: {err}")))
}

/// Set in the receipt length field when extra data follows the receipt. A
/// receipt is below `MAX_RECEIPT_BYTES` (a Rekor SET is an ECDSA signature,
/// < 140 bytes), so the bit is free, and Rekor records keep the encoding
/// they always had.
const HAS_EXTRA: u16 = 0x8000;

/// Entry encoding: integrated time (i64 BE), receipt length (u16 BE,
/// `HAS_EXTRA` flag), receipt, then when flagged extra length (u32 BE) and
/// extra, then body.
fn encode_entry(entry: &StoredEntry) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(14 + entry.receipt.len() + entry.extra.len() + entry.body.len());
    out.extend_from_slice(&entry.integrated_time.to_be_bytes());
    let flag = if entry.extra.is_empty() { 0 } else { HAS_EXTRA };
    out.extend_from_slice(&(entry.receipt.len() as u16 | flag).to_be_bytes());
    out.extend_from_slice(&entry.receipt);
    if !entry.extra.is_empty() {
        // Extra data is a CT chain, bounded by the request body limit (< 4 GiB).
        out.extend_from_slice(&(entry.extra.len() as u32).to_be_bytes());
        out.extend_from_slice(&entry.extra);
    }
    out.extend_from_slice(&entry.body);
    out
}

fn decode_entry(bytes: &[u8]) -> Result<StoredEntry, StoreError> {
    let corrupt = || StoreError::Corrupt("short entry record".into());
    let field = |range: std::ops::Range<usize>| bytes.get(range).ok_or_else(corrupt);
    let time: [u8; 8] = field(0..8)?.try_into().map_err(|_| corrupt())?;
    let receipt_len: [u8; 2] = field(8..10)?.try_into().map_err(|_| corrupt())?;
    let receipt_len = u16::from_be_bytes(receipt_len);
    let receipt_end = 10 + (receipt_len & !HAS_EXTRA) as usize;
    let receipt = field(10..receipt_end)?.to_vec();
    let (extra, body_start) = if receipt_len & HAS_EXTRA == 0 {
        (Vec::new(), receipt_end)
    } else {
        let extra_len: [u8; 4] = field(receipt_end..receipt_end + 4)?
            .try_into()
            .map_err(|_| corrupt())?;
        let extra_end = receipt_end + 4 + u32::from_be_bytes(extra_len) as usize;
        (field(receipt_end + 4..extra_end)?.to_vec(), extra_end)
    };
    Ok(StoredEntry {
        integrated_time: i64::from_be_bytes(time),
        receipt,
        extra,
        body: bytes.get(body_start..).ok_or_else(corrupt)?.to_vec(),
    })
}

fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))
}

/// The shard's stored checkpoint, read inside a write transaction.
fn stored_checkpoint(
    txn: &redb::WriteTransaction,
    shard: u32,
) -> Result<StoredCheckpoint, StoreError> {
    let checkpoints = txn.open_table(CHECKPOINTS).map_err(backend)?;
    let stored = checkpoints.get(shard).map_err(backend)?;
    match stored {
        Some(bytes) => decode_json(bytes.value()),
        None => Err(StoreError::Corrupt(format!(
            "batch for unknown shard {shard}"
        ))),
    }
}

/// Writes a batch into `txn`, only on top of the checkpoint it extends.
fn write_batch(txn: &redb::WriteTransaction, batch: &Batch) -> Result<(), StoreError> {
    // Compare-and-swap: a batch commits only on top of the checkpoint it
    // extends, so the published tree neither shrinks nor forks, whoever
    // else writes. redb has one writer transaction at a time, so the check
    // and the write are atomic.
    batch.check_extends(&stored_checkpoint(txn, batch.shard)?)?;
    let mut checkpoints = txn.open_table(CHECKPOINTS).map_err(backend)?;
    checkpoints
        .insert(batch.shard, encode_json(&batch.checkpoint)?.as_slice())
        .map_err(backend)?;

    let mut entries = txn.open_table(ENTRIES).map_err(backend)?;
    let mut leaves = txn.open_table(LEAVES).map_err(backend)?;
    let mut search = txn.open_multimap_table(SEARCH).map_err(backend)?;
    for (offset, new) in batch.entries.iter().enumerate() {
        let index = batch.first_index + offset as u64;
        entries
            .insert(index, encode_entry(&new.entry).as_slice())
            .map_err(backend)?;
        leaves.insert(new.leaf_hash, index).map_err(backend)?;
        for key in &new.index_keys {
            search.insert(key.as_str(), index).map_err(backend)?;
        }
    }

    let mut tiles = txn.open_table(TILES).map_err(backend)?;
    for tile in &batch.tiles {
        tiles
            .insert((batch.shard, tile.level, tile.index), tile.data.as_slice())
            .map_err(backend)?;
    }
    Ok(())
}

impl LogStore for RedbStore {
    fn recover(&self) -> Result<(), StoreError> {
        // Reopening on a still-full disk could fail half-way and leave no
        // handle to serve reads with: first make sure there is room.
        check_room(&self.path)?;
        let mut slot = self
            .db
            .write()
            .map_err(|_| StoreError::Backend("store handle lock poisoned".into()))?;
        let mut state = self.journal()?;
        // What the journal holds is durable, committed to redb or not:
        // redb catches up before it takes another batch.
        let catch_up = |db: &Database, state: &mut JournalState| {
            let journaled = state.journal.read()?;
            replay_and_persist(db, &mut state.journal, &journaled)?;
            state.behind = false;
            Ok::<(), StoreError>(())
        };
        if let Some(db) = slot.as_ref()
            && commit_tables(db).is_ok()
        {
            return catch_up(db, &mut state);
        }
        // Dropping the handle closes the file once the last reader is done;
        // until then the reopen fails and the next `recover` tries again.
        *slot = None;
        let db = open_database(&self.path, self.cache_bytes).map_err(|err| match err {
            StoreError::Locked(_) => {
                StoreError::Unavailable("the old store handle is still in use".into())
            }
            other => other,
        })?;
        let caught_up = catch_up(&db, &mut state);
        *slot = Some(Arc::new(db));
        tracing::info!(path = %self.path.display(), "reopened the store after an I/O error");
        caught_up
    }

    fn shards(&self) -> Result<Vec<ShardState>, StoreError> {
        let txn = self.db()?.begin_read().map_err(backend)?;
        let shards = txn.open_table(SHARDS).map_err(backend)?;
        let checkpoints = txn.open_table(CHECKPOINTS).map_err(backend)?;
        let mut out = Vec::new();
        for row in shards.range::<u32>(..).map_err(backend)? {
            let (ordinal, info) = row.map_err(backend)?;
            let checkpoint = checkpoints
                .get(ordinal.value())
                .map_err(backend)?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("shard {} has no checkpoint", ordinal.value()))
                })?;
            out.push(ShardState {
                info: decode_json(info.value())?,
                checkpoint: decode_json(checkpoint.value())?,
            });
        }
        Ok(out)
    }

    fn create_shard(&self, shard: &ShardState) -> Result<(), StoreError> {
        let txn = self.begin_durable_write()?;
        {
            let mut shards = txn.open_table(SHARDS).map_err(backend)?;
            if shards.get(shard.info.ordinal).map_err(backend)?.is_some() {
                return Err(StoreError::Corrupt(format!(
                    "shard {} exists already",
                    shard.info.ordinal
                )));
            }
            shards
                .insert(shard.info.ordinal, encode_json(&shard.info)?.as_slice())
                .map_err(backend)?;
            let mut checkpoints = txn.open_table(CHECKPOINTS).map_err(backend)?;
            checkpoints
                .insert(
                    shard.info.ordinal,
                    encode_json(&shard.checkpoint)?.as_slice(),
                )
                .map_err(backend)?;
        }
        txn.commit().map_err(backend)
    }

    fn commit_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        let db = self.db()?;
        let mut state = self.journal()?;
        if state.behind {
            return Err(StoreError::Unavailable(
                "a journaled batch waits to be replayed into the store".into(),
            ));
        }
        let mut txn = db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::None).map_err(backend)?;
        write_batch(&txn, batch)?;
        // From here the batch is durable, whatever redb says next.
        state.journal.append(batch)?;
        if let Err(err) = txn.commit() {
            state.behind = true;
            return Err(StoreError::Unavailable(format!(
                "committing a journaled batch: {err}"
            )));
        }
        if state.journal.len() >= FLUSH_BYTES
            && let Err(err) = persist(&db, &mut state.journal)
        {
            // The batch is durable in the journal; the next commit finds
            // out whether the store can still write.
            tracing::warn!(%err, "persisting the journal into the store failed");
        }
        Ok(())
    }

    fn read_tile(&self, shard: u32, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db()?.begin_read().map_err(backend)?;
        let tiles = txn.open_table(TILES).map_err(backend)?;
        Ok(tiles
            .get((shard, level, index))
            .map_err(backend)?
            .map(|data| data.value().to_vec()))
    }

    fn read_entries(&self, range: Range<u64>) -> Result<Vec<StoredEntry>, StoreError> {
        let txn = self.db()?.begin_read().map_err(backend)?;
        let entries = txn.open_table(ENTRIES).map_err(backend)?;
        let mut out = Vec::new();
        for (expected, row) in (range.start..).zip(entries.range(range).map_err(backend)?) {
            let (index, bytes) = row.map_err(backend)?;
            if index.value() != expected {
                break;
            }
            out.push(decode_entry(bytes.value())?);
        }
        Ok(out)
    }

    fn find_leaves(&self, leaf_hashes: &[[u8; 32]]) -> Result<Vec<Option<u64>>, StoreError> {
        let txn = self.db()?.begin_read().map_err(backend)?;
        let leaves = txn.open_table(LEAVES).map_err(backend)?;
        leaf_hashes
            .iter()
            .map(|hash| Ok(leaves.get(hash).map_err(backend)?.map(|v| v.value())))
            .collect()
    }

    fn first_filed(&self, keys: &[&str]) -> Result<Vec<Option<u64>>, StoreError> {
        let txn = self.db()?.begin_read().map_err(backend)?;
        let search = txn.open_multimap_table(SEARCH).map_err(backend)?;
        keys.iter()
            .map(|key| match search.get(*key).map_err(backend)?.next() {
                Some(value) => Ok(Some(value.map_err(backend)?.value())),
                None => Ok(None),
            })
            .collect()
    }

    fn file_keys(&self, filed: &[(String, u64)], marker: (&str, u64)) -> Result<(), StoreError> {
        let txn = self.begin_durable_write()?;
        {
            let mut search = txn.open_multimap_table(SEARCH).map_err(backend)?;
            for (key, index) in filed {
                search.insert(key.as_str(), *index).map_err(backend)?;
            }
            search.remove_all(marker.0).map_err(backend)?;
            search.insert(marker.0, marker.1).map_err(backend)?;
        }
        txn.commit().map_err(backend)
    }

    fn search(&self, key: &str) -> Result<Vec<u64>, StoreError> {
        let txn = self.db()?.begin_read().map_err(backend)?;
        let search = txn.open_multimap_table(SEARCH).map_err(backend)?;
        let mut out = Vec::new();
        for value in search.get(key).map_err(backend)? {
            out.push(value.map_err(backend)?.value());
        }
        Ok(out)
    }
}

/// Dropping the store (a fill or a migration closing it, a test) leaves
/// nothing to replay in the journal, and redb closed cleanly: the next open replays nothing.
impl Drop for RedbStore {
    fn drop(&mut self) {
        let (Ok(Some(db)), Ok(state)) = (self.db.get_mut(), self.journal.get_mut()) else {
            return;
        };
        if state.journal.len() > 0
            && !state.behind
            && let Err(err) = persist(db, &mut state.journal)
        {
            tracing::warn!(%err, "persisting the journal at close failed; the next open replays it");
        }
    }
}

/// Reading a whole store out, for a migration to another backend: each
/// walk is one read transaction (a snapshot), in key order, handing rows to
/// `sink` one by one so the caller batches them with bounded memory.
impl RedbStore {
    /// Every search-index row (key, global index).
    pub fn for_each_search_row(
        &self,
        mut sink: impl FnMut(&str, u64) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let txn = self.db()?.begin_read().map_err(backend)?;
        let search = txn.open_multimap_table(SEARCH).map_err(backend)?;
        for row in search.iter().map_err(backend)? {
            let (key, indexes) = row.map_err(backend)?;
            for index in indexes {
                sink(key.value(), index.map_err(backend)?.value())?;
            }
        }
        Ok(())
    }

    /// Every stored tile, with its shard.
    pub fn for_each_tile(
        &self,
        mut sink: impl FnMut(u32, TileData) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let txn = self.db()?.begin_read().map_err(backend)?;
        let tiles = txn.open_table(TILES).map_err(backend)?;
        for row in tiles.iter().map_err(backend)? {
            let (key, data) = row.map_err(backend)?;
            let (shard, level, index) = key.value();
            sink(
                shard,
                TileData {
                    level,
                    index,
                    data: data.value().to_vec(),
                },
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract_tests;

    #[test]
    fn batches_round_trip_and_checkpoint_never_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.redb");
        let store = RedbStore::open(&path, DEFAULT_CACHE_BYTES).unwrap();
        contract_tests::batches_round_trip_and_checkpoint_never_shrinks(&store);
        drop(store);
        let reopened = RedbStore::open(&path, DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(reopened.shards().unwrap()[0].checkpoint.size, 2);
    }

    #[test]
    fn a_batch_on_another_checkpoint_is_refused_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open_dir(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        contract_tests::a_batch_on_another_checkpoint_is_refused_and_writes_nothing(&store);
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open_dir(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        contract_tests::filed_keys_join_the_index_and_the_marker_moves(&store);
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open_dir(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        contract_tests::proof_reads_answer_tiles_whole_or_in_part(&store);
    }

    /// The files of a store as a crash would leave them: copied while it is
    /// open (no clean close, no durable redb commit since its opening).
    fn crash_copy(from: &Path, to: &Path, with_journal: bool) {
        std::fs::create_dir_all(to).unwrap();
        let mut files = vec![STORE_FILE];
        if with_journal {
            files.push("log.journal");
        }
        for name in files {
            std::fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }

    /// A store under `parent/live` with its first (empty) shard.
    fn store_with_a_shard(parent: &Path) -> (PathBuf, RedbStore) {
        let live = parent.join("live");
        let store = RedbStore::open_dir(&live, DEFAULT_CACHE_BYTES).unwrap();
        store.create_shard(&contract_tests::shard(0, 0)).unwrap();
        (live, store)
    }

    /// Batches the journal in `dir` holds.
    fn journaled(dir: &Path) -> usize {
        Journal::open(&dir.join("log.journal")).unwrap().1.len()
    }

    #[test]
    fn journaled_batches_survive_a_crash_and_a_clean_close_starts_the_journal_over() {
        let dir = tempfile::tempdir().unwrap();
        let (live, store) = store_with_a_shard(dir.path());
        for index in 0..3 {
            store
                .commit_batch(&contract_tests::batch(index, index + 1))
                .unwrap();
        }
        assert_eq!(journaled(&live), 3);

        // redb alone holds only its last durable commit: the empty shard.
        let without = dir.path().join("without-journal");
        crash_copy(&live, &without, false);
        let reopened = RedbStore::open_dir(&without, DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(reopened.shards().unwrap()[0].checkpoint.size, 0);
        drop(reopened);

        // With the journal, every acknowledged batch is back, and the
        // replay is persisted (the journal starts over).
        let crashed = dir.path().join("crashed");
        crash_copy(&live, &crashed, true);
        let reopened = RedbStore::open_dir(&crashed, DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(
            reopened.shards().unwrap()[0].checkpoint,
            contract_tests::checkpoint(3)
        );
        assert_eq!(reopened.read_entries(0..5).unwrap().len(), 3);
        assert_eq!(reopened.find_leaf(&[2; 32]).unwrap(), Some(2));
        assert_eq!(journaled(&crashed), 0);
        // It goes on from there, and a replayed batch is not applied twice.
        reopened.commit_batch(&contract_tests::batch(3, 4)).unwrap();
        drop(reopened);

        drop(store);
        assert_eq!(journaled(&live), 0);
        let reopened = RedbStore::open_dir(&live, DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(reopened.shards().unwrap()[0].checkpoint.size, 3);
    }

    #[test]
    fn a_full_journal_is_persisted_into_redb_and_starts_over_without_losing_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (live, store) = store_with_a_shard(dir.path());
        // Batches of 1 MiB each: the journal fills past `FLUSH_BYTES`.
        let batches = (FLUSH_BYTES >> 20) + 4;
        for index in 0..batches {
            let mut batch = contract_tests::batch(index, index + 1);
            batch.tiles[0].data = vec![index as u8; 1 << 20];
            store.commit_batch(&batch).unwrap();
        }
        let crashed = dir.path().join("crashed");
        crash_copy(&live, &crashed, true);
        drop(store);

        // redb holds the batches up to the persist durably, the journal
        // the ones after it.
        let without = dir.path().join("without-journal");
        crash_copy(&crashed, &without, false);
        let durable = RedbStore::open_dir(&without, DEFAULT_CACHE_BYTES).unwrap();
        let persisted = durable.shards().unwrap()[0].checkpoint.size;
        assert!(persisted > 0 && persisted < batches, "{persisted}");
        assert_eq!(journaled(&crashed) as u64, batches - persisted);

        let reopened = RedbStore::open_dir(&crashed, DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(
            reopened.shards().unwrap()[0].checkpoint,
            contract_tests::checkpoint(batches)
        );
        assert_eq!(
            reopened.read_entries(0..batches + 1).unwrap().len() as u64,
            batches
        );
        let last = reopened.read_tile(0, 0, 0).unwrap().unwrap();
        assert_eq!(last, vec![(batches - 1) as u8; 1 << 20]);
    }

    #[test]
    fn a_journal_that_does_not_extend_the_stored_tree_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (live, store) = store_with_a_shard(dir.path());
        store.commit_batch(&contract_tests::batch(0, 1)).unwrap();
        let crashed = dir.path().join("crashed");
        crash_copy(&live, &crashed, true);
        drop(store);

        // Another log's journal beside this redb file: its batch extends a
        // tree of size 1 with another root.
        let other = dir.path().join("other");
        let store = RedbStore::open_dir(&other, DEFAULT_CACHE_BYTES).unwrap();
        store.create_shard(&contract_tests::shard(0, 0)).unwrap();
        store.commit_batch(&contract_tests::batch(0, 1)).unwrap();
        let mut forked = contract_tests::batch(1, 2);
        forked.previous.root = [0xee; 32];
        let mut journal = Journal::open(&crashed.join("log.journal")).unwrap().0;
        journal.start_over().unwrap();
        journal.append(&forked).unwrap();
        drop(journal);

        let refused = RedbStore::open_dir(&crashed, DEFAULT_CACHE_BYTES);
        assert!(
            matches!(refused, Err(StoreError::Corrupt(ref m)) if m.contains("journal")),
            "{:?}",
            refused.err()
        );
    }

    #[test]
    fn a_locked_data_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = RedbStore::open_dir(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let second = RedbStore::open_dir(dir.path(), DEFAULT_CACHE_BYTES);
        assert!(matches!(second, Err(StoreError::Locked(_))));
    }

    #[test]
    fn entries_with_extra_data_round_trip_and_rekor_records_keep_their_encoding() {
        let rekor = StoredEntry {
            body: b"body".to_vec(),
            integrated_time: 5,
            receipt: vec![9; 70],
            extra: Vec::new(),
        };
        let encoded = encode_entry(&rekor);
        assert_eq!(&encoded[8..10], &70u16.to_be_bytes());
        assert_eq!(&encoded[80..], b"body");
        assert_eq!(decode_entry(&encoded).unwrap(), rekor);

        let ct = StoredEntry {
            body: b"leaf".to_vec(),
            integrated_time: 6,
            receipt: Vec::new(),
            extra: b"chain".to_vec(),
        };
        assert_eq!(decode_entry(&encode_entry(&ct)).unwrap(), ct);
        let truncated = encode_entry(&ct);
        assert!(decode_entry(&truncated[..14]).is_err());
    }

    #[test]
    fn second_open_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.redb");
        let _first = RedbStore::open(&path, DEFAULT_CACHE_BYTES).unwrap();
        let second = RedbStore::open(&path, DEFAULT_CACHE_BYTES);
        assert!(matches!(second, Err(StoreError::Locked(_))));
    }
}
