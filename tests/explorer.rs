//! The log explorer in a real browser: `atesto dev` serves it, sigstore-python
//! makes the entries, and tests/clients/browser/explorer.js drives Debian's
//! headless chromium through playwright-core over every search kind (key
//! fingerprint included), the entry view, in-browser verification (passing,
//! and failing behind a proxy that tampers with proofs and checkpoints), the
//! checkpoint page and the CT view; and the page on the Rekor v2 listener,
//! which reads everything from the tiles. Screenshots go to
//! target/explorer-screenshots/ for a reviewer.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::clients::{Rekor, py_attest, py_sign, py_sign_to};
use support::dev::{Dev, GITHUB_REPO, Who, installed, ok, run, write};
use support::rekor_v2::hashed_rekord_request;
use support::{Signer, client};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The log index and the signing certificate (DER) a v0.3 bundle records.
fn bundle_facts(bundle: &Path) -> (u64, Vec<u8>) {
    let bundle: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let material = &bundle["verificationMaterial"];
    let index = material["tlogEntries"][0]["logIndex"]
        .as_str()
        .expect("logIndex is a string in a v0.3 bundle")
        .parse()
        .unwrap();
    let cert = material["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| material["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
        .expect("the bundle carries the signing certificate");
    (index, STANDARD.decode(cert).unwrap())
}

/// The UUID the log gives the entry at `index`.
fn uuid_at(dev: &Dev, index: u64) -> String {
    let reply: Value = client()
        .get(format!(
            "{}/api/v1/log/entries?logIndex={index}",
            dev.rekor_url()
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    reply.as_object().unwrap().keys().next().unwrap().clone()
}

/// `sha256:<hex>` of the certificate's DER SubjectPublicKeyInfo: what
/// `openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256sum` prints.
fn key_fingerprint(certificate_der: &[u8]) -> String {
    let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der).unwrap();
    let spki = certificate.tbs_certificate.subject_pki.raw;
    format!("sha256:{}", hex::encode(Sha256::digest(spki)))
}

fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/explorer-screenshots")
}

#[test]
fn explorer_finds_shows_and_verifies_real_client_entries() {
    let node_modules = installed("browser/node_modules");
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (.ci/run does)"
    );
    let dev = Dev::start();

    // sigstore-python signs a file as an email identity (hashedrekord)...
    let email = Who::Email("explorer@example.com");
    let artifact = write(&dev, "release.tar.gz", b"an artifact for the explorer\n");
    let email_bundle = dev.path("release.sigstore.json");
    ok(
        "sigstore sign",
        py_sign(&dev, &email.token(&dev), &artifact, &email_bundle),
    );
    let (email_index, email_cert) = bundle_facts(&email_bundle);
    let cert_pem = write(
        &dev,
        "signing-cert.pem",
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &email_cert)
            .unwrap()
            .as_bytes(),
    );

    // ... and attests as a GitHub workflow (dsse).
    let github = Who::GitHub;
    let widget = write(&dev, "widget.bin", b"a build output\n");
    let github_bundle = dev.path("widget.sigstore.json");
    ok(
        "sigstore attest",
        py_attest(&dev, &github.token(&dev), &widget, &github_bundle),
    );
    let (github_index, _) = bundle_facts(&github_bundle);

    // A bare key signs more entries than one page of results holds.
    let signer = Signer::new();
    let mut key_indexes = Vec::new();
    for n in 0..12 {
        let reply = client()
            .post(format!("{}/api/v1/log/entries", dev.rekor_url()))
            .json(&signer.hashedrekord(format!("page entry {n}").as_bytes()))
            .send()
            .unwrap();
        assert_eq!(reply.status().as_u16(), 201, "submitting entry {n}");
        let reply: Value = reply.json().unwrap();
        let entry = reply.as_object().unwrap().values().next().unwrap();
        key_indexes.push(entry["logIndex"].as_u64().unwrap());
    }
    let key_pem = write(&dev, "page-key.pem", signer.public_key_pem().as_bytes());

    let config = json!({
        "base": dev.rekor_url(),
        "screenshots": screenshots_dir(),
        "email": {
            "identity": email.san(),
            "issuer": email.issuer(&dev),
            "logIndex": email_index,
            "sha256": hex::encode(Sha256::digest(std::fs::read(&artifact).unwrap())),
            "artifact": artifact,
            "certificate": cert_pem,
            "keyFingerprint": key_fingerprint(&email_cert),
        },
        "github": {
            "identity": github.san(),
            "issuer": github.issuer(&dev),
            "logIndex": github_index,
            "uuid": uuid_at(&dev, github_index),
            "kind": "dsse 0.0.1",
            "repository": GITHUB_REPO,
        },
        "key": { "pem": key_pem, "logIndexes": key_indexes },
    });
    let config_path = write(&dev, "explorer-test.json", config.to_string().as_bytes());
    let mut node = Command::new("node");
    node.env("NODE_PATH", node_modules)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/browser/explorer.js"))
        .arg(&config_path);
    match run(node) {
        Ok(out) => assert!(out.contains("all checks passed"), "{out}"),
        Err(out) => panic!("the browser test failed:\n{out}"),
    }
    for shot in [
        "desktop-entry.png",
        "phone-entry.png",
        "desktop-tampered-proof.png",
    ] {
        assert!(screenshots_dir().join(shot).exists(), "{shot} not written");
    }
}

/// The explorer on the Rekor v2 listener, in a real browser: its checkpoint
/// page verifies the Ed25519 signed note and consistency from the tiles; the
/// entry sigstore-python made (`sign --rekor-version 2`) is read from its
/// entry bundle, decoded, and its inclusion recomputed from the tiles; a
/// proxy altering the checkpoint or the tiles makes it say "failed"
/// (tests/clients/browser/explorer_v2.js). Screenshots: target/explorer-screenshots/v2-*.
#[test]
fn explorer_verifies_a_rekor_v2_entry_from_the_tiles() {
    let node_modules = installed("browser/node_modules");
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing");
    let dev = Dev::start();
    let email = Who::Email("explorer-v2@example.com");
    let artifact = write(
        &dev,
        "v2-release.tar.gz",
        b"an artifact in the Rekor v2 log\n",
    );
    let bundle = dev.path("v2-release.sigstore.json");
    ok(
        "sigstore sign --rekor-version 2",
        py_sign_to(Rekor::V2, &dev, &email.token(&dev), &artifact, &bundle),
    );
    let (log_index, _) = bundle_facts(&bundle);
    // More entries after it, so that its inclusion proof reads several tiles.
    let signer = Signer::new();
    for n in 0..3 {
        let reply = client()
            .post(format!("{}/api/v2/log/entries", dev.rekor_v2_url()))
            .json(&hashed_rekord_request(
                &signer,
                format!("v2 entry {n}").as_bytes(),
            ))
            .send()
            .unwrap();
        assert_eq!(reply.status().as_u16(), 201, "v2 entry {n}");
    }
    let config = json!({
        "base": dev.rekor_v2_url(),
        "screenshots": screenshots_dir(),
        "entry": {
            "logIndex": log_index,
            "sha256": hex::encode(Sha256::digest(std::fs::read(&artifact).unwrap())),
            "identity": email.san(),
            "issuer": email.issuer(&dev),
        },
    });
    let config_path = write(&dev, "explorer-v2-test.json", config.to_string().as_bytes());
    let mut node = Command::new("node");
    node.env("NODE_PATH", node_modules)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/browser/explorer_v2.js"))
        .arg(&config_path);
    match run(node) {
        Ok(out) => assert!(out.contains("all checks passed"), "{out}"),
        Err(out) => panic!("the browser test of the Rekor v2 explorer failed:\n{out}"),
    }
    for shot in ["v2-checkpoint.png", "v2-entry.png", "v2-tampered-tile.png"] {
        assert!(screenshots_dir().join(shot).exists(), "{shot} not written");
    }
}

/// `atesto tlog` and `atesto ct` serve the page and its assets themselves,
/// same-origin only by their Content-Security-Policy.
#[test]
fn tlog_and_ct_serve_the_explorer_with_a_same_origin_policy() {
    let tlog_data = tempfile::tempdir().unwrap();
    let tlog = support::Tlog::start(tlog_data.path(), &[]);
    let ct_dir = tempfile::tempdir().unwrap();
    support::ca::init_chain(ct_dir.path());
    let ct = support::ct::start_ct(ct_dir.path(), &ct_dir.path().join("ca/root.pem"));
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tlog/explorer");
    for server in [&tlog, &ct] {
        for (path, file, content_type) in [
            ("/", "index.html", "text/html"),
            ("/explorer/explorer.js", "explorer.js", "text/javascript"),
            ("/explorer/explorer.css", "explorer.css", "text/css"),
        ] {
            let reply = server.get(path);
            assert_eq!(reply.status, 200, "{path}");
            assert!(
                reply
                    .header("content-type")
                    .unwrap()
                    .starts_with(content_type),
                "{path}"
            );
            let policy = reply.header("content-security-policy").unwrap();
            assert!(policy.contains("default-src 'none'"), "{policy}");
            assert!(policy.contains("connect-src 'self'"), "{policy}");
            assert_eq!(
                reply.text,
                std::fs::read_to_string(sources.join(file)).unwrap(),
                "{path} serves tlog/explorer/{file}"
            );
        }
        assert_eq!(server.get("/explorer/other.js").status, 404);
    }
    // The Rekor v2 listener serves the same page, and the checkpoint key it
    // verifies with: the one the v2 log signs with.
    let v2_dir = tempfile::tempdir().unwrap();
    let v2 = support::rekor_v2::RekorV2::start(v2_dir.path());
    let page = v2.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("connect-src 'self'")
    );
    assert_eq!(
        page.text,
        std::fs::read_to_string(sources.join("index.html")).unwrap()
    );
    let key = v2.get("/api/v2/log/publicKey");
    assert_eq!(key.status, 200);
    let der = |pem: &str| pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1;
    assert_eq!(der(&key.text), der(&v2.key.spki_pem()));
}
