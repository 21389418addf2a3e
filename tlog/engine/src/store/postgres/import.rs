//! Bulk import of a whole log into an empty schema, for `atesto tlog
//! migrate`. The copy is marked by the one row of `migration` from its
//! first write until the caller has verified it (`finish_import`): while
//! the row is there `PostgresStore::open` refuses the schema, so no server
//! can serve or extend a partial copy, and `begin_import` clears a copy
//! left by a migration that stopped and starts over (restartable, not
//! resumable).
//!
//! The copy's transactions skip the wait for the WAL flush
//! (`synchronous_commit = off`): a crash loses at most a tail of a copy
//! that is redone anyway, and the synchronous commit of `finish_import`
//! flushes everything before it.

use super::{Param, PostgresStore, backend, lock_schema, to_i64};
use crate::store::{ShardState, StoreError, StoredEntry, TileData};

/// An entry to import with its leaf hash, at consecutive global indexes.
pub struct ImportedEntry<'a> {
    pub leaf_hash: [u8; 32],
    pub entry: &'a StoredEntry,
}

impl PostgresStore {
    /// Connects to the target schema of a migration (created if missing),
    /// even while it holds an unfinished migration.
    pub fn open_for_import(url: &str, schema: &str, pool_size: usize) -> Result<Self, StoreError> {
        Self::connect(url, schema, pool_size)
    }

    /// The source of an unfinished migration into this schema, if any.
    pub fn unfinished_migration(&self) -> Result<Option<String>, StoreError> {
        self.read(|client| {
            Ok(client
                .query_opt("SELECT source FROM migration", &[])
                .map_err(backend)?
                .map(|row| row.get(0)))
        })
    }

    /// Starts the import of the log at `source`: refuses a schema holding a
    /// log (`NotEmpty`), clears the copy of an unfinished migration, then
    /// records the migration and `shards` with their latest checkpoints.
    /// Returns the source of the migration it started over, if any.
    pub fn begin_import(
        &self,
        source: &str,
        shards: &[ShardState],
    ) -> Result<Option<String>, StoreError> {
        self.pool.with(|client| {
            let mut txn = client.transaction().map_err(backend)?;
            // The lock `create_tables` takes: no server applies the schema
            // (and then reads the marker) halfway through this.
            lock_schema(&mut txn, &self.schema)?;
            let unfinished: Option<String> = txn
                .query_opt("SELECT source FROM migration FOR UPDATE", &[])
                .map_err(backend)?
                .map(|row| row.get(0));
            if unfinished.is_some() {
                txn.batch_execute(
                    "TRUNCATE shards, checkpoints, entries, tiles, search, lease, migration",
                )
                .map_err(backend)?;
            } else {
                let holds_a_log: bool = txn
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM shards) OR EXISTS (SELECT 1 FROM entries)
                            OR EXISTS (SELECT 1 FROM lease)",
                        &[],
                    )
                    .map_err(backend)?
                    .get(0);
                if holds_a_log {
                    return Err(StoreError::NotEmpty(self.schema.clone()));
                }
            }
            txn.execute("INSERT INTO migration (source) VALUES ($1)", &[&source])
                .map_err(backend)?;
            for shard in shards {
                let ordinal = i64::from(shard.info.ordinal);
                let size = to_i64(shard.checkpoint.size, "tree size")?;
                let root = &shard.checkpoint.root[..];
                txn.execute(
                    "INSERT INTO shards (ordinal, tree_id, start_index, origin, size, root, note)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &ordinal as Param,
                        &to_i64(shard.info.tree_id, "tree id")?,
                        &to_i64(shard.info.start, "shard start")?,
                        &shard.info.origin,
                        &size,
                        &root,
                        &shard.checkpoint.note,
                    ],
                )
                .map_err(backend)?;
                txn.execute(
                    "INSERT INTO checkpoints (shard, size, root, note) VALUES ($1, $2, $3, $4)",
                    &[&ordinal as Param, &size, &root, &shard.checkpoint.note],
                )
                .map_err(backend)?;
            }
            txn.commit().map_err(backend)?;
            Ok(unfinished)
        })
    }

    /// Runs `work` in one import transaction.
    fn import(
        &self,
        work: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.pool.with(|client| {
            let mut txn = client.transaction().map_err(backend)?;
            txn.batch_execute("SET LOCAL synchronous_commit = off")
                .map_err(backend)?;
            work(&mut txn)?;
            txn.commit().map_err(backend)
        })
    }

    /// Copies entries at global indexes `first_index..`, in one statement.
    pub fn import_entries(
        &self,
        first_index: u64,
        entries: &[ImportedEntry<'_>],
    ) -> Result<(), StoreError> {
        let first = to_i64(first_index, "index")?;
        let indexes: Vec<i64> = (first..first + entries.len() as i64).collect();
        let leaf_hashes: Vec<&[u8]> = entries.iter().map(|e| &e.leaf_hash[..]).collect();
        let times: Vec<i64> = entries.iter().map(|e| e.entry.integrated_time).collect();
        let bodies: Vec<&[u8]> = entries.iter().map(|e| &e.entry.body[..]).collect();
        let receipts: Vec<&[u8]> = entries.iter().map(|e| &e.entry.receipt[..]).collect();
        let extras: Vec<&[u8]> = entries.iter().map(|e| &e.entry.extra[..]).collect();
        self.import(|txn| {
            txn.execute(
                "INSERT INTO entries (idx, leaf_hash, integrated_time, body, receipt, extra)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::BIGINT[], $4::BYTEA[], $5::BYTEA[], $6::BYTEA[])",
                &[&indexes as Param, &leaf_hashes, &times, &bodies, &receipts, &extras],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// Copies search-index rows (key, global index).
    pub fn import_search(&self, rows: &[(String, u64)]) -> Result<(), StoreError> {
        let keys: Vec<&str> = rows.iter().map(|(key, _)| key.as_str()).collect();
        let indexes = rows
            .iter()
            .map(|(_, index)| to_i64(*index, "index"))
            .collect::<Result<Vec<i64>, _>>()?;
        self.import(|txn| {
            txn.execute(
                "INSERT INTO search (key, idx) SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[])",
                &[&keys as Param, &indexes],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// Copies tiles of one shard.
    pub fn import_tiles(&self, shard: u32, tiles: &[TileData]) -> Result<(), StoreError> {
        let levels: Vec<i16> = tiles.iter().map(|t| i16::from(t.level)).collect();
        let indexes = tiles
            .iter()
            .map(|t| to_i64(t.index, "tile index"))
            .collect::<Result<Vec<i64>, _>>()?;
        let data: Vec<&[u8]> = tiles.iter().map(|t| &t.data[..]).collect();
        self.import(|txn| {
            txn.execute(
                "INSERT INTO tiles (shard, level, idx, data)
                 SELECT $1::BIGINT, * FROM UNNEST($2::SMALLINT[], $3::BIGINT[], $4::BYTEA[])",
                &[&i64::from(shard) as Param, &levels, &indexes, &data],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// Rows of the tables a migration fills: entries, search-index rows and tiles.
    pub fn imported_counts(&self) -> Result<ImportedCounts, StoreError> {
        self.read(|client| {
            let row = client
                .query_one(
                    "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM search),
                            (SELECT count(*) FROM tiles)",
                    &[],
                )
                .map_err(backend)?;
            let count = |i: usize| super::to_u64(row.get(i), "row count");
            Ok(ImportedCounts {
                entries: count(0)?,
                search_rows: count(1)?,
                tiles: count(2)?,
            })
        })
    }

    /// Ends the migration (durably): from now on the log may be served.
    pub fn finish_import(&self) -> Result<(), StoreError> {
        self.pool.with(|client| {
            client
                .execute("DELETE FROM migration", &[])
                .map_err(backend)?;
            Ok(())
        })
    }
}

/// Row counts of an imported log (`PostgresStore::imported_counts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportedCounts {
    pub entries: u64,
    pub search_rows: u64,
    pub tiles: u64,
}
