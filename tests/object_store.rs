//! Publication of the C2SP read API to object storage (`--object-store`)
//! against a real S3 server (versitygw, started by scripts/services; a
//! private one for the test that stops it): the bucket holds byte for byte
//! what the HTTP API serves, a C2SP reader written here verifies it from
//! the files alone, restarts catch up, a lagging copy never moves it back,
//! and a stopped store delays the bucket but never a write.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atesto_test_support::pki::{TestCa, leaf_params};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::KeyPair;
use serde_json::json;

use support::ct::start_ct_with;
use support::services::{PRIVATE_BUCKET, bucket_dir, fresh_object_store, private_s3};
use support::*;

/// Every object under `dir` by its path below it. The server's own
/// dot-files (upload staging) are not objects.
fn objects(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with('.') || name.contains('#') {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(dir, dir, &mut found);
    found
}

/// Waits until the bucket's checkpoint is the one the log serves; returns it.
fn wait_published(log: &Tlog, dir: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let served = log.get("/checkpoint").text;
        if std::fs::read_to_string(dir.join("checkpoint")).ok() == Some(served.clone()) {
            return served;
        }
        assert!(
            Instant::now() < deadline,
            "the bucket did not catch up with the log: {}",
            log.get("/readyz").text
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Checks that every object in the bucket is what the HTTP API serves at
/// its path, byte for byte; returns the objects.
fn assert_bucket_is_the_api(log: &Tlog, dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let found = objects(dir);
    assert!(found.contains_key("checkpoint"), "{:?}", found.keys());
    for (path, bytes) in &found {
        let reply = log.get(&format!("/{path}"));
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert!(
            reply.bytes == *bytes,
            "{path}: the bucket's copy differs from what the API serves"
        );
    }
    found
}

/// A C2SP tlog-tiles reader over the bucket's files alone: verifies the
/// checkpoint's signature with `key`, reads every entry bundle and level-0
/// tile of its tree (and the level-1 tile), checks each against the
/// entries, and recomputes the root. Returns the entries, by index.
fn read_bucket_as_a_client(dir: &Path, key: &LogKey) -> Vec<Vec<u8>> {
    let note = std::fs::read_to_string(dir.join("checkpoint")).expect("the bucket's checkpoint");
    let checkpoint = Checkpoint::parse(&note);
    checkpoint.verify(key);
    let size = checkpoint.size;
    assert!(
        size < 256 * 1000,
        "the reader below names tiles below 1000 only"
    );
    let name = |index: u64, width: u64| {
        if width == 256 {
            format!("{index:03}")
        } else {
            format!("{index:03}.p/{width}")
        }
    };
    let mut bodies = Vec::new();
    let mut subtree_roots = Vec::new();
    for index in 0..size.div_ceil(256) {
        let width = (size - index * 256).min(256);
        let bundle = std::fs::read(dir.join(format!("tile/entries/{}", name(index, width))))
            .expect("an entry bundle of the tree");
        let entries = split_bundle(&bundle);
        assert_eq!(entries.len() as u64, width);
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let tile = std::fs::read(dir.join(format!("tile/0/{}", name(index, width))))
            .expect("a level-0 tile of the tree");
        assert_eq!(
            tile,
            leaves.concat(),
            "tile 0/{index} holds the entries' hashes"
        );
        if width == 256 {
            subtree_roots.push(merkle_root(&leaves));
        }
        bodies.extend(entries);
    }
    if !subtree_roots.is_empty() {
        let width = subtree_roots.len() as u64;
        let tile = std::fs::read(dir.join(format!("tile/1/{}", name(0, width)))).unwrap();
        assert_eq!(
            tile,
            subtree_roots.concat(),
            "level 1 holds the full tiles' roots"
        );
    }
    let leaves: Vec<Hash> = bodies.iter().map(|b| leaf_hash(b)).collect();
    assert_eq!(
        merkle_root(&leaves),
        checkpoint.root,
        "the entries hash to the signed root"
    );
    bodies
}

/// `atesto tlog` on `data` publishing to `url`, with extra environment.
fn start_tlog(data: &Path, url: &str, env: &[(&str, String)]) -> Tlog {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Tlog::start_env(data, &["--object-store", url], &env)
}

/// The headers the shared S3 server answers a GET of `key` with (curl
/// signs the request with the test credentials).
fn s3_headers(key: &str) -> String {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is unset"));
    let out = std::process::Command::new("curl")
        .args(["-fsS", "-D", "-", "-o", "/dev/null"])
        .arg(format!("{}/{key}", var("AWS_ENDPOINT")))
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
        .arg(format!(
            "{}:{}",
            var("AWS_ACCESS_KEY_ID"),
            var("AWS_SECRET_ACCESS_KEY")
        ))
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .output()
        .expect("running curl");
    assert!(
        out.status.success(),
        "GET {key}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_ascii_lowercase()
}

fn submit_some(tlog: &Tlog, key: &LogKey, n: usize) -> Vec<LogEntry> {
    let signer = Signer::new();
    (0..n)
        .map(|i| tlog.submit(&signer.hashedrekord(format!("bucket {i}").as_bytes()), key))
        .collect()
}

fn metric(log: &Tlog, name: &str) -> f64 {
    let text = log.get("/metrics").text;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

/// Polls `/readyz` (always 200: the bucket never stops writes) until its
/// body satisfies `wanted`.
fn wait_readyz(log: &Tlog, wanted: impl Fn(&str) -> bool, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let reply = log.get("/readyz");
        assert_eq!(reply.status, 200, "{}", reply.text);
        if wanted(&reply.text) {
            return reply.text;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never {what}: {}",
            reply.text
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_bucket_holds_what_the_api_serves_and_a_reader_verifies_it() {
    let url = fresh_object_store();
    // Small batches: many checkpoints, partial tiles and a full tile.
    let (_dir, tlog, key) = fresh_log(
        "batch: {max_size: 8, max_age_ms: 5}\n",
        &["--object-store", &url],
    );
    let entries = submit_concurrently(&tlog, &key, 300, 8);
    let dir = bucket_dir(&url);
    wait_published(&tlog, &dir);
    // The publisher removes the partial copies of tiles that became full
    // after it has written the checkpoint: let its round end.
    let deadline = Instant::now() + Duration::from_secs(10);
    while objects(&dir)
        .keys()
        .any(|k| k.starts_with("tile/0/000.p/") || k.starts_with("tile/entries/000.p/"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }

    let found = assert_bucket_is_the_api(&tlog, &dir);
    for path in [
        "tile/0/000",
        "tile/entries/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
    ] {
        assert!(found.contains_key(path), "{path} is missing");
    }
    // The partial copies of the now full first tile are gone (C2SP readers
    // fall back to the full tile); those of the tile still partial stay.
    let partials_of = |folder: &str| found.keys().filter(|k| k.starts_with(folder)).count();
    assert_eq!(partials_of("tile/0/000.p/"), 0, "{:?}", found.keys());
    assert_eq!(partials_of("tile/entries/000.p/"), 0);
    assert!(partials_of("tile/0/001.p/") >= 1);
    let bodies = read_bucket_as_a_client(&dir, &key);
    assert_eq!(bodies.len(), 300);
    for entry in &entries {
        assert_eq!(bodies[entry.log_index as usize], entry.body);
    }

    // Served from the bucket (or a CDN in front) with the API's headers.
    let key = url.strip_prefix("s3://").unwrap();
    let tile = s3_headers(&format!("{key}/tile/0/000"));
    assert!(
        tile.contains("cache-control: public, max-age=31536000, immutable"),
        "{tile}"
    );
    assert!(
        tile.contains("content-type: application/octet-stream"),
        "{tile}"
    );
    let checkpoint = s3_headers(&format!("{key}/checkpoint"));
    assert!(
        checkpoint.contains("cache-control: no-cache"),
        "{checkpoint}"
    );
    assert!(
        checkpoint.contains("content-type: text/plain"),
        "{checkpoint}"
    );

    wait_readyz(
        &tlog,
        |t| t.contains(&format!("object store {url}: 0 entries behind")),
        "saw the bucket caught up",
    );
    assert_eq!(
        metric(&tlog, "atesto_tlog_object_store_failures_total"),
        0.0
    );
    assert!(metric(&tlog, "atesto_tlog_object_store_objects_total") >= found.len() as f64);
    // The gauges are refreshed every second.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(metric(&tlog, "atesto_tlog_object_store_lag_entries"), 0.0);
}

/// A log under `home/data` that published `n` entries to a new prefix of
/// the shared bucket and was then killed: its home, URL, bucket copy and key.
fn published_then_killed(n: usize) -> (tempfile::TempDir, String, PathBuf, LogKey) {
    let url = fresh_object_store();
    let dir = bucket_dir(&url);
    let home = tempfile::tempdir().unwrap();
    let mut tlog = Tlog::start(&home.path().join("data"), &["--object-store", &url]);
    let key = tlog.public_key();
    submit_some(&tlog, &key, n);
    wait_published(&tlog, &dir);
    tlog.kill();
    (home, url, dir, key)
}

#[test]
fn a_restart_catches_up_from_the_buckets_checkpoint() {
    let (home, url, dir, key) = published_then_killed(5);
    let data = home.path().join("data");

    // Entries the bucket never saw: the log ran without it.
    let mut tlog = Tlog::start(&data, &[]);
    submit_some(&tlog, &key, 6);
    tlog.kill();
    let note = std::fs::read_to_string(dir.join("checkpoint")).unwrap();
    assert_eq!(Checkpoint::parse(&note).size, 5);

    let tlog = Tlog::start(&data, &["--object-store", &url]);
    let note = wait_published(&tlog, &dir);
    assert_eq!(Checkpoint::parse(&note).size, 11);
    assert_bucket_is_the_api(&tlog, &dir);
    assert_eq!(read_bucket_as_a_client(&dir, &key).len(), 11);
}

#[test]
fn a_rotated_shard_moves_under_its_tree_id_and_the_root_to_the_new_one() {
    let url = fresh_object_store();
    let dir = bucket_dir(&url);
    let (home, tlog, key) = fresh_log("", &["--object-store", &url]);
    let first = submit_some(&tlog, &key, 5);
    wait_published(&tlog, &dir);
    let rotated = atesto(&[
        "tlog",
        "rotate",
        "--data",
        home.path().join("data").to_str().unwrap(),
        "--addr",
        &tlog.addr,
    ]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let second = submit_some(&tlog, &key, 3);
    let note = wait_published(&tlog, &dir);
    assert_eq!(Checkpoint::parse(&note).size, 3);

    // Every object, the old shard's under shards/<treeID>/ included, is
    // what the API serves; none of the old shard's is left at the root.
    let found = assert_bucket_is_the_api(&tlog, &dir);
    let old = first[0].tree_id();
    assert_ne!(old, second[0].tree_id());
    assert!(found.contains_key(&format!("shards/{old}/checkpoint")));
    assert!(!found.contains_key("tile/0/000.p/5"), "{:?}", found.keys());
    let old_entries = read_bucket_as_a_client(&dir.join(format!("shards/{old}")), &key);
    assert_eq!(
        old_entries,
        first.iter().map(|e| e.body.clone()).collect::<Vec<_>>()
    );
    let new_entries = read_bucket_as_a_client(&dir, &key);
    assert_eq!(
        new_entries,
        second.iter().map(|e| e.body.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn a_lagging_copy_of_the_log_never_moves_the_bucket_back() {
    let (home, url, dir, key) = published_then_killed(5);
    let data = home.path().join("data");
    // A copy of the log as it was at size 5 (a restored backup, a replica
    // that fell behind), with the same key.
    let stale = home.path().join("stale");
    let copied = std::process::Command::new("cp")
        .args(["-a"])
        .arg(&data)
        .arg(&stale)
        .status()
        .unwrap();
    assert!(copied.success());

    let mut tlog = Tlog::start(&data, &["--object-store", &url]);
    submit_some(&tlog, &key, 5);
    let newest = wait_published(&tlog, &dir);
    tlog.kill();
    let before = objects(&dir);

    let stale_log = Tlog::start(&stale, &["--object-store", &url]);
    assert_eq!(stale_log.log_info()["treeSize"], 5);
    wait_readyz(
        &stale_log,
        |t| t.contains("0 entries behind"),
        "read the bucket",
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("checkpoint")).unwrap(),
        newest
    );

    // It diverges: 7 other entries make a tree of 12 that is not the
    // bucket's tree of 10. It refuses to publish, and says so.
    let signer = Signer::new();
    for i in 0..7 {
        stale_log.submit(&signer.hashedrekord(format!("fork {i}").as_bytes()), &key);
    }
    let ready = wait_readyz(&stale_log, |t| t.contains("degraded"), "reported the fork");
    assert!(ready.contains("not this log's"), "{ready}");
    assert!(objects(&dir) == before, "nothing in the bucket changed");
}

#[test]
fn a_stopped_object_store_delays_the_bucket_but_no_write() {
    let s3 = private_s3();
    let url = format!("s3://{PRIVATE_BUCKET}/log");
    let dir = s3.bucket_dir().join("log");
    let home = tempfile::tempdir().unwrap();
    let tlog = start_tlog(&home.path().join("data"), &url, &s3.env());
    let key = tlog.public_key();
    submit_some(&tlog, &key, 3);
    wait_published(&tlog, &dir);

    s3.pause();
    let started = Instant::now();
    let signer = Signer::new();
    for i in 0..20 {
        tlog.submit(
            &signer.hashedrekord(format!("while stopped {i}").as_bytes()),
            &key,
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "writes waited for the object store: {:?}",
        started.elapsed()
    );
    let ready = wait_readyz(&tlog, |t| t.contains("degraded"), "reported the lag");
    assert!(ready.contains("20 entries not yet published"), "{ready}");
    assert_eq!(metric(&tlog, "atesto_tlog_object_store_lag_entries"), 20.0);
    // Long enough for its requests to time out: failures are counted and
    // shown, and writes still go through.
    let deadline = Instant::now() + Duration::from_secs(90);
    while metric(&tlog, "atesto_tlog_object_store_failures_total") == 0.0 {
        assert!(
            Instant::now() < deadline,
            "no failure counted while stopped"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let ready = wait_readyz(&tlog, |t| t.contains("last error"), "showed the error");
    assert!(ready.contains("20 entries not yet published"), "{ready}");
    tlog.submit(&signer.hashedrekord(b"after the failures"), &key);
    assert_eq!(
        Checkpoint::parse(&std::fs::read_to_string(dir.join("checkpoint")).unwrap()).size,
        3
    );

    s3.resume();
    let note = wait_published(&tlog, &dir);
    assert_eq!(Checkpoint::parse(&note).size, 24);
    assert_bucket_is_the_api(&tlog, &dir);
    assert_eq!(read_bucket_as_a_client(&dir, &key).len(), 24);
    wait_readyz(&tlog, |t| !t.contains("degraded"), "recovered");
}

#[test]
fn an_object_store_that_cannot_work_is_a_start_up_error() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let missing = format!("s3://no-such-bucket-{:x}/log", rand::random::<u32>());
    for (url, says) in [
        ("ftp://example.org/log", "unsupported scheme \"ftp\""),
        ("s3:///log", "no bucket name"),
        ("not a url", "not a URL"),
        (missing.as_str(), "no-such-bucket"),
    ] {
        let out = atesto(&[
            "tlog",
            "--data",
            data.to_str().unwrap(),
            "--addr",
            &free_addr(),
            "--object-store",
            url,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url} was accepted");
        assert!(stderr.contains(says), "{url}: {stderr}");
    }
}

#[test]
fn the_config_file_names_the_bucket_and_file_urls_work() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("bucket");
    let url = format!("file://{}", dir.display());
    let (_home, tlog, key) = fresh_log(&format!("object_store: {url}\n"), &[]);
    submit_some(&tlog, &key, 4);
    wait_published(&tlog, &dir);
    assert_bucket_is_the_api(&tlog, &dir);
    assert_eq!(read_bucket_as_a_client(&dir, &key).len(), 4);
}

#[test]
fn the_ct_log_publishes_its_tiles_too() {
    let ca = TestCa::new("atesto test");
    let home = tempfile::tempdir().unwrap();
    let roots = home.path().join("roots.pem");
    std::fs::write(&roots, &ca.root_pem).unwrap();
    let url = fresh_object_store();
    let ct = start_ct_with(home.path(), &roots, &["--object-store", &url]);
    let key = LogKey::from_pem(&ct.get("/ct/public-key").text);
    for i in 0..12 {
        let leaf = ca.issue(
            &leaf_params(&format!("signer{i}.test"), true, false),
            &KeyPair::generate().unwrap(),
        );
        let chain = json!({ "chain": [STANDARD.encode(&leaf), STANDARD.encode(&ca.intermediate)] });
        let reply = ct.post("/ct/v1/add-chain", &chain);
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let dir = bucket_dir(&url);
    wait_published(&ct, &dir);
    assert_bucket_is_the_api(&ct, &dir);
    let entries = read_bucket_as_a_client(&dir, &key);
    assert_eq!(entries.len(), 12);
}
