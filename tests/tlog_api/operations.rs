//! Operating the log: health, readiness and metrics, shard rotation.

use super::*;

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
