//! `Log`'s wiring over the in-memory store: the first shard, reopening,
//! reads by index, leaf and key, and rotation; and the async entry read
//! over PostgreSQL.

use std::sync::Arc;

use atesto_common::keys::{KeyType, PrivateKey};

use super::Log;
use crate::checkpoint::LogKeys;
use crate::config::{BatchConfig, LogOptions, OriginStyle, ReplicaConfig, ShardConfig};
use crate::merkle;
use crate::store::LogStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::{PostgresStore, tests as postgres_tests};
use crate::submission::Submission;

fn options() -> LogOptions {
    LogOptions {
        hostname: "log.test".into(),
        origin: OriginStyle::HostnameAndTreeId,
        tree_id: Some(42),
        batch: BatchConfig::default(),
        shards: ShardConfig::default(),
        replica: ReplicaConfig::default().options("127.0.0.1:1"),
    }
}

fn start(store: Arc<dyn LogStore>) -> Log {
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let keys = Arc::new(LogKeys::new("log.test", key, None).unwrap());
    Log::start(store, keys, None, &options()).unwrap()
}

fn submission(leaf: &[u8], key: &str) -> Submission {
    Submission {
        leaf: leaf.to_vec(),
        extra: b"beside".to_vec(),
        index_keys: vec![key.into()],
        dedup_key: None,
    }
}

#[tokio::test]
async fn a_new_store_gets_its_first_shard_once() {
    let store = Arc::new(MemoryStore::new());
    let log = start(store.clone());
    let view = log.view();
    let active = view.active().unwrap();
    assert_eq!(active.info.tree_id, 42);
    assert_eq!(active.info.origin, "log.test - 42");
    assert_eq!(active.checkpoint.size, 0);
    assert!(active.checkpoint.note.starts_with("log.test - 42\n0\n"));
    assert!(log.is_writable());
    log.check_store().unwrap();

    log.submit(submission(b"a", "k"))
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    drop(log);
    // Started again on the same store: the same shard, its tree kept.
    let again = start(store.clone());
    assert_eq!(store.shards().unwrap().len(), 1);
    assert_eq!(again.view().total_size(), 1);
}

#[tokio::test]
async fn entries_are_read_by_index_leaf_and_key_with_proofs() {
    let log = start(Arc::new(MemoryStore::new()));
    for leaf in [b"a", b"b", b"c"] {
        log.submit(submission(leaf, "shared"))
            .unwrap()
            .await
            .unwrap()
            .unwrap();
    }
    let b = log.entry_at(1).unwrap().unwrap();
    assert_eq!(b.entry.body, b"b");
    assert_eq!(b.entry.extra, b"beside");
    assert_eq!(b.checkpoint.size, 3);
    assert_eq!(
        b.entry_id(),
        format!("{:016x}{}", 42, hex::encode(merkle::leaf_hash(b"b")))
    );
    let source = log.tile_source(0);
    assert_eq!(b.proof, merkle::inclusion_proof(&source, 3, 1).unwrap());
    assert!(log.entry_at(3).unwrap().is_none());

    let leaf = merkle::leaf_hash(b"c");
    assert_eq!(log.find_leaf(&leaf).unwrap(), Some(2));
    assert_eq!(log.entry_by_leaf(&leaf, None).unwrap().unwrap().index, 2);
    assert_eq!(
        log.entry_by_leaf(&leaf, Some(42)).unwrap().unwrap().index,
        2
    );
    assert!(log.entry_by_leaf(&leaf, Some(43)).unwrap().is_none());
    assert_eq!(log.search("shared").unwrap(), vec![0, 1, 2]);
    assert_eq!(log.read_entries(1..9).unwrap().len(), 2);
}

#[tokio::test]
async fn rotation_starts_a_tree_after_the_last_entry_and_old_entries_stay_proven() {
    let log = start(Arc::new(MemoryStore::new()));
    for leaf in [b"a", b"b"] {
        log.submit(submission(leaf, "k"))
            .unwrap()
            .await
            .unwrap()
            .unwrap();
    }
    let new = log.rotate().await.unwrap();
    assert_eq!(new.info.ordinal, 1);
    assert_eq!(new.info.start, 2);
    assert_ne!(new.info.tree_id, 42);
    let next = log
        .submit(submission(b"c", "k"))
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.index, 2);
    assert_eq!(next.index_in_shard(), 0);

    let view = log.view();
    assert_eq!(view.inactive().len(), 1);
    assert_eq!(view.total_size(), 3);
    let old = log.entry_at(1).unwrap().unwrap();
    assert_eq!(old.shard.tree_id, 42);
    assert_eq!(old.checkpoint.size, 2);
}

/// Over PostgreSQL, whose client reads without a blocking thread,
/// `entry_at_async` answers as `entry_at`: on a cold cache (the proof
/// hashed on a blocking thread), then a warm one (the proof on the task),
/// in a tree with full and partial level-0 tiles; and on an in-memory
/// store, whose reads block.
#[test]
fn the_async_entry_read_proves_as_the_blocking_one() {
    let store = PostgresStore::open(
        &postgres_tests::test_database(),
        &postgres_tests::fresh_schema(),
        4,
    )
    .unwrap();
    let stores: [Arc<dyn LogStore>; 2] = [Arc::new(store), Arc::new(MemoryStore::new())];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for store in stores {
        let log = Arc::new(start(store));
        let pending: Vec<_> = (0..600u32)
            .map(|i| log.submit(submission(&i.to_be_bytes(), "k")).unwrap())
            .collect();
        for reply in pending {
            reply.blocking_recv().unwrap().unwrap();
        }
        for round in ["cold", "warm"] {
            for index in [0, 1, 255, 256, 300, 511, 512, 599, 600] {
                let read = log.clone();
                let answer = runtime
                    .block_on(async move { read.entry_at_async(index).await })
                    .unwrap();
                let expected = log.entry_at(index).unwrap();
                let key = |e: Option<crate::view::ProvenEntry>| {
                    e.map(|e| (e.index, e.entry, e.proof, e.checkpoint.size))
                };
                assert_eq!(key(answer), key(expected), "{round}, index {index}");
            }
        }
    }
}
