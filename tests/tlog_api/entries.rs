//! Submitting entries: a verifiable Rekor entry, DSSE, concurrent
//! duplicates, bodies an entry bundle cannot hold.

use super::*;

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
