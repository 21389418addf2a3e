//! The Rekor v2 log over HTTP, against a real `atesto tlog` process with a
//! `rekor_v2:` section: entries answered with a TransparencyLogEntry whose
//! proof verifies against an Ed25519 checkpoint, duplicates, refusals, the
//! C2SP tiles at both paths, a restart that keeps the tree; an ECDSA
//! checkpoint key; one address for both logs refused; `atesto trust-root`
//! listing a v2 log by its checkpoint key id.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::rekor_v2::{RekorV2, canonical_body, hashed_rekord_request};
use support::*;

#[test]
fn entries_are_proven_against_an_ed25519_checkpoint_and_served_as_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorV2::start(dir.path());
    let signer = Signer::new();
    let requests: Vec<_> = (0..3)
        .map(|i| hashed_rekord_request(&signer, format!("artifact {i}").as_bytes()))
        .collect();
    let mut bodies = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let entry = log.submit(request);
        assert_eq!(entry.index, i as u64);
        assert_eq!(entry.body, canonical_body(request));
        bodies.push(entry.body);
    }

    // A duplicate: 409 in the error shape, with the index upstream names.
    let duplicate = log.post(&requests[1]);
    let message = duplicate.expect_error(409);
    assert!(message.contains("already exists"), "{message}");
    assert_eq!(duplicate.header("x-log-index"), Some("1"));

    // The read API under /api/v2/ and at the root, the same bytes.
    for prefix in ["", "/api/v2"] {
        let checkpoint = log.get(&format!("{prefix}/checkpoint"));
        assert_eq!(checkpoint.status, 200);
        let checkpoint = Checkpoint::parse(&checkpoint.text);
        assert_eq!(
            (checkpoint.origin.as_str(), checkpoint.size),
            ("127.0.0.1", 3)
        );
        checkpoint.verify_ed25519("127.0.0.1", &log.key.raw);

        let entries = log.get(&format!("{prefix}/tile/entries/000.p/3"));
        assert_eq!(entries.status, 200, "{}", entries.text);
        assert_eq!(split_bundle(&entries.bytes), bodies);
        let tile = log.get(&format!("{prefix}/tile/0/000.p/3"));
        assert_eq!(tile.status, 200);
        let leaves: Vec<Hash> = bodies.iter().map(|b| leaf_hash(b)).collect();
        assert_eq!(tile.bytes, leaves.concat());
        assert_eq!(merkle_root(&leaves), checkpoint.root);
        assert_eq!(
            tile.header("Cache-Control"),
            Some("public, max-age=31536000, immutable")
        );
        // Beyond the tree: a 404, not a tile.
        log.get(&format!("{prefix}/tile/0/000.p/4"))
            .expect_error(404);
    }

    // The v1 log beside it is its own tree, still Rekor v1.
    let info = log.v1.log_info();
    assert_eq!(info["treeSize"], 0);
    let v1_checkpoint = Checkpoint::parse(info["signedTreeHead"].as_str().unwrap());
    assert!(
        v1_checkpoint.origin.starts_with("127.0.0.1 - "),
        "{v1_checkpoint:?}"
    );
    let key = log.v1.public_key();
    log.v1.submit(&signer.hashedrekord(b"artifact 0"), &key);
}

#[test]
fn each_refusal_is_a_400_beside_the_same_entry_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorV2::start(dir.path());
    let signer = Signer::new();
    let artifact = b"refusals";
    let good = hashed_rekord_request(&signer, artifact);
    let field = |mut request: serde_json::Value, path: &[&str], value: serde_json::Value| {
        let mut at = &mut request["hashedRekordRequestV002"];
        for step in &path[..path.len() - 1] {
            at = &mut at[*step];
        }
        at[path[path.len() - 1]] = value;
        request
    };
    let cases = [
        (
            field(good.clone(), &["signature", "extra"], json!(1)),
            "unknown field `extra`",
        ),
        (
            json!({"dsseRequestV002": {"envelope": {}, "verifiers": []}}),
            "dsseRequestV002 is not accepted",
        ),
        (
            field(
                good.clone(),
                &["signature", "verifier", "keyDetails"],
                json!("PKIX_ECDSA_P384_SHA_384"),
            ),
            "names a ECDSA P-384 key",
        ),
        (
            field(
                good.clone(),
                &["digest"],
                json!(STANDARD.encode(&Sha256::digest(artifact)[..31])),
            ),
            "digest is 31 bytes",
        ),
        (
            field(
                good.clone(),
                &["digest"],
                json!(STANDARD.encode(Sha256::digest(b"something else"))),
            ),
            "does not verify",
        ),
        (
            field(
                good.clone(),
                &["signature", "verifier", "x509Certificate"],
                json!({"rawBytes": STANDARD.encode(b"cert")}),
            ),
            "exactly one of verifier.publicKey and verifier.x509Certificate",
        ),
        (json!({}), "missing hashedRekordRequestV002"),
    ];
    for (request, expected) in cases {
        let message = log.post(&request).expect_error(400);
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
    let message = log.post_raw(b"{not json".to_vec()).expect_error(400);
    assert!(
        message.starts_with("the request is not a CreateEntryRequest"),
        "{message}"
    );
    log.post_raw(vec![b' '; 200 << 10]).expect_error(413);
    // Reads that name nothing.
    log.get("/tile/0/x000/000").expect_error(400);
    log.get("/api/v2/log/entries").expect_error(405);

    // The same entry, well formed: accepted, in camelCase or snake_case.
    log.submit(&good);
    let snake = json!({"hashed_rekord_request_v002": {
        "digest": good["hashedRekordRequestV002"]["digest"],
        "signature": {
            "content": good["hashedRekordRequestV002"]["signature"]["content"],
            "verifier": {
                "public_key": {"raw_bytes": STANDARD.encode(signer.spki_der())},
                "key_details": "PKIX_ECDSA_P256_SHA_256",
            },
        },
    }});
    assert_eq!(
        log.post(&snake).expect_error(409),
        log.post(&good).expect_error(409)
    );
}

#[test]
fn a_restart_keeps_the_tree_and_its_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new();
    let requests: Vec<_> = (0..3)
        .map(|i| hashed_rekord_request(&signer, format!("kept {i}").as_bytes()))
        .collect();
    let before = {
        let mut log = RekorV2::start(dir.path());
        for request in &requests[..2] {
            log.submit(request);
        }
        let checkpoint = Checkpoint::parse(&log.get("/checkpoint").text);
        log.v1.kill();
        checkpoint
    };
    let log = RekorV2::start(dir.path());
    let after = Checkpoint::parse(&log.get("/checkpoint").text);
    assert_eq!((after.size, after.root), (before.size, before.root));
    let duplicate = log.post(&requests[0]);
    duplicate.expect_error(409);
    assert_eq!(duplicate.header("x-log-index"), Some("0"));
    let next = log.submit(&requests[2]);
    assert_eq!((next.index, next.checkpoint.size), (2, 3));
}

#[test]
fn an_ecdsa_checkpoint_key_names_the_log_by_its_spki() {
    let dir = tempfile::tempdir().unwrap();
    let v2_addr = free_addr();
    let config = write_config(
        dir.path(),
        &format!("rekor_v2:\n  addr: {v2_addr}\n  key_type: ecdsa-p256\n"),
    );
    let v1 = Tlog::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    // The key made on the first start, under the v1 log's data directory.
    let pem = std::fs::read_to_string(dir.path().join("data/rekor-v2/checkpoint-key.pem")).unwrap();
    let (_, pkcs8) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &pkcs8,
    )
    .unwrap();
    let spki = aws_lc_rs::encoding::AsDer::as_der(aws_lc_rs::signature::KeyPair::public_key(&pair))
        .unwrap()
        .as_ref()
        .to_vec();
    let reply = reqwest::blocking::Client::new()
        .post(format!("http://{v2_addr}/api/v2/log/entries"))
        .json(&hashed_rekord_request(&Signer::new(), b"ecdsa"))
        .send()
        .map(Reply::from)
        .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.text);
    let entry = reply.json();
    assert_eq!(
        entry["logId"]["keyId"],
        STANDARD.encode(Sha256::digest(&spki))
    );
    let checkpoint = Checkpoint::parse(
        entry["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(checkpoint.origin, "127.0.0.1");
    checkpoint.verify(&LogKey::from_pem(
        &pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &spki).unwrap(),
    ));
    drop(v1);

    // One address for both logs cannot serve both roots: refused at start.
    let v1_addr = free_addr();
    let clash = write_config(dir.path(), &format!("rekor_v2:\n  addr: {v1_addr}\n"));
    let mut child = Tlog::spawn(
        &dir.path().join("clash"),
        &v1_addr,
        &["--config", clash.to_str().unwrap()],
    );
    let status = wait_exit(&mut child, std::time::Duration::from_secs(20)).expect("exits");
    assert!(!status.success());
    let stderr = read_stderr(&mut child);
    assert!(
        stderr.contains("rekor_v2.addr must differ from addr"),
        "{stderr}"
    );
}

#[test]
fn trust_root_lists_a_v2_log_by_its_checkpoint_key_id() {
    let dir = tempfile::tempdir().unwrap();
    let key = support::rekor_v2::CheckpointKey::write(&dir.path().join("v2-key.pem"));
    std::fs::write(dir.path().join("v2.pub"), key.spki_pem()).unwrap();
    let v1 = dir.path().join("v1.pem");
    std::fs::write(dir.path().join("v1.pub"), support::ca::keygen(&v1)).unwrap();
    let ca_dir = dir.path().join("ca");
    let out = atesto(&["ca", "init", "--dir", ca_dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.path().join("trust.yaml");
    let write = |major: u32| {
        std::fs::write(
            &config,
            format!(
                "operator: o\n\
                 cas:\n  - {{url: https://fulcio.example, chain: ca/chain.pem, valid_from: 2026-01-01T00:00:00Z}}\n\
                 tlogs:\n  - {{url: https://rekor.example, public_key: v1.pub, valid_from: 2026-01-01T00:00:00Z}}\n  \
                   - {{url: https://log2026.rekor.example, public_key: v2.pub, major_api_version: {major}, valid_from: 2026-01-01T00:00:00Z}}\n\
                 ctlogs:\n  - {{url: https://ct.example, public_key: v1.pub, valid_from: 2026-01-01T00:00:00Z}}\n"
            ),
        )
        .unwrap();
    };
    let out_dir = dir.path().join("out");
    let run = || {
        atesto(&[
            "trust-root",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
    };
    write(2);
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out_dir.join(name)).unwrap()).unwrap()
    };
    let root = read("trusted_root.json");
    assert_eq!(root["tlogs"][1]["publicKey"]["keyDetails"], "PKIX_ED25519");
    assert_eq!(
        root["tlogs"][1]["logId"]["keyId"],
        STANDARD.encode(key.log_id("log2026.rekor.example"))
    );
    let signing = read("signing_config.json");
    let versions: Vec<_> = signing["rekorTlogUrls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["majorApiVersion"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);

    write(3);
    let refused = run();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("neither 1 (Rekor v1) nor 2"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
