//! `atesto dev --database URL --object-store URL`: the one-command stack
//! with its three logs (Rekor v1, CT, Rekor v2) on the test PostgreSQL
//! cluster, each in its own schema, and the Rekor v1 and CT logs'
//! C2SP read API published to the test S3 server. sigstore-python signs
//! through both Rekor logs and verifies; the entries are rows of the
//! database, not files under --data.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use support::clients::*;
use support::dev::*;
use support::services::{bucket_dir, fresh_database, fresh_object_store, psql};

/// The bundle's transparency log entry.
fn tlog_entry(bundle: &std::path::Path) -> Value {
    let bundle: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    bundle["verificationMaterial"]["tlogEntries"][0].clone()
}

/// The `logIndex` of the bundle's transparency log entry.
fn log_index(bundle: &std::path::Path) -> u64 {
    // Protobuf JSON: an int64 is a string, and 0 may be left out.
    match &tlog_entry(bundle)["logIndex"] {
        Value::String(index) => index.parse().unwrap(),
        Value::Null => 0,
        other => panic!("logIndex {other}"),
    }
}

#[test]
fn sigstore_python_signs_and_verifies_on_a_dev_stack_whose_logs_are_in_postgres() {
    let database = fresh_database();
    let object_store = fresh_object_store();
    let dev = Dev::start_with(&["--database", &database, "--object-store", &object_store]);
    let who = Who::Email("postgres@example.com");
    let token = who.token(&dev);
    let artifact = write(&dev, "on-postgres.txt", b"a dev stack on PostgreSQL\n");

    for (rekor, name) in [(Rekor::V1, "v1"), (Rekor::V2, "v2")] {
        let bundle = dev.path(&format!("{name}.sigstore.json"));
        ok(
            &format!("sigstore-python sign --rekor-version {name}"),
            py_sign_to(rekor, &dev, &token, &artifact, &bundle),
        );
        ok(
            &format!("sigstore-python verify the Rekor {name} bundle"),
            py_verify(&dev, &bundle, &artifact, &who.san(), &who.issuer(&dev)),
        );
        let schema = if name == "v1" { "tlog" } else { "rekor_v2" };
        assert_eq!(
            psql(&database, &format!("SELECT count(*) FROM {schema}.entries")),
            "1",
            "the Rekor {name} log's entries"
        );
        let index = log_index(&bundle);
        assert_eq!(
            psql(
                &database,
                &format!("SELECT count(*) FROM {schema}.entries WHERE idx = {index}")
            ),
            "1",
            "the Rekor {name} bundle's entry {index} in the database"
        );
    }
    // A second Rekor v1 replica on the database (with the dev log's key)
    // serves the entry sigstore-python logged through the dev stack.
    let replica_dir = tempfile::tempdir().unwrap();
    let key = dev.path("tlog/log-key.pem");
    let replica = support::Tlog::start(
        &replica_dir.path().join("data"),
        &["--database", &database, "--key", key.to_str().unwrap()],
    );
    let v1 = dev.path("v1.sigstore.json");
    let reply = replica.get(&format!("/api/v1/log/entries?logIndex={}", log_index(&v1)));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let entry = support::LogEntry::from_reply(&reply.text);
    entry.verify(&replica.public_key());
    let logged = tlog_entry(&v1)["canonicalizedBody"]
        .as_str()
        .map(|body| STANDARD.decode(body).unwrap());
    assert_eq!(Some(entry.body), logged);

    // Fulcio logged a precertificate for each signing certificate.
    assert_eq!(psql(&database, "SELECT count(*) FROM ct.entries"), "2");
    // Nothing of the logs' trees under --data.
    for log in ["tlog", "ct", "rekor-v2"] {
        let embedded = dev.path(log).join("log.redb");
        assert!(!embedded.exists(), "{}", embedded.display());
    }
    // Both logs publish their C2SP checkpoints to the bucket, each in its
    // own folder, up to the entries above (the size is the note's 2nd line).
    let bucket = bucket_dir(&object_store);
    let deadline = Instant::now() + Duration::from_secs(20);
    for (log, size) in [("tlog", "1"), ("ct", "2")] {
        let checkpoint = bucket.join(log).join("checkpoint");
        loop {
            let note = std::fs::read_to_string(&checkpoint).unwrap_or_default();
            if note.lines().nth(1) == Some(size) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {note:?}, not of size {size}",
                checkpoint.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
