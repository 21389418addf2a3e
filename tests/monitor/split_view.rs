//! Split views: a witnessed tree head from another history.

use super::*;

#[test]
fn a_witnessed_tree_head_from_another_history_is_a_split_view() {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .unwrap();
    let honest = leaves("a", 8);
    let log = FakeLog::start_with_key(honest.clone(), pkcs8.as_ref());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let witness = dir.path().join("witness.txt");
    let run = |witness: &str| {
        monitor_command(
            &log.url,
            log.key(),
            &state,
            &["--once", "--witness", witness],
        )
        .output()
        .unwrap()
    };

    // A witness that saw an earlier tree of the same history: consistent.
    log.set(|s| s.size = 5);
    std::fs::write(&witness, log.note()).unwrap();
    log.set(|s| s.size = 8);
    expect_verified(&run(witness.to_str().unwrap()), 8, None);

    // The other side of a split view, signed by the same key: the tree of 8
    // others were shown has another root.
    let mut other = honest.clone();
    other[6] = leaf_hash(b"shown to others");
    log.set(|s| s.leaves = other.clone());
    std::fs::write(&witness, log.note()).unwrap();
    log.set(|s| s.leaves = honest.clone());
    let alert = expect_alert(&run(witness.to_str().unwrap()), "split-view");
    assert_eq!(alert["witnessed_size"], 8);
    assert_eq!(alert["witnessed_root"], hex::encode(merkle_root(&other)));
    assert_eq!(alert["root"], hex::encode(merkle_root(&honest)));

    // A smaller witnessed tree from the other history: caught by the proof.
    log.set(|s| {
        s.leaves = other.clone();
        s.size = 7;
    });
    std::fs::write(&witness, log.note()).unwrap();
    log.set(|s| {
        s.leaves = honest.clone();
        s.size = 8;
    });
    let alert = expect_alert(&run(witness.to_str().unwrap()), "split-view");
    assert!(
        alert["reason"]
            .as_str()
            .unwrap()
            .contains("consistency proof"),
        "{alert}"
    );

    // Another monitor's view over HTTP: a mirror of the log under the same
    // key, serving the other history at a larger size than the log served
    // the monitor (the log has grown meanwhile, so it can prove 8 -> 10).
    log.set(|s| s.leaves.extend(leaves("c", 2)));
    let mut longer = other.clone();
    longer.extend(leaves("b", 2));
    let mirror = FakeLog::start_with_key(longer, pkcs8.as_ref());
    let alert = expect_alert(&run(&format!("{}/api/v1/log", mirror.url)), "split-view");
    assert_eq!(alert["witnessed_size"], 10);

    // A witness file not signed by the log is not evidence: an error, exit 1.
    let stranger = FakeLog::start(honest.clone());
    std::fs::write(&witness, stranger.note()).unwrap();
    let output = run(witness.to_str().unwrap());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not signed by the log"));
}
