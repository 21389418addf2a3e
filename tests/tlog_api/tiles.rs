//! The C2SP tiles served beside the Rekor API.

use super::*;

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
