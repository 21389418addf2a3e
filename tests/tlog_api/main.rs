//! HTTP tests of every `atesto tlog` endpoint against a real child process:
//! the Rekor v1 API, the C2SP tiles, operations, hostile input, rotation and
//! keys. Every answer is verified independently of the server's code.

mod support;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::*;

/// The host name a log on 127.0.0.1 signs as (the default: the listen host).
const HOSTNAME: &str = "127.0.0.1";

/// A 1024-bit RSA key (too weak for any sigstore log) and its valid PKCS#1 v1.5
/// SHA-256 signature over `WEAK_ARTIFACT`, made once with openssl.
const WEAK_RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDM7+h7AsGhEK9eyU04SsIgu7zi
lG/woo46eLoRmbPPtTPXLpVl+HjqHRECX++dB2l24Dw4lMUxj62aOc91edWF2MPM
bir2P30uJzEzc+jhfWlw2FQrOhqHpVByrx3kZ+GCd7SfmCNOtvbOxm7JjIc/8Ihb
x2+Xhu7ZScrEJy/ViQIDAQAB
-----END PUBLIC KEY-----
";
const WEAK_ARTIFACT: &[u8] = b"atesto weak-key artifact";
const WEAK_SIGNATURE_B64: &str = "ZRUF1Mw9UYffBkyFNa/n73zepwO6FwEr22uvvM5tbyyCJKy7f2zLTOgVwKJ4S89l4Kas/EtoyftvR8KRhOV/+DUXAZTd0Z9F1LN/OfcLf8KAc93KqGYqNPkvNIqwk8ShH76vOGnn7nk1d9yFg3zgAz5D4G3hTopTjrd2PffVQLE=";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn tree_id(info: &Value) -> u64 {
    let text = info["treeID"].as_str().expect("treeID is a string");
    assert!(
        text.bytes().all(|b| b.is_ascii_digit()),
        "treeID {text:?} is not decimal"
    );
    text.parse().unwrap()
}

/// GET /api/v1/log's signedTreeHead, verified against the other fields.
fn tree_head(info: &Value, key: &LogKey) -> Checkpoint {
    let head = Checkpoint::parse(info["signedTreeHead"].as_str().expect("signedTreeHead"));
    head.verify(key);
    assert_eq!(
        head.signatures.len(),
        1,
        "v1 replies carry one signature line"
    );
    assert_eq!(head.size, info["treeSize"].as_u64().unwrap());
    assert_eq!(hex::encode(head.root), info["rootHash"].as_str().unwrap());
    assert_eq!(head.origin, format!("{HOSTNAME} - {}", tree_id(info)));
    assert_eq!(head.signatures[0].0, HOSTNAME);
    head
}

fn submit_artifacts(tlog: &Tlog, key: &LogKey, signer: &Signer, n: usize) -> Vec<LogEntry> {
    (0..n)
        .map(|i| {
            tlog.submit(
                &signer.hashedrekord(format!("artifact {i}").as_bytes()),
                key,
            )
        })
        .collect()
}

/// Submits `n` unique entries from `threads` threads at once.
fn submit_concurrently(tlog: &Tlog, key: &LogKey, n: usize, threads: usize) -> Vec<LogEntry> {
    let mut entries: Vec<LogEntry> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let signer = Signer::new();
                    (t..n)
                        .step_by(threads)
                        .map(|i| {
                            tlog.submit(&signer.hashedrekord(format!("bulk {i}").as_bytes()), key)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    entries.sort_by_key(|e| e.log_index);
    entries
}

fn get_entry(tlog: &Tlog, path: &str) -> LogEntry {
    let reply = tlog.get(path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    LogEntry::from_reply(&reply.text)
}

fn retrieve(tlog: &Tlog, path: &str, query: &Value) -> Vec<LogEntry> {
    let reply = tlog.post(path, query);
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    reply
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(LogEntry::from_value)
        .collect()
}

fn ids(entries: &[LogEntry]) -> BTreeSet<String> {
    entries.iter().map(|e| e.id.clone()).collect()
}

#[test]
fn submission_answers_a_verifiable_rekor_log_entry() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let signer = Signer::new();
    let proposed = signer.hashedrekord(b"artifact one");
    let before = now();
    let entry = tlog.submit(&proposed, &key);
    assert!((before - 5..=now() + 5).contains(&entry.integrated_time));
    assert_eq!(
        (entry.log_index, entry.index_in_shard, entry.tree_size),
        (0, 0, 1)
    );
    assert!(entry.hashes.is_empty());
    assert_eq!(
        entry.root,
        entry.leaf_hash(),
        "a one-leaf tree's root is its leaf"
    );

    let info = tlog.log_info();
    assert_eq!(entry.tree_id(), tree_id(&info));
    assert_eq!(
        entry.checkpoint_note,
        info["signedTreeHead"].as_str().unwrap()
    );
    tree_head(&info, &key);

    // The body is the canonical form of exactly what was proposed.
    let body = entry.body_json();
    assert_eq!(body["kind"], "hashedrekord");
    assert_eq!(body["apiVersion"], "0.0.1");
    assert_eq!(body["spec"]["data"], proposed["spec"]["data"]);
    assert_eq!(body["spec"]["signature"], proposed["spec"]["signature"]);

    // A duplicate is refused and points at the original.
    let reply = tlog.post("/api/v1/log/entries", &proposed);
    let message = reply.expect_error(409);
    assert_eq!(
        message,
        format!(
            "an equivalent entry already exists in the transparency log with UUID {}",
            entry.id
        )
    );
    assert_eq!(
        reply.header("Location"),
        Some(format!("/api/v1/log/entries/{}", entry.id).as_str())
    );

    // Reads answer the same entry, proven against the latest checkpoint.
    let second = tlog.submit(&signer.hashedrekord(b"artifact two"), &key);
    assert_eq!((second.log_index, second.tree_size), (1, 2));
    for path in [
        "/api/v1/log/entries?logIndex=0".to_owned(),
        format!("/api/v1/log/entries/{}", entry.id),
        format!("/api/v1/log/entries/{}", &entry.id[16..]),
    ] {
        let read = get_entry(&tlog, &path);
        read.verify(&key);
        assert_eq!(read.id, entry.id);
        assert_eq!(read.body, entry.body);
        assert_eq!(read.integrated_time, entry.integrated_time);
        assert_eq!(read.set, entry.set, "the SET is made once, at integration");
        assert_eq!(read.tree_size, 2);
    }
    let read = get_entry(&tlog, "/api/v1/log/entries?logIndex=1");
    assert_eq!(read.id, second.id);
}

#[test]
fn dsse_entries_are_accepted_and_verified() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let signer = Signer::new();
    let payload_type = "application/vnd.in-toto+json";
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#;
    let envelope = signer.dsse_envelope(payload_type, payload);
    let entry = tlog.submit(&signer.dsse(&envelope), &key);

    let body = entry.body_json();
    assert_eq!(body["kind"], "dsse");
    assert_eq!(body["apiVersion"], "0.0.1");
    let spec = &body["spec"];
    assert_eq!(
        spec["envelopeHash"],
        json!({"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope.as_bytes()))})
    );
    assert_eq!(
        spec["payloadHash"],
        json!({"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))})
    );
    let envelope_json: Value = serde_json::from_str(&envelope).unwrap();
    assert_eq!(
        spec["signatures"],
        json!([{
            "signature": envelope_json["signatures"][0]["sig"],
            "verifier": STANDARD.encode(signer.public_key_pem()),
        }])
    );

    // A signature over the payload alone (not the PAE) is refused.
    let mut forged = envelope_json.clone();
    forged["signatures"][0]["sig"] = json!(STANDARD.encode(signer.sign(payload)));
    tlog.post("/api/v1/log/entries", &signer.dsse(&forged.to_string()))
        .expect_error(400);
    // So is an envelope verified by another key.
    tlog.post("/api/v1/log/entries", &Signer::new().dsse(&envelope))
        .expect_error(400);
}

#[test]
fn log_info_and_consistency_proofs_verify() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let empty = tlog.log_info();
    assert_eq!(empty["treeSize"], 0);
    tree_head(&empty, &key);

    let entries = submit_artifacts(&tlog, &key, &Signer::new(), 7);
    // Sequential submissions make one checkpoint each: sizes 1..=7.
    let heads: Vec<(u64, Hash)> = entries.iter().map(|e| (e.tree_size, e.root)).collect();
    assert_eq!(
        heads.iter().map(|h| h.0).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );

    let info = tlog.log_info();
    let object = info.as_object().unwrap();
    for field in ["rootHash", "signedTreeHead", "treeID", "treeSize"] {
        assert!(object.contains_key(field), "{field} missing from {info}");
    }
    assert!(
        info.get("inactiveShards")
            .is_none_or(|s| s.as_array().unwrap().is_empty()),
        "a log never rotated has no inactive shards: {info}"
    );
    let head = tree_head(&info, &key);
    assert_eq!((head.size, head.root), heads[6]);

    for (i, &first) in heads.iter().enumerate() {
        for &second in &heads[i + 1..] {
            check_consistency(&tlog, None, first, second);
        }
    }
    // The same proofs of the shard named explicitly.
    check_consistency(&tlog, Some(tree_id(&info)), heads[2], heads[6]);
    // Equal sizes are allowed (as upstream) and need no hashes.
    check_consistency(&tlog, None, heads[3], heads[3]);
}

#[test]
fn public_key_is_the_pem_the_log_id_names() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let reply = tlog.get("/api/v1/log/publicKey");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("Content-Type")
            .unwrap()
            .starts_with("application/x-pem-file")
    );
    assert!(reply.text.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let entry = tlog.submit(&Signer::new().hashedrekord(b"x"), &key);
    assert_eq!(entry.log_id, hex::encode(Sha256::digest(&key.der)));

    let id = tree_id(&tlog.log_info());
    let reply = tlog.get(&format!("/api/v1/log/publicKey?treeID={id}"));
    assert_eq!(reply.text, key.pem);
    tlog.get(&format!("/api/v1/log/publicKey?treeID={}", id ^ 1))
        .expect_error(404);
    tlog.get("/api/v1/log/publicKey?treeID=abc")
        .expect_error(400);
}

#[test]
fn retrieve_by_ids_indexes_and_entries() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let signer = Signer::new();
    let proposed: Vec<Value> = (0..3)
        .map(|i| signer.hashedrekord(format!("retrieve {i}").as_bytes()))
        .collect();
    let entries: Vec<LogEntry> = proposed.iter().map(|p| tlog.submit(p, &key)).collect();

    // sigstore-python posts to the trailing-slash form.
    for path in [
        "/api/v1/log/entries/retrieve",
        "/api/v1/log/entries/retrieve/",
    ] {
        let by_id = retrieve(
            &tlog,
            path,
            &json!({"entryUUIDs": [entries[0].id, entries[1].id[16..]]}),
        );
        assert_eq!(ids(&by_id), ids(&entries[..2]));
        for found in &by_id {
            found.verify(&key);
        }

        let by_index = retrieve(&tlog, path, &json!({"logIndexes": [0, 2]}));
        assert_eq!(
            ids(&by_index),
            ids(&[entries[0].clone(), entries[2].clone()])
        );

        let by_content = retrieve(&tlog, path, &json!({"entries": [proposed[1]]}));
        assert_eq!(ids(&by_content), ids(&entries[1..2]));
        assert_eq!(by_content[0].body, entries[1].body);

        // Entries not in the log are left out.
        let missing = retrieve(
            &tlog,
            path,
            &json!({"logIndexes": [1, 99], "entryUUIDs": ["00".repeat(32)]}),
        );
        assert_eq!(ids(&missing), ids(&entries[1..2]));
    }

    let eleven: Vec<u64> = (0..11).collect();
    tlog.post(
        "/api/v1/log/entries/retrieve",
        &json!({"logIndexes": eleven}),
    )
    .expect_error(422);
    let six: Vec<u64> = (0..6).collect();
    let five: Vec<&str> = entries
        .iter()
        .map(|e| e.id.as_str())
        .cycle()
        .take(5)
        .collect();
    tlog.post(
        "/api/v1/log/entries/retrieve",
        &json!({"logIndexes": six, "entryUUIDs": five}),
    )
    .expect_error(422);
    tlog.post("/api/v1/log/entries/retrieve", &json!({}))
        .expect_error(400);
    tlog.post("/api/v1/log/entries/retrieve", &json!({"logIndexes": [-1]}))
        .expect_error(400);
    tlog.post(
        "/api/v1/log/entries/retrieve",
        &json!({"entryUUIDs": ["xyz"]}),
    )
    .expect_error(400);
    tlog.post_raw("/api/v1/log/entries/retrieve", b"{not json".to_vec())
        .expect_error(400);
}

#[test]
fn index_search_by_hash_and_public_key() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let (alice, bob) = (Signer::new(), Signer::new());
    let alice_x = tlog.submit(&alice.hashedrekord(b"X"), &key);
    let alice_y = tlog.submit(&alice.hashedrekord(b"Y"), &key);
    let bob_x = tlog.submit(&bob.hashedrekord(b"X"), &key);

    let search = |query: Value| -> BTreeSet<String> {
        let reply = tlog.post("/api/v1/index/retrieve", &query);
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        reply
            .json()
            .as_array()
            .expect("an array of ids")
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    };
    let set = |entries: &[&LogEntry]| {
        entries
            .iter()
            .map(|e| e.id.clone())
            .collect::<BTreeSet<_>>()
    };
    let hash = |artifact: &[u8]| format!("sha256:{}", hex::encode(Sha256::digest(artifact)));
    let public_key =
        |s: &Signer| json!({"format": "x509", "content": STANDARD.encode(s.public_key_pem())});

    assert_eq!(
        search(json!({"hash": hash(b"X")})),
        set(&[&alice_x, &bob_x])
    );
    assert_eq!(search(json!({"hash": hash(b"Y")})), set(&[&alice_y]));
    assert_eq!(search(json!({"hash": hash(b"Z")})), set(&[]));
    assert_eq!(
        search(json!({"publicKey": public_key(&alice)})),
        set(&[&alice_x, &alice_y])
    );
    assert_eq!(
        search(json!({"hash": hash(b"X"), "publicKey": public_key(&alice), "operator": "and"})),
        set(&[&alice_x])
    );
    assert_eq!(
        search(json!({"hash": hash(b"Y"), "publicKey": public_key(&bob), "operator": "or"})),
        set(&[&alice_y, &bob_x])
    );

    tlog.post_raw("/api/v1/index/retrieve", b"nope".to_vec())
        .expect_error(400);
    tlog.post("/api/v1/index/retrieve", &json!({"hash": "sha256:zz"}))
        .expect_error(400);
}

#[test]
fn tiles_of_a_small_tree() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let entries = submit_artifacts(&tlog, &key, &Signer::new(), 5);
    let leaves: Vec<Hash> = entries.iter().map(LogEntry::leaf_hash).collect();

    let reply = tlog.get("/checkpoint");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    let checkpoint = Checkpoint::parse(&reply.text);
    checkpoint.verify(&key);
    assert_eq!(checkpoint.size, 5);
    assert_eq!(checkpoint.root, merkle_root(&leaves));
    let info = tlog.log_info();
    assert_eq!(reply.text, info["signedTreeHead"].as_str().unwrap());

    let reply = tlog.get("/tile/0/000.p/5");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.bytes, leaves.concat());
    let reply = tlog.get("/tile/entries/000.p/5");
    assert_eq!(reply.status, 200, "{}", reply.text);
    let bodies: Vec<Vec<u8>> = entries.iter().map(|e| e.body.clone()).collect();
    assert_eq!(split_bundle(&reply.bytes), bodies);

    // Tiles the tree does not have yet.
    for path in [
        "/tile/0/000",
        "/tile/entries/000",
        "/tile/0/001.p/1",
        "/tile/1/000.p/1",
    ] {
        tlog.get(path).expect_error(404);
    }

    // The same shard under its tree id.
    let id = tree_id(&info);
    let reply = tlog.get(&format!("/shards/{id}/checkpoint"));
    assert_eq!(reply.status, 200);
    assert_eq!(Checkpoint::parse(&reply.text).root, checkpoint.root);
    let reply = tlog.get(&format!("/shards/{id}/tile/0/000.p/5"));
    assert_eq!(reply.bytes, leaves.concat());
    tlog.get(&format!("/shards/{}/checkpoint", id ^ 1))
        .expect_error(404);
    tlog.get("/shards/abc/checkpoint").expect_error(400);
}

#[test]
fn tiles_and_proofs_across_a_full_tile() {
    // Small batches make many checkpoints and many partial-tile rewrites.
    let (_dir, tlog, key) = fresh_log("batch: {max_size: 8, max_age_ms: 5}\n", &[]);
    let entries = submit_concurrently(&tlog, &key, 300, 8);
    let indexes: Vec<u64> = entries.iter().map(|e| e.log_index).collect();
    assert_eq!(indexes, (0..300).collect::<Vec<_>>(), "indexes are dense");
    let leaves: Vec<Hash> = entries.iter().map(LogEntry::leaf_hash).collect();

    let info = tlog.log_info();
    let head = tree_head(&info, &key);
    assert_eq!(head.size, 300);
    assert_eq!(head.root, merkle_root(&leaves));

    let full = tlog.get("/tile/0/000");
    assert_eq!(full.status, 200, "{}", full.text);
    assert!(full.header("Cache-Control").unwrap().contains("immutable"));
    assert_eq!(full.bytes, leaves[..256].concat());
    let partial = tlog.get("/tile/0/001.p/44");
    assert_eq!(partial.status, 200, "{}", partial.text);
    assert_eq!(partial.bytes, leaves[256..].concat());
    let level1 = tlog.get("/tile/1/000.p/1");
    assert_eq!(level1.status, 200, "{}", level1.text);
    assert_eq!(level1.bytes, merkle_root(&leaves[..256]));
    // The tree's root from its tiles alone.
    assert_eq!(
        node_hash(
            &level1.bytes.try_into().unwrap(),
            &merkle_root(&leaves[256..])
        ),
        head.root
    );

    let bundle = tlog.get("/tile/entries/000");
    assert_eq!(bundle.status, 200);
    assert!(
        bundle
            .header("Cache-Control")
            .unwrap()
            .contains("immutable")
    );
    let bodies = split_bundle(&bundle.bytes);
    assert_eq!(bodies.len(), 256);
    for (body, entry) in bodies.iter().zip(&entries) {
        assert_eq!(body, &entry.body);
    }
    let bundle = tlog.get("/tile/entries/001.p/44");
    assert_eq!(split_bundle(&bundle.bytes).len(), 44);
    for path in [
        "/tile/1/000",
        "/tile/0/001",
        "/tile/entries/001",
        "/tile/2/000.p/1",
    ] {
        tlog.get(path).expect_error(404);
    }

    // Consistency from checkpoints seen during the load, and across the tile edge.
    let mut seen: Vec<(u64, Hash)> = entries.iter().map(|e| (e.tree_size, e.root)).collect();
    seen.sort();
    seen.dedup();
    let final_head = (head.size, head.root);
    for &old in seen.iter().step_by(5) {
        check_consistency(&tlog, None, old, final_head);
    }
    for size in [1, 100, 255, 256, 257, 299] {
        check_consistency(
            &tlog,
            None,
            (size, merkle_root(&leaves[..size as usize])),
            final_head,
        );
    }
    for index in [0, 255, 256, 299] {
        let read = get_entry(&tlog, &format!("/api/v1/log/entries?logIndex={index}"));
        read.verify(&key);
        assert_eq!(read.tree_size, 300);
    }
}

#[test]
fn health_readiness_and_metrics() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let reply = tlog.get("/healthz");
    assert_eq!((reply.status, reply.text.trim()), (200, "ok"));
    let reply = tlog.get("/readyz");
    assert_eq!(reply.status, 200);
    tlog.submit(&Signer::new().hashedrekord(b"metered"), &key);
    let reply = tlog.get("/metrics");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        reply.text.contains("\natesto_tlog_entries_total 1\n"),
        "{}",
        reply.text
    );
    for histogram in ["atesto_tlog_batch_size", "atesto_tlog_commit_seconds"] {
        assert!(
            reply.text.contains(&format!("{histogram}_bucket{{")),
            "{histogram}"
        );
        assert!(
            reply.text.contains(&format!("{histogram}_count 1")),
            "{histogram}"
        );
    }
}

/// No request a client can make should be the server's fault.
fn assert_no_server_errors(tlog: &Tlog) {
    let metrics = tlog.get("/metrics").text;
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("atesto_tlog_http_responses_total") && l.contains("status=\"5")),
        "some request answered 5xx:\n{metrics}"
    );
}

#[test]
fn hostile_submissions_are_refused_in_the_rekor_shape() {
    let (_dir, tlog, key) = fresh_log("body_limit: 2048\n", &[]);
    let signer = Signer::new();
    let artifact = b"hostile";
    let digest = hex::encode(Sha256::digest(artifact));
    let sig = STANDARD.encode(signer.sign(artifact));
    let pem = STANDARD.encode(signer.public_key_pem());
    let submit = |body: Vec<u8>| tlog.post_raw("/api/v1/log/entries", body);
    let submit_json = |body: Value| tlog.post("/api/v1/log/entries", &body);

    // Over the configured limit.
    let mut big = signer.hashedrekord(artifact);
    big["padding"] = json!("x".repeat(4096));
    submit_json(big).expect_error(413);

    for raw in [&b""[..], b"not json", b"[]", b"{\"kind\":", b"\xff\xfe"] {
        submit(raw.to_vec()).expect_error(400);
    }
    let mut cases: Vec<(&str, Value)> = vec![
        (
            "unknown kind",
            json!({"kind": "nope", "apiVersion": "0.0.1", "spec": {}}),
        ),
        (
            "no spec",
            json!({"kind": "hashedrekord", "apiVersion": "0.0.1"}),
        ),
        (
            "bad signature base64",
            hashedrekord("sha256", &digest, "!!!not base64!!!", &pem),
        ),
        (
            "bad key base64",
            hashedrekord("sha256", &digest, &sig, "%%%"),
        ),
        (
            "not a PEM",
            hashedrekord("sha256", &digest, &sig, &STANDARD.encode("hello")),
        ),
        (
            "garbled PEM",
            hashedrekord(
                "sha256",
                &digest,
                &sig,
                &STANDARD.encode("-----BEGIN PUBLIC KEY-----\nAAAA!!\n-----END PUBLIC KEY-----\n"),
            ),
        ),
        (
            "sha512 with a sha256 digest",
            hashedrekord("sha512", &digest, &sig, &pem),
        ),
        (
            "sha256 with a longer digest",
            hashedrekord("sha256", &format!("{digest}{digest}"), &sig, &pem),
        ),
        (
            "sha384 with a sha256 digest",
            hashedrekord("sha384", &digest, &sig, &pem),
        ),
        (
            "unknown algorithm",
            hashedrekord("md5", &digest[..32], &sig, &pem),
        ),
        (
            "non-hex digest",
            hashedrekord("sha256", &"zz".repeat(32), &sig, &pem),
        ),
        (
            "signature of another artifact",
            hashedrekord("sha256", &hex::encode(Sha256::digest(b"other")), &sig, &pem),
        ),
        (
            "RSA-1024 key",
            hashedrekord(
                "sha256",
                &hex::encode(Sha256::digest(WEAK_ARTIFACT)),
                WEAK_SIGNATURE_B64,
                &STANDARD.encode(WEAK_RSA_PEM),
            ),
        ),
    ];
    let mut future = signer.hashedrekord(artifact);
    future["apiVersion"] = json!("9.9.9");
    cases.push(("unsupported apiVersion", future));
    cases.push(("unparsable envelope", signer.dsse("not an envelope")));
    for (what, body) in cases {
        let reply = submit_json(body);
        assert_eq!(reply.status, 400, "{what}: {}", reply.text);
        reply.expect_error(400);
    }

    assert_eq!(tlog.log_info()["treeSize"], 0, "nothing hostile was logged");
    // The log still takes a good entry.
    tlog.submit(&signer.hashedrekord(artifact), &key);
    assert_no_server_errors(&tlog);
}

#[test]
fn hostile_reads_are_refused_in_the_rekor_shape() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let entries = submit_artifacts(&tlog, &key, &Signer::new(), 2);
    let info = tlog.log_info();
    let other_tree = format!("{:016x}", tree_id(&info) ^ 1);

    let cases: Vec<(String, u16)> = [
        // logIndex
        ("/api/v1/log/entries?logIndex=-1", 400),
        ("/api/v1/log/entries?logIndex=2", 404),
        ("/api/v1/log/entries?logIndex=18446744073709551615", 404),
        ("/api/v1/log/entries?logIndex=18446744073709551616", 400),
        (
            "/api/v1/log/entries?logIndex=99999999999999999999999999",
            400,
        ),
        ("/api/v1/log/entries?logIndex=abc", 400),
        ("/api/v1/log/entries?logIndex=", 400),
        ("/api/v1/log/entries?logIndex=1.5", 400),
        ("/api/v1/log/entries", 400),
        // consistency proofs
        ("/api/v1/log/proof?firstSize=2&lastSize=1", 400),
        ("/api/v1/log/proof?firstSize=1&lastSize=3", 400),
        ("/api/v1/log/proof?firstSize=0&lastSize=2", 400),
        ("/api/v1/log/proof?firstSize=a&lastSize=2", 400),
        ("/api/v1/log/proof?firstSize=1&lastSize=-2", 400),
        (
            "/api/v1/log/proof?firstSize=1&lastSize=18446744073709551616",
            400,
        ),
        (
            "/api/v1/log/proof?firstSize=1&lastSize=18446744073709551615",
            400,
        ),
        ("/api/v1/log/proof?firstSize=1", 400),
        ("/api/v1/log/proof?firstSize=1&lastSize=1&treeID=x", 400),
        // unknown path, methods
        ("/api/v1/nothing", 404),
        // `/` is the explorer page (tests/explorer.rs); beside its assets, nothing.
        ("/explorer/nothing.js", 404),
        ("/api/v2/log/entries/0", 404),
        // tiles
        ("/tile/0", 400),
        ("/tile/0/1", 400),
        ("/tile/a/000", 400),
        ("/tile/99/000", 400),
        ("/tile/0/0000", 400),
        ("/tile/0/000.p/0", 400),
        ("/tile/0/000.p/256", 400),
        ("/tile/0/000.p/", 400),
        ("/tile/0/000.p/x", 400),
        ("/tile/0/x000/000", 400),
        ("/tile/0/x001/x002/x003/x004/x005/x006/x007/000", 400),
        ("/tile/entries/00a", 400),
        ("/tile/entries/000.p/-1", 400),
        ("/tile/0/001", 404),
        ("/tile/0/000.p/3", 404),
        ("/tile/0/x001/000", 404),
        ("/tile/entries/000", 404),
        ("/tile/entries/999.p/1", 404),
        ("/tile/5/000.p/1", 404),
        // percent-encoded bytes that are not UTF-8
        ("/api/v1/log/entries/%FF", 400),
        ("/api/v1/log/entries?logIndex=%FF", 400),
        ("/tile/%FF/000", 400),
        ("/shards/%FF/checkpoint", 400),
    ]
    .into_iter()
    .map(|(path, status)| (path.to_owned(), status))
    .chain([
        // entry ids
        (format!("/api/v1/log/entries/{}", "a".repeat(63)), 400),
        (format!("/api/v1/log/entries/{}", "a".repeat(65)), 400),
        (format!("/api/v1/log/entries/{}", "g".repeat(64)), 400),
        (format!("/api/v1/log/entries/{}", "\u{e9}".repeat(32)), 400),
        (format!("/api/v1/log/entries/{}", "0".repeat(64)), 404),
        (
            format!("/api/v1/log/entries/{other_tree}{}", &entries[0].id[16..]),
            404,
        ),
        (
            format!(
                "/api/v1/log/proof?firstSize=1&lastSize=1&treeID={}",
                tree_id(&info) ^ 1
            ),
            404,
        ),
    ])
    .collect();
    for (path, status) in &cases {
        let reply = tlog.get(path);
        assert_eq!(reply.status, *status, "GET {path}: {}", reply.text);
        reply.expect_error(*status);
    }

    for (method, path) in [
        (Method::DELETE, "/api/v1/log"),
        (Method::PUT, "/api/v1/log/entries"),
        (Method::GET, "/api/v1/index/retrieve"),
        (Method::GET, "/api/v1/log/entries/retrieve/"),
        (Method::POST, "/checkpoint"),
        (Method::POST, "/tile/0/000"),
        (Method::GET, "/admin/v1/rotate"),
    ] {
        let reply = tlog.request(method.clone(), path);
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.text);
        reply.expect_error(405);
    }
    assert_no_server_errors(&tlog);
}

#[test]
fn rotation_starts_a_new_shard_and_keeps_the_old_one_readable() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let signer = Signer::new();
    let proposed: Vec<Value> = (0..3)
        .map(|i| signer.hashedrekord(format!("before rotation {i}").as_bytes()))
        .collect();
    let old: Vec<LogEntry> = proposed.iter().map(|p| tlog.submit(p, &key)).collect();
    let old_info = tlog.log_info();
    let old_id = tree_id(&old_info);

    let rotate_url = tlog.url("/admin/v1/rotate");
    let http = client();
    Reply::from(http.post(&rotate_url).send().unwrap()).expect_error(401);
    Reply::from(http.post(&rotate_url).bearer_auth("wrong").send().unwrap()).expect_error(403);
    assert_eq!(
        tree_id(&tlog.log_info()),
        old_id,
        "a refused rotation changes nothing"
    );

    let output = atesto(&[
        "tlog",
        "rotate",
        "--data",
        tlog.data.to_str().unwrap(),
        "--addr",
        &tlog.addr,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rotated: Value = serde_json::from_slice(&output.stdout).expect("rotate prints JSON");

    let info = tlog.log_info();
    let new_id = tree_id(&info);
    assert_ne!(new_id, old_id);
    assert_eq!(rotated["treeID"], new_id.to_string());
    assert_eq!(info["treeSize"], 0);
    tree_head(&info, &key);
    let inactive = info["inactiveShards"].as_array().expect("inactiveShards");
    assert_eq!(inactive.len(), 1);
    assert_eq!(inactive[0]["treeID"], old_id.to_string());
    assert_eq!(inactive[0]["treeSize"], 3);
    assert_eq!(inactive[0]["rootHash"], old_info["rootHash"]);
    assert_eq!(inactive[0]["signedTreeHead"], old_info["signedTreeHead"]);

    // A new entry continues the global index but starts the new tree.
    let new = tlog.submit(&signer.hashedrekord(b"after rotation"), &key);
    assert_eq!(
        (new.log_index, new.index_in_shard, new.tree_size),
        (3, 0, 1)
    );
    assert_eq!(new.tree_id(), new_id);
    assert_eq!(&new.id[..16], format!("{new_id:016x}"));
    assert_eq!(
        get_entry(&tlog, "/api/v1/log/entries?logIndex=3").id,
        new.id
    );

    // Old entries stay readable, proven against the old shard's checkpoint.
    for (index, entry) in old.iter().enumerate() {
        for path in [
            format!("/api/v1/log/entries?logIndex={index}"),
            format!("/api/v1/log/entries/{}", entry.id),
            format!("/api/v1/log/entries/{}", &entry.id[16..]),
        ] {
            let read = get_entry(&tlog, &path);
            read.verify(&key);
            assert_eq!(read.id, entry.id);
            assert_eq!(
                (read.log_index, read.index_in_shard),
                (index as u64, index as u64)
            );
            assert_eq!(
                read.checkpoint_note,
                old_info["signedTreeHead"].as_str().unwrap()
            );
        }
    }
    // The old id with the new tree's prefix names nothing.
    tlog.get(&format!(
        "/api/v1/log/entries/{new_id:016x}{}",
        &old[0].id[16..]
    ))
    .expect_error(404);
    // A duplicate of an old entry points at it in its own shard.
    let message = tlog
        .post("/api/v1/log/entries", &proposed[0])
        .expect_error(409);
    assert!(message.ends_with(&old[0].id), "{message}");

    // Search answers each entry under its own shard's id.
    let hits = tlog.post(
        "/api/v1/index/retrieve",
        &json!({"publicKey": {
            "format": "x509",
            "content": STANDARD.encode(signer.public_key_pem()),
        }}),
    );
    assert_eq!(hits.status, 200, "{}", hits.text);
    let expected: BTreeSet<String> = old.iter().chain([&new]).map(|e| e.id.clone()).collect();
    let found: BTreeSet<String> = serde_json::from_str(&hits.text).unwrap();
    assert_eq!(found, expected);

    let old_head = (3, old[2].root);
    check_consistency(&tlog, Some(old_id), (1, old[0].root), old_head);
    check_consistency(&tlog, Some(old_id), (2, old[1].root), old_head);
    tlog.get(&format!(
        "/api/v1/log/proof?firstSize=1&lastSize=4&treeID={old_id}"
    ))
    .expect_error(400);
    let reply = tlog.get(&format!("/shards/{old_id}/checkpoint"));
    assert_eq!(reply.text, old_info["signedTreeHead"].as_str().unwrap());
    let reply = tlog.get(&format!("/shards/{old_id}/tile/0/000.p/3"));
    assert_eq!(
        reply.bytes,
        old.iter()
            .map(LogEntry::leaf_hash)
            .collect::<Vec<_>>()
            .concat()
    );
    let checkpoint = Checkpoint::parse(&tlog.get("/checkpoint").text);
    assert_eq!(
        (checkpoint.size, checkpoint.origin),
        (1, format!("{HOSTNAME} - {new_id}"))
    );
}

#[test]
fn keygen_writes_private_pkcs8_keys_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    for key_type in ["ed25519", "ecdsa-p256"] {
        let path = dir.path().join(format!("{key_type}.pem"));
        let out = path.to_str().unwrap();
        let output = atesto(&["keygen", "--out", out, "--type", key_type]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{key_type} key mode");
        }
        let pem = std::fs::read_to_string(&path).unwrap();
        let (label, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
        assert_eq!(label, "PRIVATE KEY");
        let public_der = match key_type {
            "ed25519" => Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                .expect("an Ed25519 PKCS#8 key")
                .public_key()
                .as_der()
                .unwrap()
                .as_ref()
                .to_vec(),
            _ => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                .expect("an ECDSA P-256 PKCS#8 key")
                .public_key()
                .as_der()
                .unwrap()
                .as_ref()
                .to_vec(),
        };
        // It prints the public half.
        let (label, printed) = pem_rfc7468::decode_vec(&output.stdout).unwrap();
        assert_eq!((label, printed), ("PUBLIC KEY", public_der));

        let again = atesto(&["keygen", "--out", out, "--type", key_type]);
        assert!(!again.status.success(), "keygen overwrote {out}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            pem,
            "the key file changed"
        );
    }
    let bad = atesto(&[
        "keygen",
        "--out",
        dir.path().join("rsa.pem").to_str().unwrap(),
        "--type",
        "rsa",
    ]);
    assert!(!bad.status.success());
    assert!(!dir.path().join("rsa.pem").exists());
}

#[test]
fn tlog_signs_with_the_key_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("log.pem");
    assert!(
        atesto(&["keygen", "--out", key_path.to_str().unwrap()])
            .status
            .success()
    );
    let der = pem_rfc7468::decode_vec(std::fs::read(&key_path).unwrap().as_slice())
        .unwrap()
        .1;
    let expected = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
        .unwrap()
        .public_key()
        .as_der()
        .unwrap()
        .as_ref()
        .to_vec();

    let (_data, tlog, key) = fresh_log("", &["--key", key_path.to_str().unwrap()]);
    assert_eq!(key.der, expected);
    let entry = tlog.submit(&Signer::new().hashedrekord(b"keyed"), &key);
    assert_eq!(entry.log_id, hex::encode(Sha256::digest(&expected)));
    drop(tlog);

    // An Ed25519 key cannot be the log key: clients need ECDSA P-256.
    let ed_path = dir.path().join("ed.pem");
    assert!(
        atesto(&[
            "keygen",
            "--out",
            ed_path.to_str().unwrap(),
            "--type",
            "ed25519"
        ])
        .status
        .success()
    );
    let mut child = Tlog::spawn(
        &dir.path().join("data2"),
        &free_addr(),
        &["--key", ed_path.to_str().unwrap()],
    );
    let status =
        wait_exit(&mut child, std::time::Duration::from_secs(20)).expect("refuses to start");
    assert!(!status.success());
    assert!(read_stderr(&mut child).contains("ECDSA P-256"));
}

#[test]
fn witness_key_adds_a_second_checkpoint_signature_only_on_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let witness_path = dir.path().join("witness.pem");
    let output = atesto(&[
        "keygen",
        "--out",
        witness_path.to_str().unwrap(),
        "--type",
        "ed25519",
    ]);
    assert!(output.status.success());
    let der = pem_rfc7468::decode_vec(std::fs::read(&witness_path).unwrap().as_slice())
        .unwrap()
        .1;
    let witness = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).unwrap();

    let config = format!("witness_key: {}\n", witness_path.display());
    let (_data, tlog, key) = fresh_log(&config, &[]);
    let entry = tlog.submit(&Signer::new().hashedrekord(b"witnessed"), &key);

    let note = tlog.get("/checkpoint").text;
    let checkpoint = Checkpoint::parse(&note);
    assert_eq!(checkpoint.signatures.len(), 2, "{note}");
    checkpoint.verify(&key);
    checkpoint.verify_ed25519(HOSTNAME, witness.public_key().as_ref());
    assert_eq!(checkpoint.signatures[1].0, HOSTNAME);

    // Rekor v1 replies keep only the ECDSA line, for sigstore-rs.
    let info = tlog.log_info();
    let head = tree_head(&info, &key);
    assert_eq!(head.text, checkpoint.text);
    assert_eq!(entry.checkpoint.signatures.len(), 1);
    assert!(note.starts_with(info["signedTreeHead"].as_str().unwrap()));
}

#[test]
fn concurrent_duplicates_make_one_entry() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let proposed = Signer::new().hashedrekord(b"raced");
    // Sent together, most land in one batch: the sequencer must dedupe within it.
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| tlog.post("/api/v1/log/entries", &proposed)))
            .collect();
        senders.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "exactly one submission is integrated");
    let entry = LogEntry::from_reply(&created[0].text);
    entry.verify(&key);
    let location = format!("/api/v1/log/entries/{}", entry.id);
    for reply in replies.iter().filter(|r| r.status != 201) {
        let message = reply.expect_error(409);
        assert!(message.ends_with(&entry.id), "{message}");
        assert_eq!(reply.header("Location"), Some(location.as_str()));
    }
    assert_eq!(tlog.log_info()["treeSize"], 1);
}

/// A hashedrekord signed by a fresh key whose certificate carries `sans` DNS names.
fn certificate_entry(artifact: &[u8], sans: usize) -> Value {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = (0..sans)
        .map(|i| format!("host-{i:05}.example.com"))
        .collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let signer =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.serialize_der()).unwrap();
    let signature = signer
        .sign(&aws_lc_rs::rand::SystemRandom::new(), artifact)
        .unwrap();
    hashedrekord(
        "sha256",
        &hex::encode(Sha256::digest(artifact)),
        &STANDARD.encode(signature.as_ref()),
        &STANDARD.encode(cert.pem()),
    )
}

#[test]
fn canonical_bodies_that_entry_bundles_cannot_hold_are_refused() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    // A certificate is accepted as the verifier...
    let small = tlog.submit(&certificate_entry(b"certified", 2), &key);
    assert!(small.body.len() < 4096);
    // ...but one whose canonical body outgrows the 16-bit length prefix of
    // C2SP entry bundles would corrupt /tile/entries, so it is a 400.
    let big = certificate_entry(b"certified big", 3000);
    assert!(serde_json::to_vec(&big).unwrap().len() > 65_535);
    let message = tlog.post("/api/v1/log/entries", &big).expect_error(400);
    assert!(message.contains("65535"), "{message}");
    let bundle = tlog.get("/tile/entries/000.p/1");
    assert_eq!(split_bundle(&bundle.bytes), [small.body]);
    assert_no_server_errors(&tlog);
}

/// Sends raw bytes and reads one HTTP/1.1 answer: (status, body).
fn raw_exchange(addr: &str, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, body[..length].to_owned());
            }
        }
        let n = stream
            .read(&mut buffer)
            .expect("an answer before the read timeout");
        assert!(n > 0, "connection closed without a full answer: {text:?}");
        received.extend_from_slice(&buffer[..n]);
    }
}

#[test]
fn a_stalled_request_times_out_in_the_rekor_shape() {
    let (_dir, tlog, _key) = fresh_log("request_timeout_secs: 1\n", &[]);
    // Promise a body and never send it.
    let (status, body) = raw_exchange(
        &tlog.addr,
        b"POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    assert_eq!(status, 408);
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    assert_eq!(body["code"], 408);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}
