//! `atesto tlog migrate`: an embedded (redb) log copied into PostgreSQL
//! (and published to S3), compared through the HTTP API of a server on each
//! store; and the refusals: a source a server holds, a target holding a
//! log, a source whose tiles or entries no longer make its signed tree.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use redb::ReadableTable;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::rekor_v2::hashed_rekord_request;
use support::services::{bucket_dir, fresh_database, fresh_object_store};
use support::*;

/// `atesto bench tlog-fill`: a redb log of `entries` signed hashedrekords,
/// made in-process.
fn fill(data: &Path, entries: u64) {
    let out = atesto(&[
        "bench",
        "tlog-fill",
        "--data",
        data.to_str().unwrap(),
        "--entries",
        &entries.to_string(),
        // The fill's default stops early below 15 GiB free; this log takes
        // a few hundred MB, so only a nearly full disk should stop it.
        "--min-free-gb",
        "1",
    ]);
    assert!(
        out.status.success(),
        "tlog-fill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("tlog-fill printed no summary: {stdout}"));
    assert_eq!(
        summary["tree_size"], entries,
        "tlog-fill stopped early: {summary}"
    );
}

/// `atesto tlog migrate --from DATA --database URL [extra]`.
fn migrate(data: &Path, database: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "tlog",
        "migrate",
        "--from",
        data.to_str().unwrap(),
        "--database",
        database,
    ];
    args.extend(extra);
    atesto(&args)
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A migration that must succeed; returns its summary of each log.
fn migrated(data: &Path, database: &str, extra: &[&str]) -> Vec<Value> {
    let out = migrate(data, database, extra);
    assert!(out.status.success(), "migrate: {}", stderr_of(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON summary"))
        .collect()
}

/// A migration that must be refused, with `reason` in what it says.
fn refused(data: &Path, database: &str, reason: &str) {
    let out = migrate(data, database, &[]);
    let said = stderr_of(&out);
    assert!(!out.status.success(), "migrate succeeded: {said}");
    assert!(said.contains(reason), "expected {reason:?} in: {said}");
}

/// A log server on `data` with `extra` arguments.
fn server(data: &Path, extra: &[&OsStr]) -> Tlog {
    let addr = free_addr();
    let mut args: Vec<&OsStr> = vec![
        "tlog".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--addr".as_ref(),
        addr.as_ref(),
    ];
    args.extend_from_slice(extra);
    Tlog::start_args(&args, &addr)
}

/// A redb server on `data` (never PostgreSQL, whatever ATESTO_TEST_STORE
/// says), with a Rekor v2 log on `v2_addr` if given.
fn redb_server(data: &Path, v2_addr: Option<&str>) -> Tlog {
    match v2_addr {
        Some(v2_addr) => {
            let config = v2_config(data.parent().unwrap(), "redb", v2_addr);
            server(data, &["--config".as_ref(), config.as_os_str()])
        }
        None => server(data, &[]),
    }
}

/// A config with a `rekor_v2:` section on `v2_addr`, its key beside the
/// configs (made on the first start).
fn v2_config(dir: &Path, name: &str, v2_addr: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let key = dir.join("v2-key.pem");
    std::fs::write(
        &path,
        format!("rekor_v2:\n  addr: {v2_addr}\n  key: {}\n", key.display()),
    )
    .unwrap();
    path
}

/// POSTs a Rekor v2 entry; returns the reply.
fn post_v2(v2_addr: &str, request: &Value) -> Reply {
    Reply::from(
        client()
            .post(format!("http://{v2_addr}/api/v2/log/entries"))
            .json(request)
            .send()
            .unwrap(),
    )
}

fn get_v2(v2_addr: &str, path: &str) -> Reply {
    Reply::from(
        client()
            .get(format!("http://{v2_addr}{path}"))
            .send()
            .unwrap(),
    )
}

/// A server on the migrated database, with the source's key.
fn postgres_server(data: &Path, database: &str, key: &Path, extra: &[&str]) -> Tlog {
    let mut args: Vec<&OsStr> = vec![
        "--database".as_ref(),
        database.as_ref(),
        "--key".as_ref(),
        key.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    server(data, &args)
}

/// The artifact digest a hashedrekord entry is filed under.
fn digest_key(entry_reply: &Value) -> String {
    let (_, entry) = entry_reply
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one entry");
    let body = STANDARD
        .decode(entry["body"].as_str().expect("a body"))
        .expect("base64 body");
    let body: Value = serde_json::from_slice(&body).expect("a JSON body");
    let hash = &body["spec"]["data"]["hash"];
    format!(
        "{}:{}",
        hash["algorithm"].as_str().unwrap(),
        hash["value"].as_str().unwrap()
    )
}

/// Both servers answer `path` with the same 200 reply; returns it.
fn same_get(first: &Tlog, second: &Tlog, path: &str) -> String {
    let (a, b) = (first.get(path), second.get(path));
    assert_eq!(a.status, 200, "{path}: {}", a.text);
    assert_eq!(
        (b.status, &b.text),
        (200, &a.text),
        "{path} differs after migration"
    );
    a.text
}

#[test]
fn a_100k_entry_log_migrates_with_equal_roots_and_goes_on_growing_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    fill(&source, 100_000);

    // Entries made through the API, a rotation, and more entries in the
    // new shard: search keys and two shards to carry over; and a Rekor v2
    // log beside it.
    let v2_addr = free_addr();
    let mut server = redb_server(&source, Some(&v2_addr));
    let key = server.public_key();
    let signer = Signer::new();
    let mut artifacts = Vec::new();
    let mut submit = |server: &Tlog, i: usize| {
        let artifact = format!("migrated artifact {i}");
        let entry = server.submit(&signer.hashedrekord(artifact.as_bytes()), &key);
        artifacts.push(artifact);
        entry
    };
    let mut api_entries: Vec<LogEntry> = (0..4).map(|i| submit(&server, i)).collect();
    let rotated = atesto(&[
        "tlog",
        "rotate",
        "--data",
        source.to_str().unwrap(),
        "--addr",
        &server.addr,
    ]);
    assert!(rotated.status.success(), "{}", stderr_of(&rotated));
    api_entries.extend((4..7).map(|i| submit(&server, i)));
    let total = 100_007;
    assert_eq!(api_entries.last().unwrap().log_index, total - 1);
    for i in 0..3 {
        let request = hashed_rekord_request(&signer, format!("v2 artifact {i}").as_bytes());
        let reply = post_v2(&v2_addr, &request);
        assert_eq!(reply.status, 201, "{}", reply.text);
    }

    // A server holds the source: refused, and nothing is written.
    let database = fresh_database();
    refused(&source, &database, "in use by another process");
    server.kill();

    let bucket = fresh_object_store();
    let started = Instant::now();
    // The config names the v2 log's key.
    let config = dir.path().join("redb.yaml");
    let summaries = migrated(
        &source,
        &database,
        &[
            "--object-store",
            &bucket,
            "--config",
            config.to_str().unwrap(),
        ],
    );
    eprintln!(
        "migrated {total} entries in {:.1} s: {summaries:?}",
        started.elapsed().as_secs_f64()
    );
    let summary = &summaries[0];
    assert_eq!(summary["log"], "tlog");
    assert_eq!(summary["entries"], total);
    assert_eq!(summary["shards"], 2);
    assert_eq!(summary["restarted"], false);
    assert!(summary["search_rows"].as_u64().unwrap() >= total);
    assert_eq!(summaries[1]["log"], "rekor_v2");
    assert_eq!(summaries[1]["entries"], 3);

    // The same log through both stores' APIs: heads, shards, entries with
    // their proofs and SETs, search.
    let redb = redb_server(&source, Some(&v2_addr));
    let pg_data = dir.path().join("pg");
    let pg_v2_addr = free_addr();
    let pg_config = v2_config(dir.path(), "pg", &pg_v2_addr);
    let pg = postgres_server(
        &pg_data,
        &database,
        &source.join("log-key.pem"),
        &["--config", pg_config.to_str().unwrap()],
    );
    // The Rekor v2 log is the same tree on PostgreSQL.
    for path in ["/checkpoint", "/tile/0/000.p/3", "/tile/entries/000.p/3"] {
        let on_redb = get_v2(&v2_addr, path);
        assert_eq!(on_redb.status, 200, "{path}: {}", on_redb.text);
        assert_eq!(get_v2(&pg_v2_addr, path).bytes, on_redb.bytes, "{path}");
    }
    let info: Value = serde_json::from_str(&same_get(&redb, &pg, "/api/v1/log")).unwrap();
    assert_eq!(info["inactiveShards"][0]["treeSize"], 100_004);
    same_get(&redb, &pg, "/checkpoint");
    for entry in &api_entries {
        same_get(&redb, &pg, &format!("/api/v1/log/entries/{}", entry.id));
    }
    let samples: Vec<u64> = (0..200)
        .map(|_| rand::random::<u64>() % total)
        .chain([0, 99_999, 100_003, 100_004, total - 1])
        .collect();
    for (n, index) in samples.iter().enumerate() {
        let text = same_get(&redb, &pg, &format!("/api/v1/log/entries?logIndex={index}"));
        // Search by the artifact digest, for a share of the sampled entries.
        if n % 4 == 0 {
            let query = json!({ "hash": digest_key(&serde_json::from_str(&text).unwrap()) });
            let found = pg.post("/api/v1/index/retrieve", &query);
            assert_eq!(found.status, 200, "{}", found.text);
            assert_eq!(found.text, redb.post("/api/v1/index/retrieve", &query).text);
            assert!(!found.json().as_array().unwrap().is_empty());
        }
    }
    for (artifact, entry) in artifacts.iter().zip(&api_entries) {
        let query = json!({ "hash": format!("sha256:{}", hex::encode(Sha256::digest(artifact))) });
        let found = pg.post("/api/v1/index/retrieve", &query);
        assert_eq!(found.status, 200, "{}", found.text);
        assert_eq!(found.json(), json!([entry.id]));
    }
    let by_key = json!({ "publicKey": { "format": "x509", "content": STANDARD.encode(signer.public_key_pem()) } });
    let found = pg.post("/api/v1/index/retrieve", &by_key);
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json().as_array().unwrap().len(), api_entries.len());
    assert_eq!(
        found.text,
        redb.post("/api/v1/index/retrieve", &by_key).text
    );

    // The bucket holds both shards' checkpoints, as the API serves them.
    let published = bucket_dir(&bucket);
    let old_tree = api_entries[0].tree_id();
    assert_eq!(
        std::fs::read_to_string(published.join("checkpoint")).unwrap(),
        pg.get("/checkpoint").text
    );
    assert_eq!(
        std::fs::read_to_string(published.join(format!("shards/{old_tree}/checkpoint"))).unwrap(),
        pg.get(&format!("/shards/{old_tree}/checkpoint")).text
    );

    // The migrated log takes writes (once the migration's lease has run
    // out) and stays consistent with what the embedded log signed.
    let head = api_entries.last().unwrap();
    let proposed = signer.hashedrekord(b"after the migration");
    let deadline = Instant::now() + Duration::from_secs(20);
    let reply = loop {
        let reply = pg.post("/api/v1/log/entries", &proposed);
        if reply.status != 503 || Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(reply.status, 201, "{}", reply.text);
    let next = LogEntry::from_reply(&reply.text);
    next.verify(&key);
    assert_eq!(next.log_index, total);
    check_consistency(
        &pg,
        None,
        (head.tree_size, head.root),
        (next.tree_size, next.root),
    );
}

/// Changes the redb file `data/log.redb` in one write transaction, as
/// damage or tampering would.
fn tamper(data: &Path, change: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(data.join("log.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    change(&txn);
    txn.commit().unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(copied.success());
}

#[test]
fn a_migration_refuses_damaged_sources_and_full_targets_and_starts_over_after_a_refusal() {
    const TILES: redb::TableDefinition<(u32, u8, u64), &[u8]> = redb::TableDefinition::new("tiles");
    const ENTRIES: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("entries");
    const LEAVES: redb::TableDefinition<[u8; 32], u64> = redb::TableDefinition::new("leaves");

    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    fill(&source, 3_000);

    // A hash of a full tile changed: the entries make another tile.
    let bad_tile = dir.path().join("bad-tile");
    copy_dir(&source, &bad_tile);
    tamper(&bad_tile, |txn| {
        let mut tiles = txn.open_table(TILES).unwrap();
        let mut tile = tiles.get((0, 0, 3)).unwrap().unwrap().value().to_vec();
        tile[40] ^= 1;
        tiles.insert((0, 0, 3), tile.as_slice()).unwrap();
    });
    let database = fresh_database();
    refused(
        &bad_tile,
        &database,
        "tile 0/3 is not the one its entries make",
    );

    // Nothing is marked done: no server opens the half-made log.
    let mut child = Tlog::spawn(
        &dir.path().join("pg"),
        &free_addr(),
        &[
            "--database",
            &database,
            "--key",
            source.join("log-key.pem").to_str().unwrap(),
        ],
    );
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("atesto exits");
    assert!(!status.success());
    let said = read_stderr(&mut child);
    assert!(said.contains("unfinished migration"), "{said}");

    // A rerun from the sound log clears the copy and succeeds; the schema
    // then holds a log, and a migration into it is refused.
    let summary = &migrated(&source, &database, &[])[0];
    assert_eq!(summary["restarted"], true);
    assert_eq!(summary["entries"], 3_000);
    refused(&source, &database, "already holds a log");
    let pg = postgres_server(
        &dir.path().join("pg"),
        &database,
        &source.join("log-key.pem"),
        &[],
    );
    assert_eq!(pg.log_info()["treeSize"], 3_000);

    // An entry changed, and the source's leaf index changed with it so
    // that only the tree gives it away: its root is not the signed one.
    let bad_entry = dir.path().join("bad-entry");
    copy_dir(&source, &bad_entry);
    tamper(&bad_entry, |txn| {
        let mut entries = txn.open_table(ENTRIES).unwrap();
        let mut record = entries.get(1_234).unwrap().unwrap().value().to_vec();
        // The record: time (8 bytes), receipt length (2), receipt, body.
        let receipt = u16::from_be_bytes([record[8], record[9]]) as usize;
        let last = record.len() - 2;
        record[last] ^= 1;
        entries.insert(1_234, record.as_slice()).unwrap();
        let mut leaf = Sha256::new();
        leaf.update([0u8]);
        leaf.update(&record[10 + receipt..]);
        let leaf: [u8; 32] = leaf.finalize().into();
        txn.open_table(LEAVES).unwrap().insert(leaf, 1_234).unwrap();
    });
    refused(&bad_entry, &fresh_database(), "the signed checkpoint says");
}
