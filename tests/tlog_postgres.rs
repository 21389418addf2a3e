//! `atesto tlog --database` and `atesto ct --database`: the logs on the
//! test PostgreSQL cluster (scripts/services). The whole HTTP and
//! durability suites also run on PostgreSQL (`ATESTO_TEST_STORE=postgres`,
//! scripts/test); these tests cover what only the database adds: the
//! store is the database (not the data directory), logs share a database
//! in their own schemas, and a database the log cannot reach is refused.

mod support;

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use support::services::fresh_database;
use support::*;

/// A log on `database`, its key and data under `dir/<name>`.
fn start_on(dir: &std::path::Path, name: &str, database: &str, key: &std::path::Path) -> Tlog {
    Tlog::start(
        &dir.join(name),
        &["--database", database, "--key", key.to_str().unwrap()],
    )
}

#[test]
fn the_rekor_api_works_on_postgres_and_the_tree_lives_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database();
    let key_path = dir.path().join("log-key.pem");
    support::ca::keygen(&key_path);
    let mut tlog = start_on(dir.path(), "first", &database, &key_path);
    let key = tlog.public_key();
    let signer = Signer::new();

    // Writes, each answered with a SET and an inclusion proof (checked by
    // `submit`), and the tree heads they name.
    let proposed: Vec<serde_json::Value> = (0..6)
        .map(|i| signer.hashedrekord(format!("pg {i}").as_bytes()))
        .collect();
    let entries: Vec<LogEntry> = proposed.iter().map(|p| tlog.submit(p, &key)).collect();
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry.log_index, i as u64);
    }

    // Reads by index and by uuid, proofs against the current tree.
    for entry in &entries {
        for path in [
            format!("/api/v1/log/entries?logIndex={}", entry.log_index),
            format!("/api/v1/log/entries/{}", entry.id),
        ] {
            let reply = tlog.get(&path);
            assert_eq!(reply.status, 200, "{path}: {}", reply.text);
            let read = LogEntry::from_reply(&reply.text);
            read.verify(&key);
            assert_eq!(
                (read.id.as_str(), &read.body),
                (entry.id.as_str(), &entry.body)
            );
        }
    }

    // The search index: an artifact's digest finds its entry.
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(b"pg 3")));
    let reply = tlog.post("/api/v1/index/retrieve", &json!({ "hash": digest }));
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([entries[3].id]));

    // Consistency between every pair of served heads.
    let heads: Vec<(u64, Hash)> = entries.iter().map(|e| (e.tree_size, e.root)).collect();
    for (i, &first) in heads.iter().enumerate() {
        for &second in &heads[i + 1..] {
            check_consistency(&tlog, None, first, second);
        }
    }

    // Tiles and the checkpoint.
    let leaves: Vec<Hash> = entries.iter().map(LogEntry::leaf_hash).collect();
    let reply = tlog.get("/tile/0/000.p/6");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.bytes, leaves.concat());
    let checkpoint = Checkpoint::parse(&tlog.get("/checkpoint").text);
    checkpoint.verify(&key);
    assert_eq!(
        (checkpoint.size, checkpoint.root),
        (6, merkle_root(&leaves))
    );

    // A duplicate is 409 with the stored entry's location.
    let again = tlog.post("/api/v1/log/entries", &proposed[2]);
    again.expect_error(409);
    assert_eq!(
        again.header("Location"),
        Some(format!("/api/v1/log/entries/{}", entries[2].id).as_str())
    );
    assert_eq!(tlog.get("/readyz").status, 200);

    // SIGKILL, then a process with another, empty data directory (the key
    // given) on the same database serves the same tree and goes on.
    tlog.kill();
    let second = start_on(dir.path(), "second", &database, &key_path);
    let info = second.log_info();
    assert_eq!(info["treeSize"], 6);
    assert_eq!(info["rootHash"], hex::encode(checkpoint.root));
    // The dead process's integrator lease runs out first (5 s): until
    // then writes are 503 with Retry-After, then the new process takes over.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let duplicate = loop {
        let reply = second.post("/api/v1/log/entries", &proposed[2]);
        if reply.status != 503 || std::time::Instant::now() > deadline {
            break reply;
        }
        assert!(reply.header("Retry-After").is_some());
        std::thread::sleep(Duration::from_millis(200));
    };
    duplicate.expect_error(409);
    let next = second.submit(&signer.hashedrekord(b"pg 6"), &key);
    assert_eq!(next.log_index, 6);
    check_consistency(&second, None, (6, checkpoint.root), (7, next.root));
}

#[test]
fn logs_sharing_a_database_keep_to_their_own_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database();
    let key_path = dir.path().join("log-key.pem");
    support::ca::keygen(&key_path);
    let signer = Signer::new();
    let first = start_on(dir.path(), "first", &database, &key_path);
    let key = first.public_key();
    first.submit(&signer.hashedrekord(b"in the first log"), &key);

    let other = Tlog::start(
        &dir.path().join("other"),
        &["--database", &database, "--database-schema", "other_log"],
    );
    assert_eq!(other.log_info()["treeSize"], 0);
    // The same entry is new to the other log.
    let other_key = other.public_key();
    assert_eq!(
        other
            .submit(&signer.hashedrekord(b"in the first log"), &other_key)
            .log_index,
        0
    );
    assert_eq!(first.log_info()["treeSize"], 1);
}

#[test]
fn a_database_the_log_cannot_use_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (database, schema, expected) in [
        (
            "postgres://atesto@127.0.0.1:1/none?connect_timeout=2".to_owned(),
            "tlog",
            "database",
        ),
        (fresh_database(), "Bad-Name", "database_schema"),
        ("not a url".to_owned(), "tlog", "database URL"),
    ] {
        let mut child = Tlog::spawn(
            &dir.path().join("data"),
            &free_addr(),
            &["--database", &database, "--database-schema", schema],
        );
        let status = wait_exit(&mut child, Duration::from_secs(30)).expect("atesto exits");
        assert!(!status.success());
        let stderr = read_stderr(&mut child);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
