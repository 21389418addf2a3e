//! The PostgreSQL store against the test cluster (`scripts/services`;
//! `ATESTO_TEST_POSTGRES`): the storage contract, and what only a shared
//! database adds: two stores (two replicas) on one log, duplicates refused
//! across them, one root per size, a reopen keeping everything.

use std::sync::{Arc, Barrier};

use super::*;
use crate::store::contract_tests::{self, batch, checkpoint, shard};

/// The admin URL of the test cluster; a PostgreSQL test fails without it.
pub fn test_database() -> String {
    std::env::var("ATESTO_TEST_POSTGRES").expect(
        "ATESTO_TEST_POSTGRES is unset: run the tests with scripts/test (scripts/services starts PostgreSQL)",
    )
}

/// A schema no other test uses.
pub fn fresh_schema() -> String {
    format!("t_{:016x}", rand::random::<u64>())
}

fn open(schema: &str) -> PostgresStore {
    PostgresStore::open(&test_database(), schema, 4).unwrap()
}

#[test]
fn keeps_the_storage_contract() {
    contract_tests::batches_round_trip_and_checkpoint_never_shrinks(&open(&fresh_schema()));
    contract_tests::a_batch_on_another_checkpoint_is_refused_and_writes_nothing(&open(
        &fresh_schema(),
    ));
    contract_tests::filed_keys_join_the_index_and_the_marker_moves(&open(&fresh_schema()));
    contract_tests::proof_reads_answer_tiles_whole_or_in_part(&open(&fresh_schema()));
}

#[test]
fn a_proof_read_is_planned_once_per_connection() {
    let store = open(&fresh_schema());
    store.create_shard(&shard(0, 0)).unwrap();
    store.commit_batch(&batch(0, 1)).unwrap();
    // More executions than the server's five custom plans before it
    // weighs a generic one.
    for _ in 0..8 {
        let (entry, tiles) = store
            .read_entry_and_tiles(0, 0, &[TileRead::whole((0, 0))])
            .unwrap();
        assert!(entry.is_some() && tiles[0].is_some());
    }
    let plans = store
        .pool
        .with(|client| {
            client
                .query_one(
                    "SELECT coalesce(sum(generic_plans), 0)::int8, coalesce(sum(custom_plans), 0)::int8 \
                     FROM pg_prepared_statements WHERE statement LIKE '%FROM entries WHERE idx = $1%'",
                    &[],
                )
                .map_err(backend)
        })
        .unwrap();
    let (generic, custom): (i64, i64) = (plans.get(0), plans.get(1));
    assert!(
        generic >= 8 && custom == 0,
        "executions with a generic plan: {generic}, with a custom plan: {custom}"
    );
}

/// The entry GET's async read returns what the blocking one does, and
/// opens new connections by itself after the server has ended its own.
#[test]
fn the_async_proof_read_answers_as_the_blocking_one_and_outlives_its_connections() {
    // Its own application name: the test ends only this store's sessions.
    let name = fresh_schema();
    let url = format!("{}?application_name={name}", test_database());
    let store = PostgresStore::open(&url, &fresh_schema(), 4).unwrap();
    store.create_shard(&shard(0, 0)).unwrap();
    for first in 0..3 {
        store.commit_batch(&batch(first, first + 1)).unwrap();
    }
    // One thread, which runs the connections' tasks only inside a read:
    // the next read after the sessions end is sent on a dead connection.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let read_async = |index: u64, wanted: &[TileRead]| {
        runtime.block_on(async {
            let reading = store.read_entry_and_tiles_async(index, 0, wanted).unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(10), reading)
                .await
                .expect("the read must not hang")
        })
    };
    let mut wanted: Vec<_> = [(0, 0), (0, 7), (1, 0)].map(TileRead::whole).into();
    wanted.push(TileRead {
        level: 0,
        index: 0,
        hashes: Some(0..1),
    });
    for round in 0..3 {
        // Every slot's connection in use, then all of them ended.
        for index in [0, 2, 3, 1, 0, 2, 3, 1] {
            let (entry, tiles) = read_async(index, &wanted).unwrap();
            let (expected, expected_tiles) = store.read_entry_and_tiles(index, 0, &wanted).unwrap();
            assert_eq!(entry, expected, "round {round}, index {index}");
            assert_eq!(tiles, expected_tiles);
            assert_eq!(entry.is_some(), index < 3);
            assert!(tiles[0].is_some() && tiles[1].is_none() && tiles[2].is_none());
            assert_eq!(tiles[3].as_ref().map(Vec::len), Some(32));
        }
        let sessions = |sql: &'static str| -> i64 {
            let row = store
                .pool
                .with(|client| client.query_one(sql, &[&name]).map_err(backend));
            row.unwrap().get(0)
        };
        let ended = sessions(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
        );
        assert!(ended >= 4, "round {round}: {ended} sessions ended");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sessions(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
        ) > 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the sessions did not end"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[test]
fn a_reopened_store_and_a_second_store_see_the_same_log() {
    let schema = fresh_schema();
    let first = open(&schema);
    first.create_shard(&shard(0, 0)).unwrap();
    first.commit_batch(&batch(0, 1)).unwrap();
    drop(first);
    // Opening applies the schema again: idempotent.
    let reopened = open(&schema);
    let other = open(&schema);
    assert_eq!(reopened.shards().unwrap()[0].checkpoint, checkpoint(1));
    other.commit_batch(&batch(1, 2)).unwrap();
    assert_eq!(reopened.shards().unwrap()[0].checkpoint, checkpoint(2));
    assert_eq!(reopened.read_entries(0..9).unwrap().len(), 2);
    // Another schema in the same database is another log.
    assert!(open(&fresh_schema()).shards().unwrap().is_empty());
}

#[test]
fn racing_writers_on_one_base_commit_exactly_once() {
    let schema = fresh_schema();
    let setup = open(&schema);
    setup.create_shard(&shard(0, 0)).unwrap();
    setup.commit_batch(&batch(0, 1)).unwrap();
    let writers = 4;
    let barrier = Arc::new(Barrier::new(writers));
    let results: Vec<_> = (0..writers)
        .map(|writer| {
            let (barrier, schema) = (barrier.clone(), schema.clone());
            std::thread::spawn(move || {
                let store = open(&schema);
                // Every writer extends size 1 to size 2, each with its own root.
                let mut mine = batch(1, 2);
                mine.entries[0].leaf_hash = [0x10 + writer as u8; 32];
                mine.checkpoint.root = [0x20 + writer as u8; 32];
                barrier.wait();
                store.commit_batch(&mine)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    let committed = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(committed, 1, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(refused, StoreError::CheckpointConflict { stored: 2, .. }),
            "{refused}"
        );
    }
    assert_eq!(setup.read_entries(0..9).unwrap().len(), 2);
    let roots: i64 = setup
        .pool
        .with(|c| {
            Ok(
                c.query_one("SELECT count(*) FROM checkpoints WHERE size = 2", &[])
                    .map_err(backend)?
                    .get(0),
            )
        })
        .unwrap();
    assert_eq!(roots, 1);
}

#[test]
fn a_leaf_stored_by_one_writer_cannot_be_stored_again_and_nothing_else_lands() {
    let store = open(&fresh_schema());
    store.create_shard(&shard(0, 0)).unwrap();
    store.commit_batch(&batch(0, 1)).unwrap();
    // A well-based batch repeating the stored leaf: the unique key refuses
    // the whole transaction.
    let mut repeat = batch(1, 2);
    repeat.entries[0].leaf_hash = [0; 32];
    assert!(matches!(
        store.commit_batch(&repeat),
        Err(StoreError::Backend(_))
    ));
    assert_eq!(store.shards().unwrap()[0].checkpoint, checkpoint(1));
    assert_eq!(store.read_entries(0..9).unwrap().len(), 1);
    // The batch with a new leaf commits.
    store.commit_batch(&batch(1, 2)).unwrap();
    assert_eq!(store.find_leaf(&[1; 32]).unwrap(), Some(1));
}

#[test]
fn a_server_that_cannot_be_reached_is_unavailable_and_bad_names_are_refused() {
    let unreachable = "postgres://atesto@127.0.0.1:1/none?connect_timeout=2";
    assert!(matches!(
        PostgresStore::open(unreachable, "tlog", 1),
        Err(StoreError::Unavailable(_))
    ));
    for bad in ["", "Tlog", "1tlog", "tlog;drop", "a-b"] {
        assert!(!valid_schema_name(bad), "{bad}");
        assert!(PostgresStore::open(&test_database(), bad, 1).is_err());
    }
    assert!(valid_schema_name("rekor_v1"));
}

#[test]
fn only_the_lease_holder_commits_and_a_stale_holder_is_fenced_after_a_takeover() {
    use crate::store::{Candidate, Coordinator};
    use std::time::Duration;

    let schema = fresh_schema();
    let (first, second) = (open(&schema), open(&schema));
    first.create_shard(&shard(0, 0)).unwrap();
    let candidate = |id: &str, ttl_ms| Candidate {
        id: id.into(),
        url: format!("http://{id}"),
        ttl: Duration::from_millis(ttl_ms),
    };
    let lease = first.claim(&candidate("a", 300)).unwrap();
    assert!(lease.mine);
    let seen = second.claim(&candidate("b", 300)).unwrap();
    assert!(!seen.mine);
    assert_eq!((seen.epoch, seen.url.as_str()), (lease.epoch, "http://a"));

    // The follower cannot write; the holder can.
    assert!(matches!(
        second.commit_batch(&batch(0, 1)),
        Err(StoreError::Fenced { held: 0, .. })
    ));
    first.commit_batch(&batch(0, 1)).unwrap();
    // Renewal keeps the epoch.
    assert_eq!(
        first.claim(&candidate("a", 300)).unwrap().epoch,
        lease.epoch
    );

    // The holder stalls past its term: the other takes over, and the stale
    // holder's next batch, however well built, is refused.
    std::thread::sleep(Duration::from_millis(400));
    let taken = second.claim(&candidate("b", 300)).unwrap();
    assert!(taken.mine);
    assert_eq!(taken.epoch, lease.epoch + 1);
    assert!(matches!(
        first.commit_batch(&batch(1, 2)),
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(first.shards().unwrap()[0].checkpoint, checkpoint(1));
    second.commit_batch(&batch(1, 2)).unwrap();
    // The old holder learns it on its next claim.
    assert!(!first.claim(&candidate("a", 300)).unwrap().mine);
}

#[test]
fn the_holder_renews_behind_a_long_commit_while_a_contender_gives_up() {
    use crate::store::{Candidate, Coordinator};
    use std::time::{Duration, Instant};

    let schema = fresh_schema();
    let (holder, contender) = (open(&schema), open(&schema));
    let candidate = |id: &str| Candidate {
        id: id.into(),
        url: format!("http://{id}"),
        ttl: Duration::from_secs(4),
    };
    assert!(holder.claim(&candidate("a")).unwrap().mine);
    // A commit in flight holds the lease row's share lock (as `write_batch`
    // does) for 1.2 s, longer than a contender waits.
    let locked = Arc::new(Barrier::new(2));
    let holding = locked.clone();
    let release = std::thread::spawn(move || {
        let mut committer = postgres::Client::connect(&test_database(), postgres::NoTls).unwrap();
        committer
            .batch_execute(&format!("SET search_path TO {schema}"))
            .unwrap();
        let mut commit = committer.transaction().unwrap();
        commit
            .query_one("SELECT epoch FROM lease FOR SHARE", &[])
            .unwrap();
        holding.wait();
        std::thread::sleep(Duration::from_millis(1200));
        commit.commit().unwrap();
    });
    locked.wait();
    let started = Instant::now();
    assert!(contender.claim(&candidate("b")).is_err());
    assert!(started.elapsed() < Duration::from_millis(1100));
    // The holder's renewal waits for the commit instead of failing.
    let renewed = holder.claim(&candidate("a")).unwrap();
    assert!(renewed.mine);
    assert!(started.elapsed() >= Duration::from_millis(1100));
    release.join().unwrap();
}
