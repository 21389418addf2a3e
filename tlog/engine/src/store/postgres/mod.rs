//! The scale-out backend: PostgreSQL is the authority.
//!
//! A batch is one transaction: the shard's row is locked (`FOR UPDATE`) and
//! compared with the checkpoint the batch extends (`Batch::check_extends`),
//! then entries, search keys and tiles go in with one multi-row statement
//! each (arrays through `UNNEST`), the checkpoint joins the history table
//! (whose key (shard, size) makes two roots of one size impossible) and the
//! shard's row takes it. `synchronous_commit` (the server default) makes
//! the commit durable before it returns. Entries have a unique leaf hash,
//! so duplicates are exact whichever process wrote them.
//!
//! Each log keeps its tables in its own PostgreSQL schema (`schema.sql`,
//! applied at every open), so several logs share a database. The client is
//! the blocking `postgres` crate, called from the sequencer thread and
//! `spawn_blocking` readers like every store method, except the entry
//! GET's read, which also runs on the async client (`proof_read.rs`).

pub mod import;
pub mod lease;
pub mod libpq_env;
pub mod pool;
mod proof_read;
pub mod tls;
mod values;

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use postgres::Client;
use postgres::types::ToSql;

use super::{
    Batch, Coordinator, LogStore, ReadFuture, ShardInfo, ShardState, StoreError, StoredCheckpoint,
    StoredEntry, TileRead, TilesRead,
};
use pool::{Connection, Pool, backend};
use proof_read::{ProofRead, ProofReads};
use values::{position, tile_keys, to_i64, to_u64};

/// The log's tables, created if missing.
const SCHEMA: &str = include_str!("schema.sql");

/// How long the server lets a transaction wait for its client before
/// ending the session: far beyond a commit's round trips.
const STALLED_TRANSACTION: Duration = Duration::from_secs(2);

/// Connections of one store: the sequencer's and the readers'.
pub const DEFAULT_POOL_SIZE: usize = 16;

pub struct PostgresStore {
    pool: Pool,
    /// The entry GETs' reads, on connections of their own.
    proof_reads: ProofReads,
    schema: String,
    /// Set by the first lease claim (`lease.rs`): from then on a commit
    /// needs the lease's current epoch.
    fencing: AtomicBool,
    /// The lease epoch this process holds, 0 for none.
    epoch: AtomicU64,
    /// The data directory's lock (key, admin token): one process per directory.
    dir_lock: Option<File>,
}

/// Whether `name` may name the log's schema: a plain lower-case SQL
/// identifier, so it needs no quoting anywhere.
pub fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// A statement parameter.
type Param<'a> = &'a (dyn ToSql + Sync);

fn root_of(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("a root of {} bytes", bytes.len())))
}

fn shard_state(row: &postgres::Row) -> Result<ShardState, StoreError> {
    Ok(ShardState {
        info: ShardInfo {
            ordinal: u32::try_from(row.get::<_, i64>("ordinal"))
                .map_err(|_| StoreError::Corrupt("shard ordinal out of range".into()))?,
            tree_id: to_u64(row.get("tree_id"), "tree id")?,
            start: to_u64(row.get("start_index"), "shard start")?,
            origin: row.get("origin"),
        },
        checkpoint: StoredCheckpoint {
            size: to_u64(row.get("size"), "tree size")?,
            root: root_of(row.get("root"))?,
            note: row.get("note"),
        },
    })
}

/// Takes the schema's lock until `txn` ends: what applies the schema
/// (`create_tables`) and what starts a migration into it (`import.rs`)
/// never interleave.
fn lock_schema(txn: &mut postgres::Transaction<'_>, schema: &str) -> Result<(), StoreError> {
    txn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('atesto schema ' || $1))",
        &[&schema],
    )
    .map_err(backend)?;
    Ok(())
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`), creates the
    /// log's schema and tables if missing, and keeps up to `pool_size`
    /// connections.
    pub fn open(url: &str, schema: &str, pool_size: usize) -> Result<Self, StoreError> {
        let store = Self::connect(url, schema, pool_size)?;
        if let Some(source_dir) = store.unfinished_migration()? {
            return Err(StoreError::Migrating {
                schema: schema.to_owned(),
                source_dir,
            });
        }
        Ok(store)
    }

    /// `open` without the check for an unfinished migration (`import.rs`).
    fn connect(url: &str, schema: &str, pool_size: usize) -> Result<Self, StoreError> {
        if !valid_schema_name(schema) {
            return Err(StoreError::Backend(format!(
                "schema name {schema:?}: use lower-case letters, digits and '_', not starting with a digit"
            )));
        }
        let tls::Database {
            mut config, tls, ..
        } = tls::parse(url)?;
        // Every statement of the store names its tables unqualified. A
        // process stalled inside a transaction (SIGSTOP, a pause) loses its
        // session, and with it the row locks a takeover would wait for.
        // Every statement is a key lookup or an insert, whose generic plan
        // is the one a custom plan would choose: without the setting, the
        // server re-planned the proof read at each execution (its generic
        // plan guesses 10 tiles): about 40% of its CPU per proof GET
        // (BENCHMARKS.md, "Proofs on PostgreSQL: one plan per connection").
        config.options(format!(
            "-c search_path={schema} -c idle_in_transaction_session_timeout={} \
             -c plan_cache_mode=force_generic_plan",
            STALLED_TRANSACTION.as_millis()
        ));
        if config.get_application_name().is_none() {
            config.application_name("atesto");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // A server that vanished without closing the connection is noticed
        // in seconds, not hours.
        config.keepalives_idle(Duration::from_secs(10));
        let store = Self {
            pool: Pool::new(config.clone().into(), tls.clone(), pool_size),
            proof_reads: ProofReads::new(config, tls),
            schema: schema.to_owned(),
            fencing: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            dir_lock: None,
        };
        store.create_tables()?;
        Ok(store)
    }

    /// Keeps the lock of the process's data directory while the store is open.
    pub fn hold_dir_lock(mut self, lock: File) -> Self {
        self.dir_lock = Some(lock);
        self
    }

    /// The lease epoch a write needs, when replicas share the store.
    fn fence(&self) -> Option<u64> {
        self.fencing
            .load(Ordering::Acquire)
            .then(|| self.epoch.load(Ordering::Acquire))
    }

    /// The PostgreSQL schema holding this log's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    fn create_tables(&self) -> Result<(), StoreError> {
        self.pool.with(|client| {
            let mut txn = client.transaction().map_err(backend)?;
            // Replicas starting together must not race on CREATE ... IF NOT
            // EXISTS (it is not atomic): one applies the schema at a time.
            lock_schema(&mut txn, &self.schema)?;
            txn.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", self.schema))
                .map_err(backend)?;
            txn.batch_execute(SCHEMA).map_err(backend)?;
            txn.commit().map_err(backend)
        })
    }

    /// Runs a read on a pooled connection, once more on a new connection if
    /// the first was dead (after a server restart every idle one is).
    fn read<T>(
        &self,
        work: impl Fn(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self.pool.with(&work) {
            Err(StoreError::Unavailable(_)) => self.pool.with(&work),
            other => other,
        }
    }
}

/// Inside a write transaction: refuses unless `fence` (the epoch this
/// process holds) is the lease's. The share lock makes a takeover wait
/// for this transaction, and every later one see the new epoch.
fn check_fence(txn: &mut postgres::Transaction<'_>, fence: Option<u64>) -> Result<(), StoreError> {
    let Some(held) = fence else {
        return Ok(());
    };
    let current = txn
        .query_opt("SELECT epoch FROM lease FOR SHARE", &[])
        .map_err(backend)?
        .map(|row| to_u64(row.get(0), "lease epoch"))
        .transpose()?
        .unwrap_or(0);
    if held == 0 || held != current {
        return Err(StoreError::Fenced { held, current });
    }
    Ok(())
}

fn write_batch(client: &mut Client, batch: &Batch, fence: Option<u64>) -> Result<(), StoreError> {
    let shard = i64::from(batch.shard);
    let mut txn = client.transaction().map_err(backend)?;
    check_fence(&mut txn, fence)?;
    let row = txn
        .query_opt(
            "SELECT ordinal, tree_id, start_index, origin, size, root, note
             FROM shards WHERE ordinal = $1 FOR UPDATE",
            &[&shard],
        )
        .map_err(backend)?
        .ok_or_else(|| StoreError::Corrupt(format!("batch for unknown shard {}", batch.shard)))?;
    // Compare-and-swap under the row lock: concurrent writers of the shard
    // queue on it, and only the one whose base is still stored commits.
    batch.check_extends(&shard_state(&row)?.checkpoint)?;

    let first = to_i64(batch.first_index, "index")?;
    let count = batch.entries.len() as i64;
    let indexes: Vec<i64> = (first..first + count).collect();
    let leaf_hashes: Vec<&[u8]> = batch.entries.iter().map(|e| &e.leaf_hash[..]).collect();
    let times: Vec<i64> = batch
        .entries
        .iter()
        .map(|e| e.entry.integrated_time)
        .collect();
    let bodies: Vec<&[u8]> = batch.entries.iter().map(|e| &e.entry.body[..]).collect();
    let receipts: Vec<&[u8]> = batch.entries.iter().map(|e| &e.entry.receipt[..]).collect();
    let extras: Vec<&[u8]> = batch.entries.iter().map(|e| &e.entry.extra[..]).collect();
    txn.execute(
        "INSERT INTO entries (idx, leaf_hash, integrated_time, body, receipt, extra)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::BIGINT[], $4::BYTEA[], $5::BYTEA[], $6::BYTEA[])",
        &[&indexes as Param, &leaf_hashes, &times, &bodies, &receipts, &extras],
    )
    .map_err(backend)?;

    let mut keys: Vec<&str> = Vec::new();
    let mut key_indexes: Vec<i64> = Vec::new();
    for (index, new) in indexes.iter().zip(&batch.entries) {
        for key in &new.index_keys {
            keys.push(key);
            key_indexes.push(*index);
        }
    }
    if !keys.is_empty() {
        txn.execute(
            "INSERT INTO search (key, idx) SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[])
             ON CONFLICT DO NOTHING",
            &[&keys as Param, &key_indexes],
        )
        .map_err(backend)?;
    }

    if !batch.tiles.is_empty() {
        let levels: Vec<i16> = batch.tiles.iter().map(|t| i16::from(t.level)).collect();
        let tile_indexes = batch
            .tiles
            .iter()
            .map(|t| to_i64(t.index, "tile index"))
            .collect::<Result<Vec<i64>, _>>()?;
        let data: Vec<&[u8]> = batch.tiles.iter().map(|t| &t.data[..]).collect();
        txn.execute(
            "INSERT INTO tiles (shard, level, idx, data)
             SELECT $1::BIGINT, * FROM UNNEST($2::SMALLINT[], $3::BIGINT[], $4::BYTEA[])
             ON CONFLICT (shard, level, idx) DO UPDATE SET data = EXCLUDED.data",
            &[&shard as Param, &levels, &tile_indexes, &data],
        )
        .map_err(backend)?;
    }

    let size = to_i64(batch.checkpoint.size, "tree size")?;
    let root = &batch.checkpoint.root[..];
    txn.execute(
        "INSERT INTO checkpoints (shard, size, root, note) VALUES ($1, $2, $3, $4)",
        &[&shard as Param, &size, &root, &batch.checkpoint.note],
    )
    .map_err(backend)?;
    txn.execute(
        "UPDATE shards SET size = $2, root = $3, note = $4 WHERE ordinal = $1",
        &[&shard as Param, &size, &root, &batch.checkpoint.note],
    )
    .map_err(backend)?;
    txn.commit().map_err(backend)
}

impl LogStore for PostgresStore {
    fn shards(&self) -> Result<Vec<ShardState>, StoreError> {
        self.read(|client| {
            client
                .query(
                    "SELECT ordinal, tree_id, start_index, origin, size, root, note
                     FROM shards ORDER BY ordinal",
                    &[],
                )
                .map_err(backend)?
                .iter()
                .map(shard_state)
                .collect()
        })
    }

    fn create_shard(&self, shard: &ShardState) -> Result<(), StoreError> {
        let ordinal = i64::from(shard.info.ordinal);
        let tree_id = to_i64(shard.info.tree_id, "tree id")?;
        let start = to_i64(shard.info.start, "shard start")?;
        let size = to_i64(shard.checkpoint.size, "tree size")?;
        let root = &shard.checkpoint.root[..];
        // The first shard is made by whichever replica starts first; later
        // ones (rotation) only by the integrator.
        let fence = self.fence().filter(|_| shard.info.ordinal > 0);
        self.pool.with(|client| {
            let mut txn = client.transaction().map_err(backend)?;
            check_fence(&mut txn, fence)?;
            let created = txn
                .execute(
                    "INSERT INTO shards (ordinal, tree_id, start_index, origin, size, root, note)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    &[
                        &ordinal as Param,
                        &tree_id,
                        &start,
                        &shard.info.origin,
                        &size,
                        &root,
                        &shard.checkpoint.note,
                    ],
                )
                .map_err(backend)?;
            if created == 0 {
                return Err(StoreError::Corrupt(format!(
                    "shard {} exists already",
                    shard.info.ordinal
                )));
            }
            txn.execute(
                "INSERT INTO checkpoints (shard, size, root, note) VALUES ($1, $2, $3, $4)",
                &[&ordinal as Param, &size, &root, &shard.checkpoint.note],
            )
            .map_err(backend)?;
            txn.commit().map_err(backend)
        })
    }

    fn commit_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        // Never retried here: whether a commit whose reply was lost landed
        // is for the sequencer to find out (`recover`, then its resync).
        let fence = self.fence();
        self.pool.with(|client| write_batch(client, batch, fence))
    }

    fn read_tile(&self, shard: u32, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let index = to_i64(index, "tile index")?;
        self.read(|client| {
            Ok(client
                .query_cached(
                    "SELECT data FROM tiles WHERE shard = $1 AND level = $2 AND idx = $3",
                    &[&i64::from(shard) as Param, &i16::from(level), &index],
                )
                .map_err(backend)?
                .first()
                .map(|row| row.get(0)))
        })
    }

    fn read_tiles(&self, shard: u32, wanted: &[(u8, u64)]) -> Result<TilesRead, StoreError> {
        let (levels, indexes) = tile_keys(wanted)?;
        let rows = self.read(|client| {
            client
                .query_cached(
                    "SELECT w.level, w.idx, (SELECT t.data FROM tiles t
                        WHERE t.shard = $1 AND t.level = w.level AND t.idx = w.idx)
                     FROM unnest($2::int2[], $3::int8[]) AS w(level, idx)",
                    &[&i64::from(shard), &levels, &indexes],
                )
                .map_err(backend)
        })?;
        let mut found = vec![None; wanted.len()];
        for row in &rows {
            let key = (row.get::<_, i16>(0), row.get::<_, i64>(1));
            if let Some(at) = position(&levels, &indexes, key) {
                found[at] = row.get(2);
            }
        }
        Ok(found)
    }

    fn read_entry_and_tiles(
        &self,
        index: u64,
        shard: u32,
        wanted: &[TileRead],
    ) -> Result<(Option<StoredEntry>, TilesRead), StoreError> {
        let read = ProofRead::new(index, shard, wanted)?;
        let rows = self.read(|client| {
            client
                .query_cached(proof_read::SQL, &read.params())
                .map_err(backend)
        })?;
        read.parse(&rows)
    }

    fn read_entry_and_tiles_async<'a>(
        &'a self,
        index: u64,
        shard: u32,
        wanted: &'a [TileRead],
    ) -> Option<ReadFuture<'a>> {
        Some(Box::pin(self.proof_reads.read(index, shard, wanted)))
    }

    fn read_entries(&self, range: Range<u64>) -> Result<Vec<StoredEntry>, StoreError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let start = to_i64(range.start, "index")?;
        let end = i64::try_from(range.end).unwrap_or(i64::MAX);
        self.read(|client| {
            let rows = client
                .query_cached(
                    "SELECT idx, integrated_time, body, receipt, extra FROM entries
                     WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                    &[&start, &end],
                )
                .map_err(backend)?;
            Ok(rows
                .iter()
                .zip(start..)
                .take_while(|(row, expected)| row.get::<_, i64>(0) == *expected)
                .map(|(row, _)| StoredEntry {
                    integrated_time: row.get(1),
                    body: row.get(2),
                    receipt: row.get(3),
                    extra: row.get(4),
                })
                .collect())
        })
    }

    fn find_leaves(&self, leaf_hashes: &[[u8; 32]]) -> Result<Vec<Option<u64>>, StoreError> {
        if leaf_hashes.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<&[u8]> = leaf_hashes.iter().map(|h| &h[..]).collect();
        let found = self.read(|client| {
            client
                .query_cached(
                    "SELECT leaf_hash, idx FROM entries WHERE leaf_hash = ANY($1)",
                    &[&wanted],
                )
                .map_err(backend)?
                .iter()
                .map(|row| Ok((root_of(row.get(0))?, to_u64(row.get(1), "index")?)))
                .collect::<Result<std::collections::HashMap<[u8; 32], u64>, StoreError>>()
        })?;
        Ok(leaf_hashes
            .iter()
            .map(|hash| found.get(hash).copied())
            .collect())
    }

    fn search(&self, key: &str) -> Result<Vec<u64>, StoreError> {
        self.read(|client| {
            client
                .query_cached(
                    "SELECT idx FROM search WHERE key = $1 ORDER BY idx",
                    &[&key],
                )
                .map_err(backend)?
                .iter()
                .map(|row| to_u64(row.get(0), "index"))
                .collect()
        })
    }

    fn first_filed(&self, keys: &[&str]) -> Result<Vec<Option<u64>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.read(|client| {
            client
                .query_cached(
                    "SELECT key, min(idx) FROM search WHERE key = ANY($1) GROUP BY key",
                    &[&keys],
                )
                .map_err(backend)?
                .iter()
                .map(|row| Ok((row.get::<_, String>(0), to_u64(row.get(1), "index")?)))
                .collect::<Result<std::collections::HashMap<String, u64>, StoreError>>()
        })?;
        Ok(keys.iter().map(|key| found.get(*key).copied()).collect())
    }

    fn file_keys(&self, filed: &[(String, u64)], marker: (&str, u64)) -> Result<(), StoreError> {
        let keys: Vec<&str> = filed.iter().map(|(key, _)| key.as_str()).collect();
        let indexes = filed
            .iter()
            .map(|(_, index)| to_i64(*index, "index"))
            .collect::<Result<Vec<i64>, _>>()?;
        let next = to_i64(marker.1, "index")?;
        self.pool.with(|client| {
            let mut txn = client.transaction().map_err(backend)?;
            txn.execute(
                "INSERT INTO search (key, idx) SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[])
                 ON CONFLICT DO NOTHING",
                &[&keys as Param, &indexes],
            )
            .map_err(backend)?;
            txn.execute("DELETE FROM search WHERE key = $1", &[&marker.0])
                .map_err(backend)?;
            txn.execute(
                "INSERT INTO search (key, idx) VALUES ($1, $2)",
                &[&marker.0 as Param, &next],
            )
            .map_err(backend)?;
            txn.commit().map_err(backend)
        })
    }

    fn recover(&self) -> Result<(), StoreError> {
        // A write transaction on a fresh connection: proves the server is
        // back and accepts writes (not a read-only standby).
        self.read(|client| {
            let mut txn = client.transaction().map_err(backend)?;
            txn.execute("SELECT 1 FROM shards FOR UPDATE SKIP LOCKED", &[])
                .map_err(backend)?;
            txn.commit().map_err(backend)
        })
    }

    fn shared_setting(&self, name: &str, proposed: &str) -> Result<String, StoreError> {
        self.read(|client| {
            client
                .execute(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&name, &proposed],
                )
                .map_err(backend)?;
            Ok(client
                .query_one("SELECT value FROM settings WHERE name = $1", &[&name])
                .map_err(backend)?
                .get(0))
        })
    }

    fn coordinator(self: Arc<Self>) -> Option<Arc<dyn Coordinator>> {
        Some(self)
    }
}

#[cfg(test)]
pub(crate) mod tests;
