//! A Rekor v2 log (`atesto tlog`'s `rekor_v2:` section): its Ed25519
//! checkpoints are recognised by their C2SP key id and its consistency is
//! proven from its tiles.

use super::*;
use support::rekor_v2::{RekorV2, hashed_rekord_request};

#[test]
fn tiles_mode_follows_a_rekor_v2_log_signed_with_ed25519() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorV2::start(dir.path());
    let key_path = dir.path().join("v2.pem");
    std::fs::write(&key_path, log.key.spki_pem()).unwrap();
    let state = dir.path().join("state.json");
    let url = log.url("");
    let run = || monitor_command(&url, &key_path, &state, &["--once", "--kind", "tiles"]).output();

    let signer = Signer::new();
    let mut previous = None;
    let mut size = 0;
    for count in [2, 3] {
        for _ in 0..count {
            log.submit(&hashed_rekord_request(
                &signer,
                format!("v2 {size}").as_bytes(),
            ));
            size += 1;
        }
        expect_verified(&run().unwrap(), size, previous);
        previous = Some(size);
    }

    // Another Ed25519 key under the same name does not vouch for the log.
    let other_dir = tempfile::tempdir().unwrap();
    let other = support::rekor_v2::CheckpointKey::write(&other_dir.path().join("k.pem"));
    std::fs::write(&key_path, other.spki_pem()).unwrap();
    let fresh_state = dir.path().join("fresh-state.json");
    let output = monitor_command(
        &url,
        &key_path,
        &fresh_state,
        &["--once", "--kind", "tiles"],
    )
    .output()
    .unwrap();
    expect_alert(&output, "bad-signature");
}

/// A Rekor v2 request signed by `signer`'s certificate (its DER in
/// `x509Certificate`).
fn certificate_request(signer: &CertSigner, artifact: &[u8]) -> Value {
    let (_, der) = pem_rfc7468::decode_vec(signer.cert_pem.as_bytes()).unwrap();
    json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(Sha256::digest(artifact)),
        "signature": {
            "content": signer.sign(artifact),
            "verifier": {
                "x509Certificate": {"rawBytes": STANDARD.encode(der)},
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            },
        },
    }})
}

#[test]
fn the_identity_watch_reads_rekor_v2_entries() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorV2::start(dir.path());
    let key_path = dir.path().join("v2.pem");
    std::fs::write(&key_path, log.key.spki_pem()).unwrap();
    let state = dir.path().join("state.json");
    let keyed = Signer::new();
    let keyed_fingerprint = hex::encode(Sha256::digest(keyed.spki_der()));
    let watch = dir.path().join("watch.yaml");
    std::fs::write(
        &watch,
        format!(
            "identities:\n  - name: alice\n    san: alice@example.com\n    issuer: {ISSUER}\n  \
             - name: a-key\n    fingerprint: {keyed_fingerprint}\n"
        ),
    )
    .unwrap();
    let alice = CertSigner::new("alice@example.com", ISSUER, &[]);
    let bob = CertSigner::new("bob@example.com", ISSUER, &[]);
    log.submit(&hashed_rekord_request(&Signer::new(), b"unwatched"));
    let a = log.submit(&certificate_request(&alice, b"alice")).index;
    log.submit(&certificate_request(&bob, b"bob"));
    let k = log.submit(&hashed_rekord_request(&keyed, b"keyed")).index;

    let lines = watch_once(
        &log.url(""),
        &key_path,
        &state,
        &watch,
        &["--kind", "tiles"],
    );
    assert_eq!(
        matches_of(&lines),
        vec![(a, "alice", "hashedrekord"), (k, "a-key", "hashedrekord")]
    );
    let alice_match = lines.iter().find(|l| l["identity"] == "alice").unwrap();
    assert_eq!(alice_match["sans"], json!(["alice@example.com"]));
}
