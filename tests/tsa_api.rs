//! `atesto tsa` over HTTP: timestamps that `openssl ts -verify` accepts
//! against the served chain, DER and JSON requests, the refusals (each a
//! 400 in the upstream shape, beside the same request succeeding on good
//! input), the start-up self-check and the metrics.

mod support;

use std::ffi::OsStr;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256, Sha512};
use support::tsa::{
    SHA256_OID, SIGSTORE_POLICY, Tsa, init_chain, openssl, openssl_query, openssl_verify,
    time_stamp_req,
};
use support::{atesto_bin, free_addr, read_stderr, wait_exit};

const QUERY: &str = "application/timestamp-query";
const ACCEPTED_POLICY: &str = "1.3.6.1.4.1.57264.2.1";

fn start(dir: &Path) -> Tsa {
    Tsa::start(dir, &format!("accepted_policies: ['{ACCEPTED_POLICY}']\n"))
}

#[test]
fn openssl_verifies_timestamps_against_the_served_chain() {
    let dir = tempfile::tempdir().unwrap();
    let tsa = start(dir.path());
    let chain = tsa.server.get("/api/v1/timestamp/certchain");
    assert_eq!(chain.status, 200);
    assert_eq!(
        chain.header("Content-Type"),
        Some("application/pem-certificate-chain")
    );
    assert_eq!(chain.text.matches("BEGIN CERTIFICATE").count(), 2);

    let data = dir.path().join("artifact.txt");
    std::fs::write(&data, b"release artifact").unwrap();
    let reply_path = dir.path().join("reply.tsr");
    for digest in ["-sha256", "-sha384", "-sha512"] {
        for cert in [true, false] {
            let mut flags = vec![digest];
            if cert {
                flags.push("-cert");
            }
            let reply = tsa.post(QUERY, openssl_query(dir.path(), &data, &flags));
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert_eq!(
                reply.header("Content-Type"),
                Some("application/timestamp-reply")
            );
            std::fs::write(&reply_path, &reply.bytes).unwrap();
            let (ok, text) = openssl_verify(&reply_path, &data, &chain.text, dir.path());
            assert!(
                ok && text.contains("Verification: OK"),
                "{digest} cert={cert}: {text}"
            );
            // The nonce and imprint are checked against the query too.
            let (ok, text) = openssl(&[
                OsStr::new("ts"),
                OsStr::new("-verify"),
                OsStr::new("-in"),
                reply_path.as_os_str(),
                OsStr::new("-queryfile"),
                dir.path().join("query.tsq").as_os_str(),
                OsStr::new("-CAfile"),
                dir.path().join("tsa-roots.pem").as_os_str(),
                OsStr::new("-untrusted"),
                dir.path().join("tsa-leaf.pem").as_os_str(),
            ]);
            assert!(ok, "{digest} against its query: {text}");
        }
    }

    // Another artifact, a tampered reply, another TSA's chain: refused.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, b"another artifact").unwrap();
    let (ok, text) = openssl_verify(&reply_path, &other, &chain.text, dir.path());
    assert!(!ok, "another artifact verified: {text}");
    let mut tampered = std::fs::read(&reply_path).unwrap();
    let at = tampered.len() - 10;
    tampered[at] ^= 0x01;
    let tampered_path = dir.path().join("tampered.tsr");
    std::fs::write(&tampered_path, &tampered).unwrap();
    let (ok, text) = openssl_verify(&tampered_path, &data, &chain.text, dir.path());
    assert!(!ok, "a tampered timestamp verified: {text}");
    let other_dir = tempfile::tempdir().unwrap();
    init_chain(other_dir.path());
    let other_chain = std::fs::read_to_string(other_dir.path().join("chain.pem")).unwrap();
    let (ok, text) = openssl_verify(&reply_path, &data, &other_chain, other_dir.path());
    assert!(!ok, "verified against another TSA's chain: {text}");
}

#[test]
fn json_requests_are_timestamped_like_sigstore_sends_them() {
    let dir = tempfile::tempdir().unwrap();
    let tsa = start(dir.path());
    let artifact = b"json artifact";
    let data = dir.path().join("artifact.txt");
    std::fs::write(&data, artifact).unwrap();
    let body = serde_json::json!({
        "artifactHash": STANDARD.encode(Sha512::digest(artifact)),
        "hashAlgorithm": "sha512",
        "certificates": true,
        "nonce": 42,
        "tsaPolicyOID": ACCEPTED_POLICY,
    });
    let reply = tsa.post("application/json", body.to_string().into_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply_path = dir.path().join("reply.tsr");
    std::fs::write(&reply_path, &reply.bytes).unwrap();
    let chain = tsa.server.get("/api/v1/timestamp/certchain").text;
    let (ok, text) = openssl_verify(&reply_path, &data, &chain, dir.path());
    assert!(ok, "{text}");
    let (ok, text) = openssl(&[
        OsStr::new("ts"),
        OsStr::new("-reply"),
        OsStr::new("-in"),
        reply_path.as_os_str(),
        OsStr::new("-text"),
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("Policy OID: {ACCEPTED_POLICY}")),
        "{text}"
    );
    assert!(text.contains("Nonce: 0x2A"), "{text}");
    assert!(text.contains("Accuracy: 0x01 seconds"), "{text}");
}

#[test]
fn bad_requests_get_a_400_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let tsa = start(dir.path());
    let digest = Sha256::digest(b"artifact").to_vec();

    // The good request every refusal below is a variation of.
    let good = time_stamp_req(SHA256_OID, &digest, Some(SIGSTORE_POLICY));
    assert_eq!(tsa.post(QUERY, good).status, 200);
    let accepted = time_stamp_req(SHA256_OID, &digest, Some(ACCEPTED_POLICY));
    assert_eq!(tsa.post(QUERY, accepted).status, 200);

    let refused = |content_type: &str, body: Vec<u8>, expected: &str| {
        let message = tsa.post(content_type, body).expect_error(400);
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    };
    refused(
        QUERY,
        time_stamp_req("1.3.14.3.2.26", &digest[..20], None),
        "SHA-1",
    );
    // MD5's OID: not a hash this TSA timestamps.
    refused(
        QUERY,
        time_stamp_req("1.2.840.113549.2.5", &digest[..16], None),
        "1.2.840.113549.2.5",
    );
    refused(
        QUERY,
        time_stamp_req(SHA256_OID, &digest[..31], None),
        "incorrect length",
    );
    refused(
        QUERY,
        time_stamp_req(SHA256_OID, &[digest.clone(), vec![0]].concat(), None),
        "incorrect length",
    );
    refused(
        QUERY,
        time_stamp_req(SHA256_OID, &digest, Some("1.2.3.4")),
        "policy 1.2.3.4 is not accepted",
    );
    refused(QUERY, b"not DER at all".to_vec(), "DER");
    let mut truncated = time_stamp_req(SHA256_OID, &digest, None);
    truncated.pop();
    refused(QUERY, truncated, "DER");
    refused(
        "text/plain",
        time_stamp_req(SHA256_OID, &digest, None),
        "Content-Type",
    );
    let sha1_json = serde_json::json!({"artifactHash": STANDARD.encode(&digest[..20]), "hashAlgorithm": "sha1"});
    refused(
        "application/json",
        sha1_json.to_string().into_bytes(),
        "SHA-1",
    );
    refused(
        "application/json",
        b"{\"artifactHash\": 1}".to_vec(),
        "Error parsing",
    );

    // Larger than body_limit (8 KiB): refused before it is read.
    let oversize = tsa.post(QUERY, vec![0x30; 64 << 10]);
    oversize.expect_error(413);

    let metrics = tsa.server.get("/metrics").text;
    assert!(
        metrics.contains("atesto_tsa_timestamps_total{result=\"issued\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("atesto_tsa_timestamps_total{result=\"refused\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("atesto_tsa_signing_seconds_count{key=\"file\"} 2"),
        "{metrics}"
    );
}

#[test]
fn a_chain_that_breaks_the_profile_is_refused_at_start() {
    // The CA's chain: its first certificate is a CA whose EKU is codeSigning.
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("tsa");
    let output = support::atesto(&["ca", "init", "--dir", ca_dir.to_str().unwrap()]);
    assert!(output.status.success());
    let config = dir.path().join("tsa.yaml");
    std::fs::write(
        &config,
        "signer:\n  chain: tsa/chain.pem\n  key: tsa/intermediate-key.pem\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(atesto_bin())
        .args([
            "tsa",
            "--config",
            config.to_str().unwrap(),
            "--addr",
            &free_addr(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, std::time::Duration::from_secs(30)).expect("exits");
    assert!(!status.success());
    let stderr = read_stderr(&mut child);
    assert!(
        stderr.contains("chain[0]") && stderr.contains("CA"),
        "{stderr}"
    );

    // The same command starts with a chain from `atesto tsa init`.
    let good = tempfile::tempdir().unwrap();
    let tsa = Tsa::start(good.path(), "");
    assert_eq!(tsa.server.get("/healthz").status, 200);
}
