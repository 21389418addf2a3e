//! The read behind every entry GET: the entry and the tiles of its proof
//! in one statement, one round trip. The store's blocking readers run it
//! like any other read; `ProofReads` runs it on the async workers, on a
//! few connections of its own on which concurrent GETs pipeline their
//! statements. A GET then waits on PostgreSQL alone, without a hand-off to
//! a blocking thread and back: at 16 GETs in flight those hand-offs made
//! the kernel's scheduler most of the server's CPU (BENCHMARKS.md, "Proofs
//! on PostgreSQL").

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::Row;
use postgres::types::ToSql;
use tlog_tiles::HASH_SIZE;
use tokio::sync::Mutex;
use tokio_postgres::{Client, Config, Statement};

use super::pool::{backend, connect_failed};
use super::tls::Tls;
use super::values::{tile_keys, to_i64};
use crate::merkle::TILE_WIDTH;
use crate::store::{StoreError, StoredEntry, TileRead, TilesRead};

/// The entry's row first, then one row per tile wanted, numbered from 1 in
/// the order asked (NULL data if missing). Each tile is a lookup of its own
/// by primary key: joined, a generic plan estimates the arrays at 10 rows
/// and scans the whole tiles table instead. A tile's 8 KiB are stored out
/// of line (TOAST) in 2 KB chunks, uncompressed (hashes do not compress),
/// so `substring` of a part fetches only the chunks that hold it.
pub const SQL: &str = "SELECT 0::int2, idx, integrated_time, body, receipt, extra
     FROM entries WHERE idx = $1
     UNION ALL
     SELECT 1::int2, w.n, NULL, (SELECT substring(t.data FROM w.first FOR w.len)
        FROM tiles t WHERE t.shard = $2 AND t.level = w.level AND t.idx = w.idx), NULL, NULL
     FROM unnest($3::int2[], $4::int8[], $5::int4[], $6::int4[])
        WITH ORDINALITY AS w(level, idx, first, len, n)";

/// The statement's parameters: the entry at a global index, and tiles of
/// its shard, each a byte range (`substring`'s 1-based first byte and
/// length; the whole tile's range for a whole read).
pub struct ProofRead {
    index: i64,
    shard: i64,
    levels: Vec<i16>,
    indexes: Vec<i64>,
    firsts: Vec<i32>,
    lens: Vec<i32>,
    /// Whether each read is of a whole tile, whose length varies; a part
    /// must be `lens` long.
    whole: Vec<bool>,
}

/// A whole tile's bytes, at most.
const WHOLE: Range<usize> = 0..TILE_WIDTH as usize * HASH_SIZE;

impl ProofRead {
    pub fn new(index: u64, shard: u32, wanted: &[TileRead]) -> Result<Self, StoreError> {
        let keys: Vec<_> = wanted.iter().map(|w| (w.level, w.index)).collect();
        let (levels, indexes) = tile_keys(&keys)?;
        let range = |w: &TileRead| {
            let bytes = w.bytes().unwrap_or(WHOLE);
            match (i32::try_from(bytes.start + 1), i32::try_from(bytes.len())) {
                (Ok(first), Ok(len)) if bytes.end <= WHOLE.end => Ok((first, len)),
                _ => Err(StoreError::Backend(format!("tile bytes {bytes:?}"))),
            }
        };
        let (firsts, lens) = wanted.iter().map(range).collect::<Result<_, _>>()?;
        Ok(Self {
            index: to_i64(index, "index")?,
            shard: i64::from(shard),
            levels,
            indexes,
            firsts,
            lens,
            whole: wanted.iter().map(|w| w.hashes.is_none()).collect(),
        })
    }

    pub fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.index,
            &self.shard,
            &self.levels,
            &self.indexes,
            &self.firsts,
            &self.lens,
        ]
    }

    /// The entry, and the tiles in the order they were asked for.
    pub fn parse(&self, rows: &[Row]) -> Result<(Option<StoredEntry>, TilesRead), StoreError> {
        let mut entry = None;
        let mut found = vec![None; self.levels.len()];
        for row in rows {
            if row.get::<_, i16>(0) == 0 {
                entry = Some(StoredEntry {
                    integrated_time: row.get(2),
                    body: row.get(3),
                    receipt: row.get(4),
                    extra: row.get(5),
                });
            } else {
                let at = usize::try_from(row.get::<_, i64>(1) - 1)
                    .ok()
                    .filter(|&at| at < found.len())
                    .ok_or_else(|| StoreError::Corrupt("a tile read out of order".into()))?;
                // A tile too short for the part asked: none of it.
                let fits = |data: &Vec<u8>| usize::try_from(self.lens[at]) == Ok(data.len());
                found[at] = row
                    .get::<_, Option<Vec<u8>>>(3)
                    .filter(|data| self.whole[at] || fits(data));
            }
        }
        Ok((entry, found))
    }
}

/// Connections kept for proof reads. Statements pipeline on each and are
/// answered in order, so a backend the OS has descheduled holds up every
/// read queued behind it: eight keep those queues short enough for a p99
/// under 5 ms at 16 GETs in flight on two cores, where four often missed
/// it (BENCHMARKS.md, "Eight proof-read connections").
const CONNECTIONS: usize = 8;

/// The proof read on the async workers.
pub struct ProofReads {
    config: Config,
    tls: Tls,
    /// Each slot's connection, opened at its first use and again after it
    /// failed. The lock is held only to open one.
    slots: Vec<Mutex<Option<Arc<Reader>>>>,
    /// The slot the next read takes, round robin.
    next: AtomicUsize,
}

/// An open connection and the statement prepared on it.
struct Reader {
    client: Client,
    statement: Statement,
}

impl ProofReads {
    pub fn new(config: Config, tls: Tls) -> Self {
        Self {
            config,
            tls,
            slots: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The entry at global `index` and the tiles `wanted` of `shard`; once
    /// more, on a new connection, if the slot's has failed (a server
    /// restart ends them all).
    pub async fn read(
        &self,
        index: u64,
        shard: u32,
        wanted: &[TileRead],
    ) -> Result<(Option<StoredEntry>, TilesRead), StoreError> {
        let read = ProofRead::new(index, shard, wanted)?;
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        match self.read_on(slot, &read).await {
            Err(StoreError::Unavailable(_)) => self.read_on(slot, &read).await,
            other => other,
        }
    }

    async fn read_on(
        &self,
        slot: usize,
        read: &ProofRead,
    ) -> Result<(Option<StoredEntry>, TilesRead), StoreError> {
        let reader = self.reader(slot).await?;
        match reader.client.query(&reader.statement, &read.params()).await {
            Ok(rows) => read.parse(&rows),
            Err(err) => {
                let err = backend(err);
                if matches!(err, StoreError::Unavailable(_)) {
                    self.forget(slot, &reader).await;
                }
                Err(err)
            }
        }
    }

    /// The slot's connection, opened if it has none or its own has ended.
    async fn reader(&self, slot: usize) -> Result<Arc<Reader>, StoreError> {
        let mut kept = self.slots[slot].lock().await;
        if let Some(reader) = kept.as_ref()
            && !reader.client.is_closed()
        {
            return Ok(reader.clone());
        }
        *kept = None;
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|err| connect_failed(&err))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "a proof-read connection ended");
            }
        });
        let statement = client.prepare(SQL).await.map_err(backend)?;
        let reader = Arc::new(Reader { client, statement });
        *kept = Some(reader.clone());
        Ok(reader)
    }

    /// Drops the slot's connection if it is still `failed`, so that the
    /// next read opens another (the driver may not yet know it is closed).
    async fn forget(&self, slot: usize, failed: &Arc<Reader>) {
        let mut kept = self.slots[slot].lock().await;
        if kept.as_ref().is_some_and(|kept| Arc::ptr_eq(kept, failed)) {
            *kept = None;
        }
    }
}
