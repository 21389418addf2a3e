//! `atesto tlog migrate`: copies an embedded (redb) log into an empty
//! PostgreSQL schema, for the move from one machine to replicas
//! (deploy/README.md, "From embedded to scale-out").
//!
//! 1. The source's data directory is locked (a running server holds it:
//!    refused) and every shard's checkpoint is verified against the log's
//!    key, so the target is compared with what the log signed.
//! 2. The target schema is marked as being migrated (no server opens it
//!    until the end), then shards, entries, the search index and tiles go
//!    in, in batches streamed from the source (bounded memory). A rerun
//!    after a crash or a refusal clears the unfinished copy and starts over.
//! 3. Everything is recomputed from what the target holds: each shard's
//!    leaf hashes from its entries, every tile from them, compared byte for
//!    byte with the copied tiles, and the root and size with the signed
//!    checkpoint; the entry and search-row counts with the source's.
//! 4. With an object store, the bucket is brought to the migrated size.
//! 5. Only then is the mark removed: the log may be served.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use atesto_common::keys::PrivateKey;
use atesto_common::pubkey::PublicKey;
use atesto_monitor::checkpoint::verify_checkpoint;
use atesto_monitor::keys::TrustedKeys;
use atesto_rekor_v1::AppState;
use atesto_rekor_v1::config::TlogConfig;
use atesto_tlog_engine::merkle::{self, RightEdge, TILE_HEIGHT, TILE_WIDTH, tile_width};
use atesto_tlog_engine::store::postgres::PostgresStore;
use atesto_tlog_engine::store::postgres::import::{ImportedCounts, ImportedEntry};
use atesto_tlog_engine::store::redb::{RedbStore, STORE_FILE};
use atesto_tlog_engine::store::{LogStore, ShardState, StoreError, StoredEntry, TileData};

/// Entries per copy transaction (and per read while verifying).
const ENTRY_BATCH: u64 = 4096;
/// Search-index rows per copy transaction.
const SEARCH_BATCH: usize = 20_000;
/// Tiles per copy transaction (a full tile is 8 KiB).
const TILE_BATCH: usize = 256;
/// Connections to the target: the copy and the verification use one at a time.
const POOL_SIZE: usize = 2;
/// Source page cache: the copy reads every page once, in order.
const SOURCE_CACHE_BYTES: usize = 64 << 20;

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// Data directory of the embedded log to copy; no server may hold it.
    #[arg(long)]
    from: Option<PathBuf>,
    /// PostgreSQL URL of the target; from the environment when it holds a password.
    #[arg(long, env = "ATESTO_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// PostgreSQL schema to copy into (default `tlog`); it must not hold a log.
    #[arg(long)]
    database_schema: Option<String>,
    /// Publish the migrated log to this bucket before finishing (as `atesto tlog --object-store`).
    #[arg(long)]
    object_store: Option<String>,
    /// The log's signing key (default: under --from), to verify its checkpoints.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The log's YAML config: `data` is the source, `database`,
    /// `database_schema`, `object_store` and `key` as the server reads them;
    /// flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl MigrateArgs {
    fn load(self) -> anyhow::Result<TlogConfig> {
        let mut config = match &self.config {
            Some(path) => TlogConfig::from_file(path)?,
            None => TlogConfig::default(),
        };
        match self.from {
            Some(from) => config.data = from,
            None if self.config.is_none() => bail!("--from DIR (or --config) names the source"),
            None => {}
        }
        if let Some(url) = self.database {
            config.database = Some(url);
        }
        if let Some(schema) = self.database_schema {
            config.database_schema = schema;
        }
        if let Some(url) = self.object_store {
            config.object_store = Some(url);
        }
        if let Some(key) = self.key {
            config.key = Some(key);
        }
        config.validate()?;
        Ok(config)
    }
}

/// What the migration copied, as printed at the end.
#[derive(Debug, serde::Serialize)]
struct Summary {
    /// `tlog`, or `rekor_v2` for the Rekor v2 log.
    log: &'static str,
    shards: usize,
    entries: u64,
    search_rows: u64,
    tiles: u64,
    /// Whether an unfinished copy of an earlier run was cleared first.
    restarted: bool,
    copy_secs: f64,
    verify_secs: f64,
    publish_secs: Option<f64>,
}

/// One embedded log to migrate: the v1 log, or the `rekor_v2:` log beside it.
#[derive(Clone)]
struct Source {
    log: &'static str,
    name: &'static str,
    dir: PathBuf,
    key: PathBuf,
    schema: String,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let mut config = args.load()?;
    // A Rekor v2 log where `atesto tlog` keeps one without a config naming it.
    if config.rekor_v2.is_none() && config.data.join("rekor-v2").join(STORE_FILE).is_file() {
        config.rekor_v2 = Some(serde_yaml_ng::Value::Mapping(Default::default()));
    }
    let Some(url) = config.database.clone() else {
        bail!("--database postgres://... names the target");
    };
    let mut sources = vec![Source {
        log: "tlog",
        name: "transparency log",
        dir: config.data.clone(),
        key: config.key_path(),
        schema: config.database_schema.clone(),
    }];
    // The Rekor v2 log too, if the data directory holds one: with
    // `--database` its tree lives in its own schema.
    if let Some(v2) = super::rekor_v2_section::rekor_v2_config(&config)?
        && v2.data_dir().join(STORE_FILE).is_file()
    {
        sources.push(Source {
            log: "rekor_v2",
            name: "Rekor v2 log",
            dir: v2.data_dir(),
            key: v2.key_path(),
            schema: v2.database_schema.clone(),
        });
    }
    let mut migrated = Vec::new();
    for source in &sources {
        let (source, url) = (source.clone(), url.clone());
        migrated.push(tokio::task::spawn_blocking(move || copy_and_verify(&source, &url)).await??);
    }
    if let Some(bucket) = &config.object_store {
        let started = Instant::now();
        publish(&config, migrated[0].0.clone(), bucket).await?;
        migrated[0].1.publish_secs = Some(started.elapsed().as_secs_f64());
    }
    for (source, (target, summary)) in sources.iter().zip(migrated) {
        tokio::task::spawn_blocking(move || target.finish_import()).await??;
        eprintln!(
            "migrated the {} ({} entries in {} shards) into schema {}: roots and sizes equal the signed checkpoints",
            source.name, summary.entries, summary.shards, source.schema
        );
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(())
}

/// Steps 1-3 (module docs). Blocking.
fn copy_and_verify(from: &Source, url: &str) -> anyhow::Result<(Arc<PostgresStore>, Summary)> {
    let dir = &from.dir;
    // Opening would create an empty store: a mistyped path must not pass.
    ensure!(
        dir.join(STORE_FILE).is_file(),
        "{} holds no embedded log ({STORE_FILE})",
        dir.display()
    );
    let source = RedbStore::open_dir(dir, SOURCE_CACHE_BYTES).map_err(|err| match err {
        StoreError::Locked(_) => anyhow::anyhow!(
            "the log at {} is in use by another process: stop its server first",
            dir.display()
        ),
        other => other.into(),
    })?;
    let shards = source.shards()?;
    ensure!(!shards.is_empty(), "{} holds no shard", dir.display());
    verify_signed_checkpoints(&from.key, &shards)?;

    let schema = &from.schema;
    let target = Arc::new(
        PostgresStore::open_for_import(url, schema, POOL_SIZE)
            .with_context(|| format!("opening the PostgreSQL schema {schema}"))?,
    );
    let copying = Instant::now();
    let restarted = target.begin_import(&dir.display().to_string(), &shards)?;
    if let Some(from) = &restarted {
        eprintln!("cleared the unfinished migration from {from}; copying again");
    }
    let mut entries = 0;
    for shard in &shards {
        entries += copy_entries(&source, &target, shard)?;
    }
    let search_rows = copy_search(&source, &target)?;
    let tiles = copy_tiles(&source, &target, &shards)?;
    let copy_secs = copying.elapsed().as_secs_f64();
    eprintln!(
        "copied {entries} entries, {search_rows} search rows, {tiles} tiles in {copy_secs:.1} s; verifying"
    );

    let verifying = Instant::now();
    let counts = target.imported_counts()?;
    let expected = ImportedCounts {
        entries,
        search_rows,
        tiles,
    };
    ensure!(
        counts == expected,
        "the target holds {counts:?}, the source {expected:?}: refusing to finish"
    );
    for shard in &shards {
        verify_shard(target.as_ref(), shard)?;
    }
    let summary = Summary {
        log: from.log,
        shards: shards.len(),
        entries,
        search_rows,
        tiles,
        restarted: restarted.is_some(),
        copy_secs,
        verify_secs: verifying.elapsed().as_secs_f64(),
        publish_secs: None,
    };
    Ok((target, summary))
}

/// Checks that each shard's stored checkpoint is one the log's key signed,
/// for the shard's origin, size and root.
fn verify_signed_checkpoints(key_path: &Path, shards: &[ShardState]) -> anyhow::Result<()> {
    let key = PrivateKey::load(key_path).with_context(|| {
        format!(
            "the log's signing key {} (--key) verifies its checkpoints",
            key_path.display()
        )
    })?;
    let public = PublicKey::from_spki_der(&key.public_key_der())
        .map_err(|e| anyhow::anyhow!("the log's public key: {e}"))?;
    let trusted = TrustedKeys::new(vec![public]);
    for shard in shards {
        let ordinal = shard.info.ordinal;
        let head = verify_checkpoint(&shard.checkpoint.note, &trusted)
            .map_err(|e| anyhow::anyhow!("shard {ordinal}'s checkpoint: {e}"))?;
        ensure!(
            head.origin == shard.info.origin
                && head.size == shard.checkpoint.size
                && head.root_bytes() == Some(shard.checkpoint.root),
            "shard {ordinal}'s stored tree head is not the one its signed checkpoint names"
        );
    }
    Ok(())
}

/// Entries of one batch with their leaf hashes.
type EntryBatch = (u64, Vec<StoredEntry>, Vec<[u8; 32]>);

/// Copies a shard's entries; a thread reads and checks the source while
/// this one writes the target. Returns how many.
fn copy_entries(
    source: &RedbStore,
    target: &PostgresStore,
    shard: &ShardState,
) -> anyhow::Result<u64> {
    let start = shard.info.start;
    let end = start + shard.checkpoint.size;
    let (sender, batches) = sync_channel::<anyhow::Result<EntryBatch>>(2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut first = start;
            while first < end {
                let last = (first + ENTRY_BATCH).min(end);
                let read = read_source_batch(source, first..last);
                let failed = read.is_err();
                if sender.send(read.map(|(e, h)| (first, e, h))).is_err() || failed {
                    return;
                }
                first = last;
            }
        });
        let mut copied = 0;
        for batch in batches {
            let (first, entries, hashes) = batch?;
            let imported: Vec<ImportedEntry<'_>> = entries
                .iter()
                .zip(&hashes)
                .map(|(entry, leaf_hash)| ImportedEntry {
                    leaf_hash: *leaf_hash,
                    entry,
                })
                .collect();
            target.import_entries(first, &imported)?;
            copied += entries.len() as u64;
            if copied % (ENTRY_BATCH * 64) == 0 {
                eprintln!("shard {}: {copied} entries copied", shard.info.ordinal);
            }
        }
        ensure!(
            copied == end - start,
            "shard {}: copied {copied} of its {} entries",
            shard.info.ordinal,
            end - start
        );
        Ok(copied)
    })
}

/// Reads source entries `range` and their leaf hashes, checking that the
/// source files each under its index (its own duplicate index agrees).
fn read_source_batch(
    source: &RedbStore,
    range: std::ops::Range<u64>,
) -> anyhow::Result<(Vec<StoredEntry>, Vec<[u8; 32]>)> {
    let entries = source.read_entries(range.clone())?;
    ensure!(
        entries.len() as u64 == range.end - range.start,
        "the source lacks entry {}",
        range.start + entries.len() as u64
    );
    let hashes: Vec<[u8; 32]> = entries.iter().map(|e| merkle::leaf_hash(&e.body)).collect();
    for (found, index) in source.find_leaves(&hashes)?.into_iter().zip(range) {
        ensure!(
            found == Some(index),
            "the source's entry {index} is not the one it files under that leaf hash (found at {found:?}): the source is damaged"
        );
    }
    Ok((entries, hashes))
}

/// Copies the search index. Returns how many rows.
fn copy_search(source: &RedbStore, target: &PostgresStore) -> anyhow::Result<u64> {
    let mut rows: Vec<(String, u64)> = Vec::with_capacity(SEARCH_BATCH);
    let mut copied = 0u64;
    source.for_each_search_row(|key, index| {
        rows.push((key.to_owned(), index));
        if rows.len() == SEARCH_BATCH {
            target.import_search(&rows)?;
            copied += rows.len() as u64;
            rows.clear();
        }
        Ok(())
    })?;
    if !rows.is_empty() {
        target.import_search(&rows)?;
        copied += rows.len() as u64;
    }
    Ok(copied)
}

/// Copies every tile of the shards' trees. Returns how many.
fn copy_tiles(
    source: &RedbStore,
    target: &PostgresStore,
    shards: &[ShardState],
) -> anyhow::Result<u64> {
    let sizes: HashMap<u32, u64> = shards
        .iter()
        .map(|s| (s.info.ordinal, s.checkpoint.size))
        .collect();
    let mut batch: Vec<TileData> = Vec::with_capacity(TILE_BATCH);
    let mut batch_shard = None;
    let mut copied = 0u64;
    let mut flush = |shard: u32, batch: &mut Vec<TileData>| -> Result<(), StoreError> {
        if !batch.is_empty() {
            target.import_tiles(shard, batch)?;
            copied += batch.len() as u64;
            batch.clear();
        }
        Ok(())
    };
    source.for_each_tile(|shard, tile| {
        let size = sizes.get(&shard).copied().ok_or_else(|| {
            StoreError::Corrupt(format!("a tile of shard {shard}, which the log lacks"))
        })?;
        if tile_width(size, tile.level, tile.index) == 0 {
            return Err(StoreError::Corrupt(format!(
                "tile {}/{} of shard {shard} is outside its tree of size {size}",
                tile.level, tile.index
            )));
        }
        if batch_shard.is_some_and(|s| s != shard) || batch.len() == TILE_BATCH {
            flush(batch_shard.unwrap_or(shard), &mut batch)?;
        }
        batch_shard = Some(shard);
        batch.push(tile);
        Ok(())
    })?;
    if let Some(shard) = batch_shard {
        flush(shard, &mut batch)?;
    }
    Ok(copied)
}

/// Recomputes a shard's tree from the entries the target holds: its root
/// and size must be the signed checkpoint's, and every tile the copied one
/// (the partial ones up to the tree's width).
fn verify_shard(target: &PostgresStore, shard: &ShardState) -> anyhow::Result<()> {
    let ordinal = shard.info.ordinal;
    let size = shard.checkpoint.size;
    let refuse =
        |what: String| anyhow::anyhow!("shard {ordinal}: {what}; refusing to finish the migration");
    let mut edge = RightEdge::empty();
    // The first copied tile that is not the one computed, reported after
    // the root (a changed entry changes both).
    let mut tile_mismatch = None;
    let mut compare = |computed: &TileData, stored: Option<Vec<u8>>| {
        let covered = stored
            .as_deref()
            .and_then(|data| data.get(..computed.data.len()));
        if covered != Some(&computed.data[..]) && tile_mismatch.is_none() {
            tile_mismatch = Some(format!(
                "tile {}/{} is not the one its entries make",
                computed.level, computed.index
            ));
        }
    };
    // The latest partial tile of each level the appends returned.
    let mut partial: HashMap<u8, TileData> = HashMap::new();
    let mut position = 0;
    while position < size {
        let first = shard.info.start + position;
        let count = ENTRY_BATCH.min(size - position);
        let entries = target.read_entries(first..first + count)?;
        if entries.len() as u64 != count {
            return Err(refuse(format!(
                "the target lacks entry {}",
                first + entries.len() as u64
            )));
        }
        let hashes: Vec<[u8; 32]> = entries.iter().map(|e| merkle::leaf_hash(&e.body)).collect();
        for tile in edge.append(&hashes) {
            if tile.data.len() as u64 == TILE_WIDTH * 32 {
                compare(&tile, target.read_tile(ordinal, tile.level, tile.index)?);
            } else {
                partial.insert(tile.level, tile);
            }
        }
        position += count;
    }
    if edge.size() != size || edge.root() != shard.checkpoint.root {
        return Err(refuse(format!(
            "the entries make a tree of size {} and root {}, the signed checkpoint says size {size} and root {}",
            edge.size(),
            hex::encode(edge.root()),
            hex::encode(shard.checkpoint.root)
        )));
    }
    for level in 0..=u8::MAX {
        let hashes = size >> (u32::from(TILE_HEIGHT) * u32::from(level));
        if hashes == 0 {
            break;
        }
        let (index, width) = (hashes / TILE_WIDTH, hashes % TILE_WIDTH);
        if width == 0 {
            continue;
        }
        let computed = partial
            .get(&level)
            .filter(|tile| tile.index == index && tile.data.len() as u64 == width * 32)
            .ok_or_else(|| refuse(format!("no partial tile {level}/{index} computed")))?;
        compare(computed, target.read_tile(ordinal, level, index)?);
    }
    match tile_mismatch {
        Some(what) => Err(refuse(what)),
        None => Ok(()),
    }
}

/// Step 4: the log opened on the migrated store (as a server would, without
/// listening) publishes itself to the bucket once.
async fn publish(
    config: &TlogConfig,
    target: Arc<PostgresStore>,
    bucket: &str,
) -> anyhow::Result<()> {
    let log = {
        let config = config.clone();
        let store: Arc<dyn LogStore> = target;
        tokio::task::spawn_blocking(move || atesto_rekor_v1::start(store, &config)).await??
    };
    // No API is served: the admin token is never checked.
    let state = AppState::new(log, config, "");
    atesto_tlog_object_store::publish_once(state, bucket)
        .await
        .with_context(|| format!("publishing the migrated log to {bucket}"))
}
