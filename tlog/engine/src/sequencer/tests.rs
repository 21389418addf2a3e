//! The sequencer against the in-memory store: batching and duplicates,
//! commits that fail before or after writing, a restart, and a
//! compare-and-swap the store refuses.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use atesto_common::keys::{KeyType, PrivateKey};

use super::{SequencerConfig, SequencerHandle, SubmitError, start};
use crate::checkpoint::{LogKeys, SignError};
use crate::config::OriginStyle;
use crate::merkle::{self, RightEdge};
use crate::metrics::Metrics;
use crate::store::memory::{Failure, MemoryStore};
use crate::store::postgres::{PostgresStore, tests as postgres_tests};
use crate::store::{LogStore, ShardInfo, ShardState, StoreError};
use crate::submission::{EntrySigner, Integrated, Submission};
use crate::view::{LogView, ProvenEntry, SharedView};

struct Running<S: LogStore = MemoryStore> {
    store: Arc<S>,
    view: SharedView,
    handle: SequencerHandle,
}

fn keys() -> Arc<LogKeys> {
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    Arc::new(LogKeys::new("log.test", key, None).unwrap())
}

fn config(max_size: usize, max_age: Duration) -> SequencerConfig {
    SequencerConfig {
        max_size,
        max_age,
        pool_size: 64,
        rotate_at_size: None,
        hostname: "log.test".into(),
        origin: OriginStyle::HostnameAndTreeId,
    }
}

/// Starts a sequencer on `store`, creating its first shard if it has none.
fn start_on<S: LogStore>(
    store: Arc<S>,
    config: SequencerConfig,
    signer: Option<Arc<dyn EntrySigner>>,
) -> Running<S> {
    start_with_keys(store, config, signer, keys())
}

/// As `start_on`, signing with `keys` (replicas of one log share them).
fn start_with_keys<S: LogStore>(
    store: Arc<S>,
    config: SequencerConfig,
    signer: Option<Arc<dyn EntrySigner>>,
    keys: Arc<LogKeys>,
) -> Running<S> {
    if store.shards().unwrap().is_empty() {
        let info = ShardInfo {
            ordinal: 0,
            tree_id: 7,
            start: 0,
            origin: "log.test - 7".into(),
        };
        let checkpoint = keys
            .checkpoint(&info.origin, 0, RightEdge::empty().root())
            .unwrap();
        store
            .create_shard(&ShardState { info, checkpoint })
            .unwrap();
    }
    let shards = store.shards().unwrap();
    let view: SharedView = Arc::new(ArcSwap::from_pointee(LogView { shards }));
    let metrics = Arc::new(Metrics::new().unwrap());
    let handle = start(config, store.clone(), keys, signer, view.clone(), metrics).unwrap();
    Running {
        store,
        view,
        handle,
    }
}

/// A sequencer on an empty store, committing each entry as it comes.
fn fresh() -> Running {
    start_on(
        Arc::new(MemoryStore::new()),
        config(16, Duration::ZERO),
        None,
    )
}

fn entry(leaf: &[u8]) -> Submission {
    Submission {
        leaf: leaf.to_vec(),
        extra: Vec::new(),
        index_keys: Vec::new(),
        dedup_key: None,
    }
}

fn keyed(leaf: &[u8], key: &str) -> Submission {
    Submission {
        index_keys: vec![key.into()],
        dedup_key: Some(key.into()),
        ..entry(leaf)
    }
}

impl<S: LogStore> Running<S> {
    fn submit(&self, submission: Submission) -> Result<ProvenEntry, SubmitError> {
        self.handle.submit(submission)?.blocking_recv().unwrap()
    }

    /// Queues all the submissions before waiting for any reply.
    fn submit_all(
        &self,
        submissions: impl IntoIterator<Item = Submission>,
    ) -> Vec<Result<ProvenEntry, SubmitError>> {
        let pending: Vec<_> = submissions
            .into_iter()
            .map(|s| self.handle.submit(s).unwrap())
            .collect();
        pending
            .into_iter()
            .map(|p| p.blocking_recv().unwrap())
            .collect()
    }

    fn published(&self) -> ShardState {
        self.view.load().active().unwrap().clone()
    }
}

/// The root of a tree of these leaves.
fn root_of(leaves: &[&[u8]]) -> [u8; 32] {
    let mut edge = RightEdge::empty();
    let hashes: Vec<[u8; 32]> = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
    edge.append(&hashes);
    edge.root()
}

#[test]
fn entries_are_answered_after_their_commit_with_a_proof_against_the_published_tree() {
    answers_after_commit(&fresh());
}

fn answers_after_commit<S: LogStore>(log: &Running<S>) {
    for (expected, leaf) in [b"a", b"b", b"c"].iter().enumerate() {
        let proven = log.submit(entry(*leaf)).unwrap();
        assert_eq!(proven.index, expected as u64);
        assert_eq!(proven.checkpoint.size, expected as u64 + 1);
        let source = |level, index| log.store.read_tile(0, level, index);
        let proof = merkle::inclusion_proof(&source, proven.checkpoint.size, proven.index).unwrap();
        assert_eq!(proven.proof, proof);
    }
    let published = log.published();
    assert_eq!(published.checkpoint.size, 3);
    assert_eq!(published.checkpoint.root, root_of(&[b"a", b"b", b"c"]));
    assert_eq!(
        log.store.shards().unwrap()[0].checkpoint,
        published.checkpoint
    );
}

#[test]
fn duplicates_within_a_batch_and_of_stored_entries_point_at_the_first_copy() {
    // One batch of four: it waits up to a second for the fourth.
    let log = start_on(
        Arc::new(MemoryStore::new()),
        config(4, Duration::from_secs(1)),
        None,
    );
    let replies = log.submit_all([
        entry(b"a"),
        entry(b"a"),
        keyed(b"cert at t1", "cert"),
        keyed(b"cert at t2", "cert"),
    ]);
    assert_eq!(replies[0].as_ref().unwrap().index, 0);
    assert!(matches!(replies[1], Err(SubmitError::Duplicate(0))));
    assert_eq!(replies[2].as_ref().unwrap().index, 1);
    assert!(matches!(replies[3], Err(SubmitError::Duplicate(1))));
    assert_eq!(log.store.commits().unwrap(), 1, "one batch");
    assert_eq!(log.published().checkpoint.size, 2);

    // Against the store, in a later batch: the same leaf, the same key.
    assert!(matches!(
        log.submit(entry(b"a")),
        Err(SubmitError::Duplicate(0))
    ));
    assert!(matches!(
        log.submit(keyed(b"cert at t3", "cert")),
        Err(SubmitError::Duplicate(1))
    ));
    // And an entry unlike any other is still taken.
    assert_eq!(log.submit(entry(b"b")).unwrap().index, 2);
}

#[test]
fn a_commit_that_fails_before_writing_restores_the_edge() {
    let log = fresh();
    log.submit(entry(b"a")).unwrap();
    log.store.fail_commit(1, Failure::BeforeWrite).unwrap();

    let failed = log.submit(entry(b"lost")).unwrap_err();
    assert!(
        matches!(failed, SubmitError::Store(StoreError::Unavailable(_))),
        "{failed}"
    );
    assert!(!log.handle.is_writable());
    assert_eq!(log.published().checkpoint.size, 1);

    // The next submission recovers the store first; its entry takes the
    // index the failed one did not keep, on top of the committed tree.
    let next = log.submit(entry(b"b")).unwrap();
    assert!(log.handle.is_writable());
    assert_eq!(next.index, 1);
    assert_eq!(log.published().checkpoint.root, root_of(&[b"a", b"b"]));
    assert_eq!(log.store.read_entries(0..9).unwrap().len(), 2);
}

#[test]
fn a_commit_that_fails_after_writing_is_published_on_recovery() {
    let log = fresh();
    log.submit(entry(b"a")).unwrap();
    log.store.fail_commit(1, Failure::AfterWrite).unwrap();

    // The submitter hears of a failure, and readers see nothing new...
    assert!(log.submit(entry(b"landed")).is_err());
    assert_eq!(log.published().checkpoint.size, 1);

    // ...but the batch is durable: recovery publishes it, a retry is a
    // duplicate at its index, and the log goes on after it.
    assert!(matches!(
        log.submit(entry(b"landed")),
        Err(SubmitError::Duplicate(1))
    ));
    assert_eq!(log.published().checkpoint.size, 2);
    assert_eq!(log.submit(entry(b"b")).unwrap().index, 2);
    assert_eq!(
        log.published().checkpoint.root,
        root_of(&[b"a", b"landed", b"b"])
    );
}

#[test]
fn a_restart_after_a_crash_between_write_and_reply_resumes_from_the_stored_tree() {
    let store = Arc::new(MemoryStore::new());
    let first = start_on(store.clone(), config(16, Duration::ZERO), None);
    first.submit(entry(b"a")).unwrap();
    store.fail_commit(1, Failure::AfterWrite).unwrap();
    assert!(first.submit(entry(b"written, never answered")).is_err());
    drop(first); // the process dies: every handle gone, the thread stops

    store.recover().unwrap();
    let second = start_on(store, config(16, Duration::ZERO), None);
    assert_eq!(second.published().checkpoint.size, 2);
    let next = second.submit(entry(b"b")).unwrap();
    assert_eq!(next.index, 2);
    assert_eq!(
        next.checkpoint.root,
        root_of(&[b"a", b"written, never answered", b"b"])
    );
}

#[test]
fn a_refused_compare_and_swap_publishes_nothing_and_stops_writes_until_the_store_agrees() {
    let log = fresh();
    log.submit(entry(b"a")).unwrap();
    let ours = log.published();

    // Another writer puts a checkpoint of the same size with another root.
    let mut theirs = ours.clone();
    theirs.checkpoint.root = [0xee; 32];
    theirs.checkpoint.note = "forged".into();
    log.store.overwrite_checkpoint(&theirs).unwrap();

    let refused = log.submit(entry(b"b")).unwrap_err();
    assert!(
        matches!(refused, SubmitError::Store(StoreError::Unavailable(_))),
        "{refused}"
    );
    assert_eq!(log.published(), ours);
    assert!(!log.handle.is_writable());
    // Its tiles do not hash to their checkpoint: the sequencer will not
    // adopt it, and goes on refusing rather than fork.
    assert!(log.submit(entry(b"b")).is_err());
    assert_eq!(log.published(), ours);
    assert_eq!(log.store.read_entries(0..9).unwrap().len(), 1);

    // Once the store holds our checkpoint again, writes resume on it.
    log.store.overwrite_checkpoint(&ours).unwrap();
    assert_eq!(log.submit(entry(b"b")).unwrap().index, 1);
    assert_eq!(log.published().checkpoint.root, root_of(&[b"a", b"b"]));
}

/// Signs `index:time:leaf`, and refuses the leaf `bad`.
struct Stamp;

impl EntrySigner for Stamp {
    fn sign_entry(&self, entry: Integrated<'_>) -> Result<Vec<u8>, SignError> {
        if entry.leaf == b"bad" {
            return Err(SignError::Encoding {
                what: "a test stamp",
                reason: "refused".into(),
            });
        }
        let leaf = String::from_utf8_lossy(entry.leaf);
        Ok(format!("{}:{}:{leaf}", entry.index, entry.integrated_time).into_bytes())
    }
}

#[test]
fn the_entry_signer_signs_each_entry_at_its_index_and_a_refusal_fails_that_entry_only() {
    let log = start_on(
        Arc::new(MemoryStore::new()),
        config(3, Duration::from_secs(1)),
        Some(Arc::new(Stamp)),
    );
    let replies = log.submit_all([entry(b"a"), entry(b"bad"), entry(b"c")]);
    assert!(matches!(replies[1], Err(SubmitError::Sign(_))));
    let c = replies[2].as_ref().unwrap();
    assert_eq!(c.index, 1);
    let time = c.entry.integrated_time;
    assert_eq!(c.entry.receipt, format!("1:{time}:c").into_bytes());
    let stored = log.store.read_entries(0..2).unwrap();
    assert_eq!(stored[0].receipt, format!("0:{time}:a").into_bytes());
}

/// A sequencer on a new log in the test PostgreSQL cluster.
fn on_postgres(schema: &str, keys: Arc<LogKeys>) -> Running<PostgresStore> {
    let store = PostgresStore::open(&postgres_tests::test_database(), schema, 4).unwrap();
    start_with_keys(Arc::new(store), config(16, Duration::ZERO), None, keys)
}

#[test]
fn on_postgres_entries_are_answered_after_their_commit_and_survive_a_restart() {
    let schema = postgres_tests::fresh_schema();
    let keys = keys();
    let log = on_postgres(&schema, keys.clone());
    answers_after_commit(&log);
    assert!(matches!(
        log.submit(entry(b"b")),
        Err(SubmitError::Duplicate(1))
    ));
    drop(log);
    let restarted = on_postgres(&schema, keys);
    assert_eq!(restarted.published().checkpoint.size, 3);
    assert_eq!(restarted.submit(entry(b"d")).unwrap().index, 3);
    assert_eq!(
        restarted.published().checkpoint.root,
        root_of(&[b"a", b"b", b"c", b"d"])
    );
}

#[test]
fn on_postgres_two_sequencers_of_one_log_never_fork_the_stale_one_resyncs() {
    let schema = postgres_tests::fresh_schema();
    let keys = keys();
    let first = on_postgres(&schema, keys.clone());
    first.submit(entry(b"a")).unwrap();
    let second = on_postgres(&schema, keys);
    assert_eq!(second.submit(entry(b"b")).unwrap().index, 1);

    // The first still builds on size 1: refused, nothing published...
    let refused = first.submit(entry(b"c")).unwrap_err();
    assert!(
        matches!(refused, SubmitError::Store(StoreError::Unavailable(_))),
        "{refused}"
    );
    assert_eq!(first.published().checkpoint.size, 1);
    // ...then it adopts the stored tree (its tiles prove it) and goes on.
    assert!(matches!(
        first.submit(entry(b"b")),
        Err(SubmitError::Duplicate(1))
    ));
    assert_eq!(first.submit(entry(b"c")).unwrap().index, 2);
    assert_eq!(
        first.published().checkpoint.root,
        root_of(&[b"a", b"b", b"c"])
    );
    // A duplicate of what the other wrote is found whichever writes.
    assert!(matches!(
        second.submit(entry(b"c")),
        Err(SubmitError::Duplicate(2))
    ));
}
