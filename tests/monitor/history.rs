//! A log's history as the monitor checks it: growth, forks, rollbacks,
//! bad signatures, an unreachable log.

use super::*;

#[test]
fn the_fake_logs_proofs_verify_independently() {
    // The staged forks below are only evidence if honest proofs pass.
    let d = leaves("a", 13);
    for n in 1..=d.len() {
        for m in 1..=n {
            let proof = subproof(m, &d[..n], true);
            assert!(verify_consistency(
                m as u64,
                n as u64,
                &proof,
                &merkle_root(&d[..m]),
                &merkle_root(&d[..n])
            ));
        }
    }
}

#[test]
fn consistent_growth_of_a_live_log_passes_repeatedly() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("monitor/state.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    let signer = Signer::new();
    let url = tlog.url("");

    let mut previous = None;
    for round in 0..4u64 {
        // Round 2 adds nothing: an unchanged log must pass too.
        if round != 2 {
            for i in 0..=round {
                tlog.submit(
                    &signer.hashedrekord(format!("r{round}e{i}").as_bytes()),
                    &key,
                );
            }
        }
        let size = tlog.log_info()["treeSize"].as_u64().unwrap();
        let line = expect_verified(&monitor_once(&url, &key_path, &state), size, previous);
        let saved = read_state(&state);
        assert_eq!(saved["verified"]["size"], size);
        assert_eq!(saved["verified"]["root"], line["root"]);
        // What the state holds is the log's own signed checkpoint.
        let note = Checkpoint::parse(saved["verified"]["signed"].as_str().unwrap());
        note.verify(&key);
        assert_eq!(note.size, size);
        previous = Some(size);
    }

    // The same log through a trusted root naming it: same verdict.
    let trusted_root = dir.path().join("trusted_root.json");
    let root_json = json!({"tlogs": [{
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": STANDARD.encode(&key.der), "keyDetails": "PKIX_ECDSA_P256_SHA_256"},
        "logId": {"keyId": STANDARD.encode(Sha256::digest(&key.der))},
    }]});
    std::fs::write(&trusted_root, root_json.to_string()).unwrap();
    tlog.submit(&signer.hashedrekord(b"via trust root"), &key);
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let output = Command::new(atesto_bin())
        .args(["monitor", "--log", &url, "--trust-root"])
        .arg(&trusted_root)
        .arg("--state")
        .arg(&state)
        .args(["--once", "--kind", "rekor"])
        .output()
        .unwrap();
    expect_verified(&output, size, previous);
}

#[test]
fn history_rewritten_under_the_same_key_is_a_fork() {
    let honest = leaves("a", 6);
    let log = FakeLog::start(honest.clone());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    log.set(|s| s.size = 4);
    expect_verified(&monitor_once(&log.url, log.key(), &state), 4, None);
    log.set(|s| s.size = 6);
    expect_verified(&monitor_once(&log.url, log.key(), &state), 6, Some(4));
    let verified = read_state(&state);

    // A larger tree whose first 6 leaves differ: the log serves an honest
    // proof of its own new history, which cannot start from the old root.
    let mut rewritten = honest.clone();
    rewritten[3] = leaf_hash(b"rewritten");
    rewritten.extend(leaves("b", 4));
    log.set(|s| {
        s.leaves = rewritten.clone();
        s.size = 10;
    });
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "fork");
    assert_eq!(alert["verified_size"], 6);
    assert_eq!(alert["size"], 10);
    assert_eq!(alert["verified_root"], hex::encode(merkle_root(&honest)));
    // The alert leaves the last verified checkpoint in place, so the fork is
    // raised again on the next run instead of being accepted as the new normal.
    assert_eq!(read_state(&state), verified);
    expect_alert(&monitor_once(&log.url, log.key(), &state), "fork");

    // The same size with another root needs no proof to be a fork.
    log.set(|s| s.size = 6);
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "fork");
    assert!(
        alert["reason"].as_str().unwrap().contains("same size"),
        "{alert}"
    );
    assert_eq!(read_state(&state), verified);

    // Back to the honest history: it extends what was verified.
    log.set(|s| {
        s.leaves = honest.iter().copied().chain(leaves("c", 3)).collect();
        s.size = 9;
    });
    expect_verified(&monitor_once(&log.url, log.key(), &state), 9, Some(6));
}

#[test]
fn a_shrinking_log_is_a_rollback() {
    let log = FakeLog::start(leaves("a", 7));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    expect_verified(&monitor_once(&log.url, log.key(), &state), 7, None);
    log.set(|s| s.size = 3);
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "rollback");
    assert_eq!(
        (alert["verified_size"].as_u64(), alert["size"].as_u64()),
        (Some(7), Some(3))
    );
    assert_eq!(read_state(&state)["verified"]["size"], 7);
}

#[test]
fn bad_signatures_are_alerts_and_never_saved() {
    let log = FakeLog::start(leaves("a", 5));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");

    // The right key hint, a signature that does not verify.
    log.set(|s| s.corrupt_signature = true);
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "bad-signature");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{alert}"
    );
    assert!(!state.exists(), "an unverified checkpoint was saved");

    // A valid signature by a key the monitor does not trust.
    log.set(|s| {
        s.corrupt_signature = false;
        s.key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    });
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "bad-signature");
    assert!(
        alert["message"].as_str().unwrap().contains("trusted key"),
        "{alert}"
    );
    assert!(!state.exists(), "an unverified checkpoint was saved");
}

#[test]
fn an_unreachable_log_is_an_error_not_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let log = FakeLog::start(leaves("a", 1));
    std::fs::copy(log.key(), &key).unwrap();
    let output = monitor_command(
        &format!("http://{}", free_addr()),
        &key,
        &dir.path().join("state.json"),
        &["--once", "--kind", "rekor"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(json_lines(&output).is_empty(), "{}", text(&output));
}
