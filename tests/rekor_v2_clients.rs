//! Real clients writing to `atesto dev`'s Rekor v2 log, which its signing
//! config lists beside the v1 log: sigstore-python (`--rekor-version 2`, its
//! default and `attest`), sigstore-js 5's bundle builder made from the
//! signing config (its attestations, still dsseRequestV002, are refused),
//! and cosign 3.x with `--signing-config`; each bundle
//! carries a hashedrekord 0.0.2 entry of this log and an RFC 3161
//! timestamp, and sigstore-go, sigstore-python, sigstore-js and cosign
//! verify them. Refused beside that: the same bundles checked against a
//! trusted root whose v2 log at that URL is another log (another key).

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use support::clients::*;
use support::cosign::*;
use support::dev::*;

fn cosign3_verify(root: &Path, bundle: &Path, artifact: &Path, who: &Who, dev: &Dev) -> Command {
    let mut args = vec![
        "verify-blob".to_owned(),
        "--trusted-root".into(),
        root.display().to_string(),
        "--bundle".into(),
        bundle.display().to_string(),
    ];
    args.extend(identity_args(dev, who));
    args.push(artifact.display().to_string());
    Cosign::V3.command(dev, &os_args(&args))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The bundle's one log entry is this stack's v2 log's, and it is timestamped.
fn assert_rekor_v2_bundle(client: &str, dev: &Dev, bundle: &Path) {
    let json = read_json(bundle);
    let material = &json["verificationMaterial"];
    let entries = material["tlogEntries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{client}: {json}");
    let entry = &entries[0];
    assert_eq!(
        entry["kindVersion"],
        json!({"kind": "hashedrekord", "version": "0.0.2"}),
        "{client}: not a Rekor v2 entry: {entry}"
    );
    let root = read_json(&dev.trusted_root());
    let v2_log = root["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|log| log["baseUrl"] == dev.rekor_v2_url())
        .expect("the v2 log in trusted_root.json");
    assert_eq!(
        entry["logId"]["keyId"], v2_log["logId"]["keyId"],
        "{client}"
    );
    let checkpoint = entry["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap();
    assert!(
        checkpoint.starts_with("127.0.0.1\n"),
        "{client}: {checkpoint:?}"
    );
    let stamps = &material["timestampVerificationData"]["rfc3161Timestamps"];
    assert_eq!(stamps.as_array().map(Vec::len), Some(1), "{client}: {json}");
}

/// trusted_root.json with the v2 log's key replaced by another log's
/// Ed25519 key (the same URL, so the same name).
fn root_with_another_v2_log(dev: &Dev) -> PathBuf {
    let mut root = read_json(&dev.trusted_root());
    let other = aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap();
    let spki =
        aws_lc_rs::encoding::AsDer::as_der(aws_lc_rs::signature::KeyPair::public_key(&other))
            .unwrap();
    let raw = aws_lc_rs::signature::KeyPair::public_key(&other)
        .as_ref()
        .to_vec();
    let mut material = b"127.0.0.1\n\x01".to_vec();
    material.extend(raw);
    let log_id = <sha2::Sha256 as sha2::Digest>::digest(&material);
    for log in root["tlogs"].as_array_mut().unwrap() {
        if log["baseUrl"] == dev.rekor_v2_url() {
            log["publicKey"]["rawBytes"] = json!(STANDARD.encode(spki.as_ref()));
            log["logId"]["keyId"] = json!(STANDARD.encode(log_id));
        }
    }
    let path = dev.path("trusted_root_other_v2_log.json");
    std::fs::write(&path, root.to_string()).unwrap();
    path
}

/// A ClientTrustConfig for sigstore-python with `trusted_root` in it.
fn trust_config_with(dev: &Dev, trusted_root: &Path) -> PathBuf {
    let mut config = read_json(&dev.trust_config());
    config["trustedRoot"] = read_json(trusted_root);
    let path = dev.path("trust_config_other_v2_log.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn py_verify_with(
    trust_config: &Path,
    bundle: &Path,
    artifact: &Path,
    who: &Who,
    dev: &Dev,
) -> Command {
    let mut command = Command::new(installed("python/bin/sigstore"));
    command
        .arg("--trust-config")
        .arg(trust_config)
        .args(["verify", "identity", "--bundle"])
        .arg(bundle)
        .args([
            "--cert-identity",
            &who.san(),
            "--cert-oidc-issuer",
            &who.issuer(dev),
        ])
        .arg(artifact);
    command
}

fn js5_from_config(mut command: Command, dev: &Dev) -> Command {
    command.args([
        OsStr::new("--signing-config"),
        dev.path("signing_config.json").as_os_str(),
    ]);
    with_js5(command)
}

#[test]
fn clients_log_to_rekor_v2_and_every_verifier_accepts_the_bundles() {
    let dev = Dev::start();
    let who = Who::Email("v2@example.com");
    let artifact = artifact(&dev, "v2.tar.gz");
    let token = who.token(&dev);
    let bundle = |client: &str| dev.path(&format!("{client}.sigstore.json"));

    // sigstore-python first: it refuses a bundle of entry 0 written by
    // cosign (which omits a zero logIndex).
    ok(
        "sigstore-python sign --rekor-version 2",
        py_sign_to(Rekor::V2, &dev, &token, &artifact, &bundle("python-v2")),
    );
    ok(
        "sigstore-python sign (the highest version: 2)",
        py_sign_to(Rekor::Highest, &dev, &token, &artifact, &bundle("python")),
    );
    ok(
        "sigstore-python attest --rekor-version 2",
        py_attest_to(Rekor::V2, &dev, &token, &artifact, &bundle("python-attest")),
    );
    ok(
        "sigstore-js 5 sign from the signing config",
        js5_from_config(js_sign(&dev, &token, &artifact, &bundle("js5")), &dev),
    );
    // sigstore-js 5.0 still sends attestations as dsseRequestV002, which
    // rekor-tiles v2.3 removed: refused, saying why, as upstream would.
    let refusal = refused(
        "sigstore-js 5 attest from the signing config (dsseRequestV002)",
        js5_from_config(
            js_attest(&dev, &token, &artifact, &bundle("js5-attest")),
            &dev,
        ),
    );
    assert!(
        refusal.contains("(400) dsseRequestV002 is not accepted"),
        "{refusal}"
    );
    ok(
        "cosign3 sign-blob --signing-config",
        cosign3_sign(&dev, &token, &artifact, &bundle("cosign3")),
    );

    let other_root = root_with_another_v2_log(&dev);
    let other_trust = trust_config_with(&dev, &other_root);
    let message_bundles = ["python-v2", "python", "js5", "cosign3"];
    for client in message_bundles.iter().chain(&["python-attest"]) {
        let path = bundle(client);
        assert_rekor_v2_bundle(client, &dev, &path);
        ok(
            &format!("sigstore-go verifies the {client} bundle"),
            go_verify_timestamped(&dev.trusted_root(), &path, &artifact, &who, &dev),
        );
        ok(
            &format!("sigstore-python verifies the {client} bundle"),
            py_verify(&dev, &path, &artifact, &who.san(), &who.issuer(&dev)),
        );
        ok(
            &format!("sigstore-js 5 verifies the {client} bundle"),
            with_js5(js_verify(
                &dev,
                &path,
                &artifact,
                &who.san(),
                &who.issuer(&dev),
                &[],
            )),
        );
        refused(
            &format!("sigstore-go: the {client} entry is from another v2 log"),
            go_verify_timestamped(&other_root, &path, &artifact, &who, &dev),
        );
        refused(
            &format!("sigstore-python: the {client} entry is from another v2 log"),
            py_verify_with(&other_trust, &path, &artifact, &who, &dev),
        );
    }
    for client in message_bundles {
        ok(
            &format!("cosign3 verifies the {client} bundle"),
            cosign3_verify(&dev.trusted_root(), &bundle(client), &artifact, &who, &dev),
        );
    }
}
