//! The sequencer: the log's only writer.
//!
//! Submissions wait in a bounded pool; one thread takes them in batches (up to
//! `max_size`, or whatever arrived within `max_age` of the batch's first
//! entry), assigns indexes, has the personality's `EntrySigner` (if any)
//! sign each entry, signs one checkpoint per batch, and commits entries,
//! tiles, index keys and the checkpoint in one durable store transaction
//! that only succeeds on top of the checkpoint it extends. Only after that commit does
//! any submitter get an answer or any reader see the new checkpoint, so an
//! acknowledged entry is never lost and a published checkpoint never goes back.
//! Rotation to a new shard runs on the same thread, between batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::checkpoint::{LogKeys, SignError};
use crate::config::OriginStyle;
use crate::merkle::{self, ProofMemo, RightEdge};
use crate::metrics::Metrics;
use crate::store::{
    Batch, LogStore, NewEntry, ShardInfo, ShardState, StoreError, StoredCheckpoint, StoredEntry,
};
use crate::submission::{EntrySigner, Integrated, MAX_RECEIPT_BYTES, Submission};
use crate::view::{LogView, ProvenEntry, SharedView, new_tree_id};

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("an equivalent entry already exists at log index {0}")]
    Duplicate(u64),
    #[error("the log is at capacity; retry shortly")]
    PoolFull,
    #[error("the sequencer has stopped")]
    Stopped,
    /// Replicas: another process integrates (at this URL, if one does).
    #[error("this replica does not integrate the log")]
    NotIntegrator(Option<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Shared: one failed checkpoint signature fails a whole batch.
    #[error(transparent)]
    Sign(Arc<SignError>),
}

impl From<SignError> for SubmitError {
    fn from(err: SignError) -> Self {
        SubmitError::Sign(Arc::new(err))
    }
}

pub type Reply = oneshot::Sender<Result<ProvenEntry, SubmitError>>;

enum Command {
    Submit(Submission, Reply),
    Rotate(oneshot::Sender<Result<ShardState, SubmitError>>),
    Resync(std::sync::mpsc::Sender<Result<(), StoreError>>),
}

#[derive(Debug, Clone)]
pub struct SequencerConfig {
    pub max_size: usize,
    pub max_age: Duration,
    pub pool_size: usize,
    pub rotate_at_size: Option<u64>,
    pub hostname: String,
    pub origin: OriginStyle,
}

/// Cheap handle to hand submissions to the sequencer thread.
#[derive(Clone)]
pub struct SequencerHandle {
    commands: SyncSender<Command>,
    writable: Arc<AtomicBool>,
}

impl SequencerHandle {
    /// False from a commit that failed for want of storage (a full disk)
    /// until the store commits again: the log is not ready for writes.
    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::Acquire)
    }

    /// Queues an entry; fails at once with `PoolFull` rather than queueing without bound.
    pub fn submit(
        &self,
        entry: Submission,
    ) -> Result<oneshot::Receiver<Result<ProvenEntry, SubmitError>>, SubmitError> {
        let (reply, receive) = oneshot::channel();
        match self.commands.try_send(Command::Submit(entry, reply)) {
            Ok(()) => Ok(receive),
            Err(TrySendError::Full(_)) => Err(SubmitError::PoolFull),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Stopped),
        }
    }

    /// Brings the sequencer to the tree the store holds, between two
    /// batches (a replica taking over as integrator). Blocking.
    pub fn resync(&self) -> Result<(), StoreError> {
        let (reply, receive) = std::sync::mpsc::channel();
        self.commands
            .send(Command::Resync(reply))
            .map_err(|_| StoreError::Backend("the sequencer has stopped".into()))?;
        receive
            .recv()
            .map_err(|_| StoreError::Backend("the sequencer has stopped".into()))?
    }

    /// Starts a new shard between two batches. Waits for room in the pool.
    pub async fn rotate(&self) -> Result<ShardState, SubmitError> {
        let (reply, receive) = oneshot::channel();
        let commands = self.commands.clone();
        tokio::task::spawn_blocking(move || commands.send(Command::Rotate(reply)))
            .await
            .map_err(|_| SubmitError::Stopped)?
            .map_err(|_| SubmitError::Stopped)?;
        receive.await.map_err(|_| SubmitError::Stopped)?
    }
}

/// State owned by the sequencer thread alone.
struct Sequencer {
    config: SequencerConfig,
    store: Arc<dyn LogStore>,
    keys: Arc<LogKeys>,
    entry_signer: Option<Arc<dyn EntrySigner>>,
    view: SharedView,
    metrics: Arc<Metrics>,
    /// The active shard, its tree's right edge and its checkpoint, always
    /// equal to what is committed: the next batch's compare-and-swap base.
    shard: ShardInfo,
    edge: RightEdge,
    checkpoint: StoredCheckpoint,
    /// Inner tile nodes the edge's batch proofs hashed; replaced with `edge`
    /// whenever that becomes another tree's.
    proof_memo: ProofMemo,
    /// Shared with every handle; see `SequencerHandle::is_writable`.
    writable: Arc<AtomicBool>,
}

/// How often an idle sequencer retries a store that could not write.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the sequencer thread for the active (last) shard of `view`.
pub fn start(
    config: SequencerConfig,
    store: Arc<dyn LogStore>,
    keys: Arc<LogKeys>,
    entry_signer: Option<Arc<dyn EntrySigner>>,
    view: SharedView,
    metrics: Arc<Metrics>,
) -> Result<SequencerHandle, StoreError> {
    let current = view.load_full();
    let active = current
        .active()
        .ok_or_else(|| StoreError::Corrupt("log has no shard".into()))?
        .clone();
    let shard = active.info.clone();
    let edge = load_edge(&store, &active)?;
    let (commands, receiver) = std::sync::mpsc::sync_channel(config.pool_size);
    let writable = Arc::new(AtomicBool::new(true));
    let sequencer = Sequencer {
        config,
        store,
        keys,
        entry_signer,
        view,
        metrics,
        shard,
        edge,
        proof_memo: ProofMemo::default(),
        checkpoint: active.checkpoint,
        writable: writable.clone(),
    };
    std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || sequencer.run(receiver))
        .map_err(|e| StoreError::Backend(format!("starting the sequencer: {e}")))?;
    Ok(SequencerHandle { commands, writable })
}

/// The right edge of a shard's stored tree, checked against its checkpoint.
fn load_edge(store: &Arc<dyn LogStore>, shard: &ShardState) -> Result<RightEdge, StoreError> {
    let tiles = store.clone();
    let ordinal = shard.info.ordinal;
    let edge = RightEdge::load(shard.checkpoint.size, &move |level, index| {
        tiles.read_tile(ordinal, level, index)
    })
    .map_err(|e| StoreError::Corrupt(format!("loading the right edge: {e}")))?;
    if edge.root() != shard.checkpoint.root {
        return Err(StoreError::Corrupt(format!(
            "stored tiles of shard {ordinal} do not hash to its checkpoint"
        )));
    }
    Ok(edge)
}

impl Sequencer {
    fn run(mut self, commands: Receiver<Command>) {
        loop {
            // While the store cannot write, wake up now and then to retry it,
            // so writes resume (and /readyz recovers) without a submission.
            let first = if self.writable.load(Ordering::Acquire) {
                commands.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                commands.recv_timeout(RECOVERY_INTERVAL)
            };
            let first = match first {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    self.recover();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = Vec::new();
            let mut rotate = None;
            match first {
                Command::Submit(entry, reply) => batch.push((entry, reply)),
                Command::Rotate(reply) => rotate = Some(reply),
                Command::Resync(reply) => {
                    let resynced = self.resync();
                    if resynced.is_ok() {
                        self.writable.store(true, Ordering::Release);
                    }
                    let _ = reply.send(resynced);
                    continue;
                }
            }
            let deadline = Instant::now() + self.config.max_age;
            while rotate.is_none() && !batch.is_empty() && batch.len() < self.config.max_size {
                let wait = deadline.saturating_duration_since(Instant::now());
                match commands.recv_timeout(wait) {
                    Ok(Command::Submit(entry, reply)) => batch.push((entry, reply)),
                    Ok(Command::Rotate(reply)) => rotate = Some(reply),
                    // Answered without resyncing: the caller asks again.
                    Ok(Command::Resync(reply)) => {
                        let _ = reply.send(Err(StoreError::Unavailable(
                            "a batch was being gathered".into(),
                        )));
                    }
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            if !self.writable.load(Ordering::Acquire) {
                self.recover();
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

    fn integrate(&mut self, batch: Vec<(Submission, Reply)>) {
        let started = Instant::now();
        let integrated_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let first_index = self.shard.start + self.edge.size();

        // What the store holds already, for the whole batch in two lookups.
        let leaf_hashes: Vec<[u8; 32]> = batch
            .iter()
            .map(|(entry, _)| merkle::leaf_hash(&entry.leaf))
            .collect();
        let stored = match self.stored_duplicates(&batch, &leaf_hashes) {
            Ok(stored) => stored,
            Err(err) => {
                let message = err.to_string();
                let unavailable = matches!(err, StoreError::Unavailable(_));
                for (_, reply) in batch {
                    let _ = reply.send(Err(SubmitError::Store(if unavailable {
                        StoreError::Unavailable(message.clone())
                    } else {
                        StoreError::Backend(message.clone())
                    })));
                }
                return;
            }
        };

        // Drop duplicates: of entries already stored, and of earlier entries in this batch.
        let mut accepted: Vec<(NewEntry, Reply)> = Vec::with_capacity(batch.len());
        let mut in_batch: HashMap<[u8; 32], usize> = HashMap::new();
        let mut repeats: Vec<(usize, Reply)> = Vec::new();
        // Entries that name a dedup key (a CT certificate without its
        // timestamp) are also duplicates of an earlier one with that key.
        let mut keys_in_batch: HashMap<String, usize> = HashMap::new();
        for (((entry, reply), leaf_hash), stored) in batch.into_iter().zip(leaf_hashes).zip(stored)
        {
            let earlier = in_batch.get(&leaf_hash).or_else(|| {
                entry
                    .dedup_key
                    .as_ref()
                    .and_then(|key| keys_in_batch.get(key))
            });
            if let Some(&position) = earlier {
                repeats.push((position, reply));
                continue;
            }
            if let Some(index) = stored {
                self.metrics.duplicates.inc();
                let _ = reply.send(Err(SubmitError::Duplicate(index)));
                continue;
            }
            let index = first_index + accepted.len() as u64;
            let receipt = match self.sign_entry(&entry.leaf, integrated_time, index) {
                Ok(receipt) => receipt,
                Err(err) => {
                    let _ = reply.send(Err(err.into()));
                    continue;
                }
            };
            // Only an entry that made it into the batch is one later copies repeat.
            in_batch.insert(leaf_hash, accepted.len());
            if let Some(key) = &entry.dedup_key {
                keys_in_batch.insert(key.clone(), accepted.len());
            }
            accepted.push((
                NewEntry {
                    entry: StoredEntry {
                        body: entry.leaf,
                        integrated_time,
                        receipt,
                        extra: entry.extra,
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
                match &err {
                    SubmitError::Store(StoreError::Fenced { .. }) => {
                        self.metrics.fence_refusals.inc()
                    }
                    SubmitError::Store(
                        StoreError::CheckpointConflict { .. }
                        | StoreError::CheckpointRegression { .. },
                    ) => self.metrics.cas_refusals.inc(),
                    _ => {}
                }
                // A refused compare-and-swap means the store moved under
                // us: stop writing until `recover` has resynced with it.
                let unavailable = matches!(
                    err,
                    SubmitError::Store(
                        StoreError::Unavailable(_)
                            | StoreError::CheckpointConflict { .. }
                            | StoreError::CheckpointRegression { .. }
                            | StoreError::Fenced { .. }
                    )
                );
                if unavailable {
                    self.writable.store(false, Ordering::Release);
                }
                let message = err.to_string();
                for reply in replies
                    .into_iter()
                    .chain(repeats.into_iter().map(|(_, r)| r))
                {
                    let failure = match &err {
                        SubmitError::Sign(sign) => SubmitError::Sign(sign.clone()),
                        _ if unavailable => {
                            SubmitError::Store(StoreError::Unavailable(message.clone()))
                        }
                        _ => SubmitError::Store(StoreError::Backend(message.clone())),
                    };
                    let _ = reply.send(Err(failure));
                }
                return;
            }
        };
        let checkpoint = Arc::new(batch.checkpoint);
        self.checkpoint = (*checkpoint).clone();
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

        let proofs = match self.edge.batch_proofs_with(
            &batch.tiles,
            old_size..self.edge.size(),
            &mut self.proof_memo,
        ) {
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
    fn commit(&mut self, first_index: u64, entries: Vec<NewEntry>) -> Result<Batch, SubmitError> {
        let previous_edge = self.edge.clone();
        let leaves: Vec<[u8; 32]> = entries.iter().map(|e| e.leaf_hash).collect();
        let tiles = self.edge.append(&leaves);
        let committed = self
            .sign_checkpoint()
            .map_err(SubmitError::from)
            .and_then(|checkpoint| {
                let batch = Batch {
                    shard: self.shard.ordinal,
                    first_index,
                    entries,
                    tiles,
                    previous: self.checkpoint.clone(),
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

    /// For each entry of the batch, the index of a stored entry it would
    /// duplicate: the same leaf, or the same dedup key. One lookup of all
    /// the leaves and one of all the keys, whatever the batch's size.
    fn stored_duplicates(
        &self,
        batch: &[(Submission, Reply)],
        leaf_hashes: &[[u8; 32]],
    ) -> Result<Vec<Option<u64>>, StoreError> {
        let mut found = self.store.find_leaves(leaf_hashes)?;
        let keyed: Vec<(usize, &str)> = batch
            .iter()
            .enumerate()
            .filter(|(position, _)| found[*position].is_none())
            .filter_map(|(position, (entry, _))| Some((position, entry.dedup_key.as_deref()?)))
            .collect();
        if !keyed.is_empty() {
            let keys: Vec<&str> = keyed.iter().map(|(_, key)| *key).collect();
            for ((position, _), index) in keyed.iter().zip(self.store.first_filed(&keys)?) {
                found[*position] = index;
            }
        }
        Ok(found)
    }

    /// Makes the store writable again after a failed commit, and brings the
    /// tree in memory back in line with what it holds: a commit that failed
    /// late (its fsync) may still have reached the disk.
    fn recover(&mut self) {
        if let Err(err) = self.store.recover().and_then(|()| self.resync()) {
            tracing::warn!(%err, "the store still cannot write");
            return;
        }
        self.writable.store(true, Ordering::Release);
        tracing::info!("the store commits again");
    }

    /// Reloads the active (last stored) shard's right edge if the stored
    /// checkpoint is not the one in memory, and publishes the stored shards.
    /// The stored tree is adopted only if its tiles hash to its checkpoint.
    fn resync(&mut self) -> Result<(), StoreError> {
        let shards = self.store.shards()?;
        let Some(stored) = shards.last() else {
            return Err(StoreError::Corrupt("the store holds no shard".into()));
        };
        if stored.info == self.shard && stored.checkpoint == self.checkpoint {
            return Ok(());
        }
        let edge = load_edge(&self.store, stored)?;
        tracing::warn!(
            size = stored.checkpoint.size,
            "the stored tree is not the one in memory (another replica wrote, or a batch reported as failed was committed); adopting it"
        );
        self.shard = stored.info.clone();
        self.edge = edge;
        self.proof_memo = ProofMemo::default();
        self.checkpoint = stored.checkpoint.clone();
        self.metrics.tree_size.set(self.edge.size() as i64);
        self.view.store(Arc::new(LogView { shards }));
        Ok(())
    }

    /// The personality's signature of an entry, or nothing without a signer.
    fn sign_entry(
        &self,
        leaf: &[u8],
        integrated_time: i64,
        index: u64,
    ) -> Result<Vec<u8>, SignError> {
        let Some(signer) = &self.entry_signer else {
            return Ok(Vec::new());
        };
        let receipt = signer.sign_entry(Integrated {
            leaf,
            integrated_time,
            index,
        })?;
        if receipt.len() > MAX_RECEIPT_BYTES {
            return Err(SignError::TooLong {
                what: "an entry signature",
                len: receipt.len(),
                max: MAX_RECEIPT_BYTES,
            });
        }
        Ok(receipt)
    }

    fn sign_checkpoint(&self) -> Result<StoredCheckpoint, SignError> {
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
    fn rotate(&mut self) -> Result<ShardState, SubmitError> {
        let start = self.shard.start + self.edge.size();
        let tree_id = new_tree_id();
        let info = ShardInfo {
            ordinal: self.shard.ordinal + 1,
            tree_id,
            start,
            origin: self.config.origin.origin(&self.config.hostname, tree_id),
        };
        let checkpoint =
            self.keys
                .checkpoint(&info.origin, 0, merkle::RightEdge::empty().root())?;
        let state = ShardState { info, checkpoint };
        self.store.create_shard(&state)?;
        self.shard = state.info.clone();
        self.edge = RightEdge::empty();
        self.proof_memo = ProofMemo::default();
        self.checkpoint = state.checkpoint.clone();
        let current = self.view.load_full();
        let mut shards = current.shards.clone();
        shards.push(state.clone());
        self.view.store(Arc::new(LogView { shards }));
        self.metrics.tree_size.set(0);
        tracing::info!(tree_id, start, "started a new shard");
        Ok(state)
    }
}

#[cfg(test)]
mod tests;
