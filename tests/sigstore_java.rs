//! sigstore-java (Maven Central, pinned in tests/clients/java/pom.xml)
//! against `atesto dev`: keyless signing through Fulcio's gRPC API and
//! Rekor v1, then verification from the trusted root `atesto dev` writes;
//! and every refusal a verifier or signer owes. The client is built by
//! `scripts/install-clients java` into target/clients/java.

mod support;

use std::path::Path;
use std::process::Command;

use support::Signer;
use support::dev::*;

/// Puts one unrelated entry in the dev log. sigstore-java 2.0.0 cannot
/// build a bundle around a log's very first entry: proto3 JSON leaves out
/// `logIndex: 0` and the empty proof `hashes` of a one-entry tree, and its
/// bundle check then reports them as not initialized.
fn seed_log(dev: &Dev) {
    let reply = support::client()
        .post(format!("{}/api/v1/log/entries", dev.rekor_url()))
        .json(&Signer::new().hashedrekord(b"an earlier entry"))
        .send()
        .unwrap();
    assert_eq!(reply.status(), 201, "{:?}", reply.text());
}

/// `java -cp … atesto.SigstoreJava <args>` (tests/clients/java).
fn java(args: &[&std::ffi::OsStr]) -> Command {
    let built = installed("java");
    let classpath = format!(
        "{}:{}/*",
        built.join("classes").display(),
        built.join("lib").display()
    );
    let mut command = Command::new("java");
    command
        .args(["-cp", &classpath, "atesto.SigstoreJava"])
        .args(args);
    command
}

fn sign(dev: &Dev, token: &Path, artifact: &Path, bundle: &Path) -> Command {
    java(&[
        os("sign"),
        dev.trusted_root().as_os_str(),
        dev.path("signing_config.json").as_os_str(),
        token.as_os_str(),
        artifact.as_os_str(),
        bundle.as_os_str(),
    ])
}

fn verify(dev: &Dev, artifact: &Path, bundle: &Path, san: &str, issuer: &str) -> Command {
    java(&[
        os("verify"),
        dev.trusted_root().as_os_str(),
        artifact.as_os_str(),
        bundle.as_os_str(),
        os(san),
        os(issuer),
    ])
}

#[test]
fn signs_keyless_over_grpc_and_verifies_each_identity_type() {
    let dev = Dev::start();
    seed_log(&dev);
    let artifact = write(&dev, "a.txt", b"signed by sigstore-java\n");
    for who in [
        Who::Email("java@example.com"),
        Who::K8s("release", "signer"),
    ] {
        let bundle = dev.path(&format!("java-{}.sigstore.json", rand_suffix()));
        ok(
            "sigstore-java sign",
            sign(&dev, &who.token(&dev), &artifact, &bundle),
        );
        ok(
            "sigstore-java verify",
            verify(&dev, &artifact, &bundle, &who.san(), &who.issuer(&dev)),
        );
        // The signature went to the log as a hashedrekord entry.
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
        let entry = &json["verificationMaterial"]["tlogEntries"][0];
        assert_eq!(entry["kindVersion"]["kind"], "hashedrekord", "{json}");
    }
}

#[test]
fn tampering_other_identities_foreign_bundles_and_expired_tokens_are_refused() {
    let dev = Dev::start();
    let other = Dev::start();
    seed_log(&dev);
    seed_log(&other);
    let who = Who::Email("mallory@example.com");
    let (san, issuer) = (who.san(), who.issuer(&dev));
    let artifact = write(&dev, "a.txt", b"the real artifact\n");
    let tampered = write(&dev, "b.txt", b"the real artifact!\n");

    let bundle = dev.path("good.sigstore.json");
    ok(
        "sign with a good token",
        sign(&dev, &who.token(&dev), &artifact, &bundle),
    );
    ok(
        "verify the untouched artifact",
        verify(&dev, &artifact, &bundle, &san, &issuer),
    );
    refused(
        "a tampered artifact",
        verify(&dev, &tampered, &bundle, &san, &issuer),
    );
    refused(
        "another identity",
        verify(&dev, &artifact, &bundle, "eve@example.com", &issuer),
    );
    refused(
        "another issuer",
        verify(&dev, &artifact, &bundle, &san, &dev.issuer("kubernetes")),
    );

    // A bundle from another Atesto instance: valid there, refused here.
    let foreign = dev.path("foreign.sigstore.json");
    let other_issuer = who.issuer(&other);
    ok(
        "sign on the other instance",
        sign(&other, &who.token(&other), &artifact, &foreign),
    );
    ok(
        "the foreign bundle on its own instance",
        verify(&other, &artifact, &foreign, &san, &other_issuer),
    );
    refused(
        "a bundle from another instance",
        verify(&dev, &artifact, &foreign, &san, &other_issuer),
    );

    // An expired token gets no certificate, so nothing is signed.
    let expired_bundle = dev.path("expired.sigstore.json");
    let expired = dev.token(&["--email", "mallory@example.com", "--expired"]);
    let out = refused(
        "sign with an expired token",
        sign(&dev, &expired, &artifact, &expired_bundle),
    );
    assert!(out.contains("expired"), "{out}");
    assert!(!expired_bundle.exists(), "a refused signing wrote a bundle");
}
