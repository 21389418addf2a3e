//! The sequencer: the log's only writer.
//!
//! Submissions wait in a bounded pool; one thread takes them in batches (up to
//! `max_size`, or whatever arrived within `max_age` of the batch's first
//! entry), assigns indexes, signs a SignedEntryTimestamp per entry and one
//! checkpoint per batch, and commits entries, tiles, index keys and the
//! checkpoint in one durable store transaction. Only after that commit does
//! any submitter get an answer or any reader see the new checkpoint, so an
//! acknowledged entry is never lost and a published checkpoint never goes back.
//! Rotation to a new shard runs on the same thread, between batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::entry::PreparedEntry;
use crate::log::{LogKeys, LogView, ProvenEntry, SharedView};
use crate::merkle::{self, RightEdge};
use crate::metrics::Metrics;
use crate::store::{
    Batch, LogStore, NewEntry, ShardInfo, ShardState, StoreError, StoredCheckpoint, StoredEntry,
};

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("an equivalent entry already exists at log index {0}")]
    Duplicate(u64),
    #[error("the log is at capacity; retry shortly")]
    PoolFull,
    #[error("the sequencer has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Reply = oneshot::Sender<Result<ProvenEntry, SubmitError>>;

enum Command {
    Submit(PreparedEntry, Reply),
    Rotate(oneshot::Sender<Result<ShardState, StoreError>>),
}

#[derive(Debug, Clone)]
pub struct SequencerConfig {
    pub max_size: usize,
    pub max_age: Duration,
    pub pool_size: usize,
    pub rotate_at_size: Option<u64>,
    pub hostname: String,
}

/// Cheap handle to hand submissions to the sequencer thread.
#[derive(Clone)]
pub struct SequencerHandle {
    commands: SyncSender<Command>,
}

impl SequencerHandle {
    /// Queues an entry; fails at once with `PoolFull` rather than queueing without bound.
    pub fn submit(
        &self,
        entry: PreparedEntry,
    ) -> Result<oneshot::Receiver<Result<ProvenEntry, SubmitError>>, SubmitError> {
        let (reply, receive) = oneshot::channel();
        match self.commands.try_send(Command::Submit(entry, reply)) {
            Ok(()) => Ok(receive),
            Err(TrySendError::Full(_)) => Err(SubmitError::PoolFull),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Stopped),
        }
    }

    /// Starts a new shard between two batches. Waits for room in the pool.
    pub async fn rotate(&self) -> Result<ShardState, SubmitError> {
        let (reply, receive) = oneshot::channel();
        let commands = self.commands.clone();
        tokio::task::spawn_blocking(move || commands.send(Command::Rotate(reply)))
            .await
            .map_err(|_| SubmitError::Stopped)?
            .map_err(|_| SubmitError::Stopped)?;
        Ok(receive.await.map_err(|_| SubmitError::Stopped)??)
    }
}

/// State owned by the sequencer thread alone.
struct Sequencer {
    config: SequencerConfig,
    store: Arc<dyn LogStore>,
    keys: Arc<LogKeys>,
    view: SharedView,
    metrics: Arc<Metrics>,
    /// The active shard and its tree's right edge, always equal to what is committed.
    shard: ShardInfo,
    edge: RightEdge,
}

/// Starts the sequencer thread for the active (last) shard of `view`.
pub fn start(
    config: SequencerConfig,
    store: Arc<dyn LogStore>,
    keys: Arc<LogKeys>,
    view: SharedView,
    metrics: Arc<Metrics>,
) -> Result<SequencerHandle, StoreError> {
    let current = view.load_full();
    let active = current
        .active()
        .ok_or_else(|| StoreError::Corrupt("log has no shard".into()))?
        .clone();
    let shard = active.info.clone();
    let tiles = store.clone();
    let ordinal = shard.ordinal;
    let edge = RightEdge::load(active.checkpoint.size, &move |level, index| {
        tiles.read_tile(ordinal, level, index)
    })
    .map_err(|e| StoreError::Corrupt(format!("loading the right edge: {e}")))?;
    if edge.root() != active.checkpoint.root {
        return Err(StoreError::Corrupt(format!(
            "stored tiles of shard {ordinal} do not hash to its checkpoint"
        )));
    }
    let (commands, receiver) = std::sync::mpsc::sync_channel(config.pool_size);
    let sequencer = Sequencer {
        config,
        store,
        keys,
        view,
        metrics,
        shard,
        edge,
    };
    std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || sequencer.run(receiver))
        .map_err(|e| StoreError::Backend(format!("starting the sequencer: {e}")))?;
    Ok(SequencerHandle { commands })
}

/// The payload a SignedEntryTimestamp signs, canonicalized (RFC 8785).
#[derive(Serialize)]
struct SetPayload<'a> {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: &'a str,
    #[serde(rename = "logIndex")]
    log_index: u64,
}

impl Sequencer {
    fn run(mut self, commands: Receiver<Command>) {
        while let Ok(first) = commands.recv() {
            let mut batch = Vec::new();
            let mut rotate = None;
            match first {
                Command::Submit(entry, reply) => batch.push((entry, reply)),
                Command::Rotate(reply) => rotate = Some(reply),
            }
            let deadline = Instant::now() + self.config.max_age;
            while rotate.is_none() && !batch.is_empty() && batch.len() < self.config.max_size {
                let wait = deadline.saturating_duration_since(Instant::now());
                match commands.recv_timeout(wait) {
                    Ok(Command::Submit(entry, reply)) => batch.push((entry, reply)),
                    Ok(Command::Rotate(reply)) => rotate = Some(reply),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            if !batch.is_empty() {
                self.integrate(batch);
            }
            let full = self
                .config
                .rotate_at_size
                .is_some_and(|limit| self.edge.size() >= limit);
            if let Some(reply) = rotate {
                let _ = reply.send(self.rotate());
            } else if full && let Err(err) = self.rotate() {
                tracing::error!(%err, "automatic shard rotation failed");
            }
        }
        tracing::info!("sequencer stopped: every handle was dropped");
    }

    fn integrate(&mut self, batch: Vec<(PreparedEntry, Reply)>) {
        let started = Instant::now();
        let integrated_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let first_index = self.shard.start + self.edge.size();

        // Drop duplicates: of entries already stored, and of earlier entries in this batch.
        let mut accepted: Vec<(NewEntry, Reply)> = Vec::with_capacity(batch.len());
        let mut in_batch: HashMap<[u8; 32], usize> = HashMap::new();
        let mut repeats: Vec<(usize, Reply)> = Vec::new();
        for (entry, reply) in batch {
            let leaf_hash = merkle::leaf_hash(&entry.body);
            if let Some(&position) = in_batch.get(&leaf_hash) {
                repeats.push((position, reply));
                continue;
            }
            match self.store.find_leaf(&leaf_hash) {
                Ok(Some(index)) => {
                    self.metrics.duplicates.inc();
                    let _ = reply.send(Err(SubmitError::Duplicate(index)));
                    continue;
                }
                Ok(None) => {}
                Err(err) => {
                    let _ = reply.send(Err(err.into()));
                    continue;
                }
            }
            in_batch.insert(leaf_hash, accepted.len());
            let index = first_index + accepted.len() as u64;
            let set = match self.sign_set(&entry.body, integrated_time, index) {
                Ok(set) => set,
                Err(err) => {
                    let _ = reply.send(Err(err.into()));
                    continue;
                }
            };
            accepted.push((
                NewEntry {
                    entry: StoredEntry {
                        body: entry.body,
                        integrated_time,
                        set,
                    },
                    leaf_hash,
                    index_keys: entry.index_keys,
                },
                reply,
            ));
        }
        if accepted.is_empty() {
            return;
        }
        let (entries, replies): (Vec<NewEntry>, Vec<Reply>) = accepted.into_iter().unzip();
        let old_size = self.edge.size();
        let batch = match self.commit(first_index, entries) {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!(%err, "integrating a batch failed");
                self.metrics.commit_failures.inc();
                let message = err.to_string();
                for reply in replies
                    .into_iter()
                    .chain(repeats.into_iter().map(|(_, r)| r))
                {
                    let failure = StoreError::Backend(message.clone());
                    let _ = reply.send(Err(SubmitError::Store(failure)));
                }
                return;
            }
        };
        let checkpoint = Arc::new(batch.checkpoint);
        self.publish(&checkpoint);
        // Repeats within the batch point at the copy that was just committed.
        for (position, reply) in repeats {
            self.metrics.duplicates.inc();
            let _ = reply.send(Err(SubmitError::Duplicate(first_index + position as u64)));
        }
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.batch_size.observe(replies.len() as f64);
        self.metrics.entries.inc_by(replies.len() as u64);
        self.metrics.tree_size.set(self.edge.size() as i64);

        let proofs = match self
            .edge
            .batch_proofs(&batch.tiles, old_size..self.edge.size())
        {
            Ok(proofs) => proofs,
            Err(err) => {
                // Committed but not provable from memory: a bug. The entries
                // are durable and readable with proofs through the read API.
                tracing::error!(%err, "computing inclusion proofs of a committed batch failed");
                for reply in replies {
                    let failure = StoreError::Corrupt(err.to_string());
                    let _ = reply.send(Err(SubmitError::Store(failure)));
                }
                return;
            }
        };
        for (offset, ((new, reply), proof)) in batch
            .entries
            .into_iter()
            .zip(replies)
            .zip(proofs)
            .enumerate()
        {
            let _ = reply.send(Ok(ProvenEntry {
                index: first_index + offset as u64,
                shard: self.shard.clone(),
                entry: new.entry,
                proof,
                checkpoint: checkpoint.clone(),
            }));
        }
    }

    /// Appends the entries to the tree, signs its checkpoint and commits the
    /// batch durably. On failure the edge is restored, so memory always
    /// matches what the store holds.
    fn commit(&mut self, first_index: u64, entries: Vec<NewEntry>) -> Result<Batch, StoreError> {
        let previous_edge = self.edge.clone();
        let leaves: Vec<[u8; 32]> = entries.iter().map(|e| e.leaf_hash).collect();
        let tiles = self.edge.append(&leaves);
        let committed = self.sign_checkpoint().and_then(|checkpoint| {
            let batch = Batch {
                shard: self.shard.ordinal,
                first_index,
                entries,
                tiles,
                checkpoint,
            };
            self.store.commit_batch(&batch)?;
            Ok(batch)
        });
        if committed.is_err() {
            self.edge = previous_edge;
        }
        committed
    }

    fn sign_set(
        &self,
        body: &[u8],
        integrated_time: i64,
        index: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let payload = SetPayload {
            body: base64::engine::general_purpose::STANDARD.encode(body),
            integrated_time,
            log_id: &self.keys.log_id_hex,
            log_index: index,
        };
        let canonical = serde_json_canonicalizer::to_vec(&payload)
            .map_err(|e| StoreError::Backend(format!("canonicalizing a SET: {e}")))?;
        self.keys
            .sign(&canonical)
            .map_err(|e| StoreError::Backend(format!("signing a SET: {e}")))
    }

    fn sign_checkpoint(&self) -> Result<StoredCheckpoint, StoreError> {
        self.keys
            .checkpoint(&self.shard.origin, self.edge.size(), self.edge.root())
    }

    /// Makes the committed checkpoint visible to readers.
    fn publish(&self, checkpoint: &Arc<StoredCheckpoint>) {
        let current = self.view.load_full();
        let mut shards = current.shards.clone();
        if let Some(last) = shards.last_mut() {
            last.checkpoint = (**checkpoint).clone();
        }
        self.view.store(Arc::new(LogView { shards }));
    }

    /// Freezes the active shard at its current checkpoint and starts a new tree.
    fn rotate(&mut self) -> Result<ShardState, StoreError> {
        let start = self.shard.start + self.edge.size();
        let tree_id = crate::log::new_tree_id();
        let info = ShardInfo {
            ordinal: self.shard.ordinal + 1,
            tree_id,
            start,
            origin: format!("{} - {tree_id}", self.config.hostname),
        };
        let checkpoint =
            self.keys
                .checkpoint(&info.origin, 0, merkle::RightEdge::empty().root())?;
        let state = ShardState { info, checkpoint };
        self.store.create_shard(&state)?;
        self.shard = state.info.clone();
        self.edge = RightEdge::empty();
        let current = self.view.load_full();
        let mut shards = current.shards.clone();
        shards.push(state.clone());
        self.view.store(Arc::new(LogView { shards }));
        self.metrics.tree_size.set(0);
        tracing::info!(tree_id, start, "started a new shard");
        Ok(state)
    }
}
