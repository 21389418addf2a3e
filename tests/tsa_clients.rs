//! Real clients timestamping with `atesto dev`'s TSA (Rekor v1 log):
//! cosign 2.x `sign-blob --timestamp-server-url` verified with the TSA chain;
//! cosign 3.x, sigstore-python and sigstore-js 5.x taking the TSA from the
//! signing config; sigstore-go requiring the RFC 3161 timestamp of every
//! bundle. Refused: a bundle verified against another TSA, and a tampered
//! timestamp, each beside the same bundle verifying.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use support::clients::*;
use support::cosign::*;
use support::dev::*;

/// The TSA URL `atesto dev` lists in signing_config.json.
fn tsa_url(dev: &Dev) -> String {
    let config: Value =
        serde_json::from_slice(&std::fs::read(dev.path("signing_config.json")).unwrap()).unwrap();
    let url = config["tsaUrls"][0]["url"]
        .as_str()
        .expect("a TSA in tsaUrls");
    assert_eq!(url, format!("{}/tsa/api/v1/timestamp", dev.fulcio_url()));
    url.to_owned()
}

/// trusted_root.json with its TSA replaced by another one's chain.
fn root_with_another_tsa(dev: &Dev) -> PathBuf {
    let other = dev.path(&format!("other-tsa-{}", rand_suffix()));
    support::tsa::init_chain(&other);
    let chain = std::fs::read_to_string(other.join("chain.pem")).unwrap();
    let ders: Vec<Value> = chain
        .split("-----END CERTIFICATE-----")
        .filter(|block| block.contains("BEGIN"))
        .map(|block| {
            let body: String = block
                .lines()
                .filter(|line| !line.starts_with("-----") && !line.is_empty())
                .collect();
            serde_json::json!({"rawBytes": body})
        })
        .collect();
    let mut root: Value =
        serde_json::from_slice(&std::fs::read(dev.trusted_root()).unwrap()).unwrap();
    root["timestampAuthorities"][0]["certChain"]["certificates"] = Value::Array(ders);
    let path = dev.path("trusted_root_other_tsa.json");
    std::fs::write(&path, root.to_string()).unwrap();
    path
}

/// A copy of `bundle` with one byte of its first RFC 3161 timestamp's signature flipped.
fn with_tampered_timestamp(bundle: &Path) -> PathBuf {
    let mut json: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let field = &mut json["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        [0]["signedTimestamp"];
    let mut der = STANDARD
        .decode(field.as_str().expect("a signed timestamp"))
        .unwrap();
    let at = der.len() - 8; // inside the ECDSA signature, the last field
    der[at] ^= 0x01;
    *field = Value::String(STANDARD.encode(der));
    let path = bundle.with_extension("tampered-timestamp.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

fn assert_timestamped(client: &str, bundle: &Path) {
    let json: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let stamps = &json["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"];
    assert!(
        stamps.as_array().is_some_and(|s| s.len() == 1),
        "{client}: no RFC 3161 timestamp in the bundle: {json}"
    );
}

#[test]
fn signing_config_clients_timestamp_and_sigstore_go_verifies_the_timestamps() {
    let dev = Dev::start();
    let who = Who::Email("tsa@example.com");
    let artifact = artifact(&dev, "stamped.txt");
    let tsa = tsa_url(&dev);
    let token = who.token(&dev);
    let bundle = |client: &str| dev.path(&format!("{client}.sigstore.json"));

    ok(
        "sigstore-python sign",
        py_sign(&dev, &token, &artifact, &bundle("python")),
    );
    let mut js4 = js_sign(&dev, &token, &artifact, &bundle("js4"));
    js4.args([OsStr::new("--tsa"), OsStr::new(&tsa)]);
    ok("sigstore-js 4.1 sign --tsa", js4);
    let mut js = with_js5(js_sign(&dev, &token, &artifact, &bundle("js5")));
    js.args([OsStr::new("--tsa"), OsStr::new(&tsa)]);
    ok("sigstore-js 5 sign --tsa", js);
    ok(
        "cosign3 sign-blob --signing-config",
        cosign3_sign(&dev, &token, &artifact, &bundle("cosign3")),
    );

    let other_root = root_with_another_tsa(&dev);
    for client in ["python", "js4", "js5", "cosign3"] {
        let bundle = bundle(client);
        assert_timestamped(client, &bundle);
        ok(
            &format!("sigstore-go verifies the {client} timestamp"),
            go_verify_timestamped(&dev.trusted_root(), &bundle, &artifact, &who, &dev),
        );
        refused(
            &format!("sigstore-go: {client} timestamp from a TSA the root does not list"),
            go_verify_timestamped(&other_root, &bundle, &artifact, &who, &dev),
        );
        refused(
            &format!("sigstore-go: {client} bundle with a tampered timestamp"),
            go_verify_timestamped(
                &dev.trusted_root(),
                &with_tampered_timestamp(&bundle),
                &artifact,
                &who,
                &dev,
            ),
        );
    }
}

#[test]
fn cosign2_timestamps_blobs_against_rekor_v1_and_verifies_with_the_tsa_chain() {
    let dev = Dev::start();
    let who = Who::K8s("release", "stamper");
    let artifact = artifact(&dev, "kubernetes.tar.gz");
    let token = who.token(&dev);
    let (sig, cert, stamp) = (dev.path("k.sig"), dev.path("k.cert"), dev.path("k.tsr"));
    let (fulcio, rekor, tsa) = (dev.fulcio_url(), dev.rekor_url(), tsa_url(&dev));
    let sign = [
        "sign-blob",
        "--yes",
        "--fulcio-url",
        &fulcio,
        "--rekor-url",
        &rekor,
        "--timestamp-server-url",
        &tsa,
        "--identity-token",
        token.to_str().unwrap(),
        "--output-signature",
        sig.to_str().unwrap(),
        "--output-certificate",
        cert.to_str().unwrap(),
        "--rfc3161-timestamp",
        stamp.to_str().unwrap(),
        artifact.to_str().unwrap(),
    ]
    .map(str::to_owned);
    ok(
        "cosign2 sign-blob --timestamp-server-url",
        Cosign::V2.command(&dev, &os_args(&sign)),
    );

    let verify = |chain: &Path, artifact: &Path| {
        let mut args = vec![
            "verify-blob".to_owned(),
            "--rekor-url".into(),
            rekor.clone(),
            "--signature".into(),
            sig.display().to_string(),
            "--certificate".into(),
            cert.display().to_string(),
            "--rfc3161-timestamp".into(),
            stamp.display().to_string(),
            "--timestamp-certificate-chain".into(),
            chain.display().to_string(),
            "--use-signed-timestamps".into(),
        ];
        args.extend(identity_args(&dev, &who));
        args.push(artifact.display().to_string());
        Cosign::V2.command(&dev, &os_args(&args))
    };
    let chain = dev.path("tsa/chain.pem");
    ok(
        "cosign2 verify-blob with the TSA chain",
        verify(&chain, &artifact),
    );
    refused(
        "cosign2 verify-blob, tampered artifact",
        verify(&chain, &tampered(&artifact)),
    );
    let other = dev.path("other-tsa");
    support::tsa::init_chain(&other);
    refused(
        "cosign2 verify-blob against another TSA's chain",
        verify(&other.join("chain.pem"), &artifact),
    );
}
