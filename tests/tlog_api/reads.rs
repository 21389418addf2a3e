//! Reading the log: tree heads and consistency proofs, the public key,
//! retrieve and index search.

use super::*;

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
