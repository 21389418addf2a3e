//! Real, unmodified sigstore clients against `atesto dev`: sigstore-python
//! 4.5.1 (CLI and library), sigstore-js 4.1 (its npm packages, driven by
//! tests/clients/js/client.js) and sigstore-rs 0.15 (linked in).
//!
//! The Python and JS clients are installed by `scripts/install-clients`
//! under `target/clients/`; a missing client fails the test, it is never
//! skipped. Every refusal is paired with the same command succeeding on the
//! right input, so a refusal cannot pass because the command itself is broken.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sigstore::bundle::Bundle;
use sigstore::bundle::verify::VerificationPolicy;
use sigstore::bundle::verify::blocking::Verifier;
use sigstore::bundle::verify::policy::{Identity, PolicyError, PolicyResult};
use sigstore::crypto::{CosignVerificationKey, SigningScheme};
use sigstore::rekor::apis::configuration::Configuration;
use sigstore::rekor::apis::{entries_api, tlog_api};
use sigstore::trust::ManualTrustRoot;
use support::clients::*;
use support::dev::*;
use x509_cert::der::Decode;
use x509_cert::der::asn1::Utf8StringRef;

// --- sigstore-rs

/// The trusted root `atesto dev` wrote, as sigstore-rs's manual trust root:
/// every CA certificate and every CT log key (the Rekor keys are unused by its
/// bundle verifier, which checks the entry's body against the bundle).
fn rust_verifier(dev: &Dev) -> Verifier {
    let root: Value = serde_json::from_slice(&std::fs::read(dev.trusted_root()).unwrap()).unwrap();
    let b64 = |v: &Value| STANDARD.decode(v.as_str().expect("base64 string")).unwrap();
    let keys = |member: &str| -> BTreeMap<String, Vec<u8>> {
        root[member]
            .as_array()
            .unwrap()
            .iter()
            .map(|log| {
                (
                    log["logId"]["keyId"].as_str().unwrap().to_owned(),
                    b64(&log["publicKey"]["rawBytes"]),
                )
            })
            .collect()
    };
    let trust = ManualTrustRoot {
        fulcio_certs: root["certificateAuthorities"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|ca| ca["certChain"]["certificates"].as_array().unwrap().clone())
            .map(|cert| b64(&cert["rawBytes"]).into())
            .collect(),
        rekor_keys: keys("tlogs"),
        ctfe_keys: keys("ctlogs"),
    };
    Verifier::new(Default::default(), trust).unwrap()
}

/// sigstore-rs's bundle verification, offline (the bundle's own inclusion
/// proof; 0.15 fetches nothing).
fn rust_verify(
    dev: &Dev,
    bundle: &Path,
    artifact: &Path,
    policy: &impl VerificationPolicy,
) -> Result<(), String> {
    let bundle: Bundle = serde_json::from_slice(&std::fs::read(bundle).unwrap())
        .map_err(|e| format!("sigstore-rs cannot parse the bundle: {e}"))?;
    rust_verifier(dev)
        .verify(
            std::fs::read(artifact).unwrap().as_slice(),
            bundle,
            policy,
            true,
        )
        .map_err(|e| format!("{e:?}"))
}

/// Fulcio v2 extensions (DER UTF8String values), which sigstore-rs 0.15 has
/// no ready policy for; checked through its VerificationPolicy trait.
struct V2Extension {
    oid: &'static str,
    value: String,
}

impl VerificationPolicy for V2Extension {
    fn verify(&self, cert: &x509_cert::Certificate) -> PolicyResult {
        let found: Vec<_> = cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .filter(|ext| ext.extn_id.to_string() == self.oid)
            .collect();
        let [ext] = found.as_slice() else {
            return Err(PolicyError::ExtensionNotFound);
        };
        let actual = Utf8StringRef::from_der(ext.extn_value.as_bytes())
            .map(|s| s.as_str().to_owned())
            .map_err(|_| PolicyError::ExtensionNotFound)?;
        if actual != self.value {
            return Err(PolicyError::ExtensionCheckFailed {
                extension: self.oid.to_owned(),
                expected: self.value.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// Identity and extension policies, all required.
struct All(Vec<Box<dyn VerificationPolicy>>);

impl VerificationPolicy for All {
    fn verify(&self, cert: &x509_cert::Certificate) -> PolicyResult {
        self.0.iter().try_for_each(|p| p.verify(cert))
    }
}

// ---------------------------------------------------------------------------
// Shared scenario pieces

/// Every verifier that reads this kind of bundle accepts it for the right
/// identity and artifact and, with `refusals`, refuses a tampered artifact and
/// a wrong identity. sigstore-rs 0.15 is not given DSSE bundles (`dsse`).
#[track_caller]
fn all_verify(
    dev: &Dev,
    who: &Who,
    (bundle, dsse, what): (&Path, bool, &str),
    artifact: &Path,
    refusals: bool,
) {
    let san = who.san();
    let issuer = who.issuer(dev);
    let right = Identity::new(&san, &issuer);
    ok(
        &format!("python verifies {what}"),
        py_verify(dev, bundle, artifact, &san, &issuer),
    );
    ok(
        &format!("js verifies {what}"),
        js_verify(dev, bundle, artifact, &san, &issuer, &[]),
    );
    if !dsse {
        rust_verify(dev, bundle, artifact, &right)
            .unwrap_or_else(|e| panic!("sigstore-rs rejected {what}: {e}"));
    }
    if !refusals {
        return;
    }

    let tampered = write(
        dev,
        &format!("tampered-{}", rand_suffix()),
        &[std::fs::read(artifact).unwrap().as_slice(), b"!"].concat(),
    );
    let wrong = format!("{san}x");
    refused(
        &format!("python: {what}, tampered artifact"),
        py_verify(dev, bundle, &tampered, &san, &issuer),
    );
    refused(
        &format!("python: {what}, wrong identity"),
        py_verify(dev, bundle, artifact, &wrong, &issuer),
    );
    refused(
        &format!("js: {what}, tampered artifact"),
        js_verify(dev, bundle, &tampered, &san, &issuer, &[]),
    );
    refused(
        &format!("js: {what}, wrong identity"),
        js_verify(dev, bundle, artifact, &wrong, &issuer, &[]),
    );
    if !dsse {
        assert!(
            rust_verify(dev, bundle, &tampered, &right).is_err(),
            "sigstore-rs accepted {what} for a tampered artifact"
        );
        assert!(
            rust_verify(dev, bundle, artifact, &Identity::new(&wrong, &issuer)).is_err(),
            "sigstore-rs accepted {what} for a wrong identity"
        );
    }
}

/// Signs and attests `artifact` as `who` with both signing clients; returns
/// (python sign, python attest, js sign, js attest) bundles.
fn sign_all(dev: &Dev, who: &Who, artifact: &Path) -> [PathBuf; 4] {
    let token = who.token(dev);
    let bundles = ["py-sign", "py-attest", "js-sign", "js-attest"]
        .map(|name| dev.path(&format!("{name}-{}.sigstore.json", rand_suffix())));
    ok("python sign", py_sign(dev, &token, artifact, &bundles[0]));
    ok(
        "python attest",
        py_attest(dev, &token, artifact, &bundles[1]),
    );
    ok("js sign", js_sign(dev, &token, artifact, &bundles[2]));
    ok("js attest", js_attest(dev, &token, artifact, &bundles[3]));
    bundles
}

/// Each client verifies its own and the other's bundles of every kind.
fn cross_verify(dev: &Dev, who: &Who, artifact: &Path, bundles: &[PathBuf; 4], refusals: bool) {
    let [py_sig, py_att, js_sig, js_att] = bundles;
    all_verify(
        dev,
        who,
        (py_sig, false, "the python signature"),
        artifact,
        refusals,
    );
    all_verify(
        dev,
        who,
        (py_att, true, "the python attestation"),
        artifact,
        refusals,
    );
    all_verify(
        dev,
        who,
        (js_sig, false, "the js signature"),
        artifact,
        refusals,
    );
    all_verify(
        dev,
        who,
        (js_att, true, "the js attestation"),
        artifact,
        refusals,
    );
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn email_identity_signs_and_verifies_across_python_js_and_rust() {
    let dev = Dev::start();
    let who = Who::Email("alice@example.com");
    let artifact = write(&dev, "release.tar.gz", b"atesto release artifact\n");
    let bundles = sign_all(&dev, &who, &artifact);
    // The tampered-artifact and wrong-identity refusals once, on every kind of bundle.
    cross_verify(&dev, &who, &artifact, &bundles, true);
}

#[test]
fn kubernetes_service_account_identity_signs_and_verifies() {
    let dev = Dev::start();
    let who = Who::K8s("release", "builder");
    let artifact = write(&dev, "kube.tar.gz", b"kubernetes release artifact\n");
    let bundles = sign_all(&dev, &who, &artifact);
    cross_verify(&dev, &who, &artifact, &bundles, false);
}

#[test]
fn github_actions_identity_and_extensions_verify() {
    let dev = Dev::start();
    let who = Who::GitHub;
    let artifact = write(&dev, "gh.tar.gz", b"github release artifact\n");
    let bundles = sign_all(&dev, &who, &artifact);
    cross_verify(&dev, &who, &artifact, &bundles, false);

    // Build signer (.1.9), source repository (.1.12) and its digest (.1.13).
    let san = who.san();
    let issuer = who.issuer(&dev);
    let repo_uri = format!("https://github.com/{GITHUB_REPO}");
    let right = [san.as_str(), repo_uri.as_str(), GITHUB_SHA];
    let wrong_digest = "f".repeat(40);
    let wrong = [san.as_str(), repo_uri.as_str(), wrong_digest.as_str()];
    let oids = |[signer, repo, digest]: [&str; 3]| {
        vec![
            format!("1.3.6.1.4.1.57264.1.9={signer}"),
            format!("1.3.6.1.4.1.57264.1.12={repo}"),
            format!("1.3.6.1.4.1.57264.1.13={digest}"),
        ]
    };
    let py_ext = |bundle: &Path, [signer, repo, digest]: [&str; 3]| {
        let mut command = python_script("verify_extensions.py");
        command
            .arg(dev.trust_config())
            .arg(bundle)
            .arg(&artifact)
            .args([san.as_str(), issuer.as_str(), signer, repo, digest]);
        command
    };
    let rs_policy = |[signer, repo, digest]: [&str; 3]| {
        All(vec![
            Box::new(Identity::new(&san, &issuer)),
            Box::new(V2Extension {
                oid: "1.3.6.1.4.1.57264.1.9",
                value: signer.to_owned(),
            }),
            Box::new(V2Extension {
                oid: "1.3.6.1.4.1.57264.1.12",
                value: repo.to_owned(),
            }),
            Box::new(V2Extension {
                oid: "1.3.6.1.4.1.57264.1.13",
                value: digest.to_owned(),
            }),
        ])
    };
    // Message-signature bundles from both signers, through all three verifiers.
    for bundle in [&bundles[0], &bundles[2]] {
        ok("python extension policy", py_ext(bundle, right));
        refused(
            "python extension policy, wrong digest",
            py_ext(bundle, wrong),
        );
        ok(
            "js OID policy",
            js_verify(&dev, bundle, &artifact, &san, &issuer, &oids(right)),
        );
        refused(
            "js OID policy, wrong digest",
            js_verify(&dev, bundle, &artifact, &san, &issuer, &oids(wrong)),
        );
        rust_verify(&dev, bundle, &artifact, &rs_policy(right))
            .unwrap_or_else(|e| panic!("sigstore-rs extension policy: {e}"));
        assert!(
            rust_verify(&dev, bundle, &artifact, &rs_policy(wrong)).is_err(),
            "sigstore-rs accepted a wrong source repository digest"
        );
    }
}

#[test]
fn foreign_bundles_and_bad_tokens_are_refused() {
    let dev = Dev::start();
    let other = Dev::start();
    let who = Who::Email("mallory@example.com");
    let artifact = write(&dev, "a.txt", b"artifact signed elsewhere\n");
    let san = who.san();

    // A bundle from another Atesto instance: valid there, refused here.
    let foreign_py = dev.path("foreign-py.sigstore.json");
    let foreign_js = dev.path("foreign-js.sigstore.json");
    let other_token = who.token(&other);
    ok(
        "python sign on the other instance",
        py_sign(&other, &other_token, &artifact, &foreign_py),
    );
    ok(
        "js sign on the other instance",
        js_sign(&other, &other_token, &artifact, &foreign_js),
    );
    let other_issuer = who.issuer(&other);
    let issuer = who.issuer(&dev);
    for bundle in [&foreign_py, &foreign_js] {
        ok(
            "python on its own instance",
            py_verify(&other, bundle, &artifact, &san, &other_issuer),
        );
        refused(
            "python: bundle from another instance",
            py_verify(&dev, bundle, &artifact, &san, &other_issuer),
        );
        ok(
            "js on its own instance",
            js_verify(&other, bundle, &artifact, &san, &other_issuer, &[]),
        );
        refused(
            "js: bundle from another instance",
            js_verify(&dev, bundle, &artifact, &san, &other_issuer, &[]),
        );
        rust_verify(
            &other,
            bundle,
            &artifact,
            &Identity::new(&san, &other_issuer),
        )
        .unwrap_or_else(|e| panic!("sigstore-rs on its own instance: {e}"));
        assert!(
            rust_verify(&dev, bundle, &artifact, &Identity::new(&san, &other_issuer)).is_err(),
            "sigstore-rs accepted a bundle from another instance"
        );
    }

    // Tokens: a good one signs; an expired one and one from an issuer this
    // CA does not trust (the other instance's) do not.
    let good = who.token(&dev);
    let expired = dev.token(&["--email", "mallory@example.com", "--expired"]);
    let sign = |token: &Path, name: &str| {
        (
            py_sign(
                &dev,
                token,
                &artifact,
                &dev.path(&format!("py-{name}.json")),
            ),
            js_sign(
                &dev,
                token,
                &artifact,
                &dev.path(&format!("js-{name}.json")),
            ),
        )
    };
    let (py, js) = sign(&good, "good");
    ok("python sign with a good token", py);
    ok("js sign with a good token", js);
    ok(
        "the good signature verifies",
        py_verify(&dev, &dev.path("py-good.json"), &artifact, &san, &issuer),
    );
    let (py, js) = sign(&expired, "expired");
    refused("python sign with an expired token", py);
    refused("js sign with an expired token", js);
    let (py, js) = sign(&other_token, "foreign-issuer");
    refused("python sign with a token from an unknown issuer", py);
    refused("js sign with a token from an unknown issuer", js);
    for name in ["expired", "foreign-issuer"] {
        for client in ["py", "js"] {
            let path = dev.path(&format!("{client}-{name}.json"));
            assert!(
                !path.exists(),
                "a refused signing still wrote {}",
                path.display()
            );
        }
    }
}

#[test]
fn sigstore_rs_checks_inclusion_and_consistency_of_client_entries() {
    let dev = Dev::start();
    let who = Who::Email("proofs@example.com");
    let token = who.token(&dev);
    let config = Configuration {
        base_path: dev.rekor_url(),
        ..Configuration::default()
    };
    let pem = std::fs::read(dev.path("rekor.pub")).unwrap();
    let key = CosignVerificationKey::from_pem(&pem, &SigningScheme::ECDSA_P256_SHA256_ASN1)
        .expect("rekor.pub is an ECDSA P-256 PEM key");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let first = write(&dev, "first.txt", b"first\n");
    let first_bundle = dev.path("first.sigstore.json");
    ok("python sign", py_sign(&dev, &token, &first, &first_bundle));
    let old = runtime.block_on(tlog_api::get_log_info(&config)).unwrap();

    let second = write(&dev, "second.txt", b"second\n");
    ok(
        "js sign",
        js_sign(&dev, &token, &second, &dev.path("second.sigstore.json")),
    );
    ok(
        "js attest",
        js_attest(&dev, &token, &second, &dev.path("third.sigstore.json")),
    );
    let new = runtime.block_on(tlog_api::get_log_info(&config)).unwrap();
    assert!(new.tree_size >= old.tree_size + 2, "{old:?} -> {new:?}");

    // Inclusion of the python client's entry, fetched by the index in its bundle.
    let bundle: Value = serde_json::from_slice(&std::fs::read(&first_bundle).unwrap()).unwrap();
    let index: i32 = bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        .as_str()
        .expect("logIndex is a string in a v0.3 bundle")
        .parse()
        .unwrap();
    let entry = runtime
        .block_on(entries_api::get_log_entry_by_index(&config, index))
        .unwrap_or_else(|e| panic!("get_log_entry_by_index({index}): {e:?}"));
    entry
        .verify_inclusion(&key)
        .unwrap_or_else(|e| panic!("sigstore-rs rejected the inclusion proof: {e:?}"));
    // Any other P-256 key must fail; the CT log's is at hand.
    let foreign = CosignVerificationKey::from_pem(
        &std::fs::read(dev.path("ctlog.pub")).unwrap(),
        &SigningScheme::ECDSA_P256_SHA256_ASN1,
    )
    .unwrap();
    assert!(
        entry.verify_inclusion(&foreign).is_err(),
        "inclusion proof accepted under another key"
    );

    // Consistency between the two tree heads.
    let proof = runtime
        .block_on(tlog_api::get_log_proof(
            &config,
            new.tree_size,
            Some(&old.tree_size.to_string()),
            None,
        ))
        .unwrap_or_else(|e| panic!("get_log_proof: {e:?}"));
    new.verify_consistency(old.tree_size, &old.root_hash, &proof, &key)
        .unwrap_or_else(|e| panic!("sigstore-rs rejected the consistency proof: {e:?}"));
    let mut wrong_root = old.root_hash;
    wrong_root[0] ^= 1;
    assert!(
        new.verify_consistency(old.tree_size, &wrong_root, &proof, &key)
            .is_err(),
        "consistency proof accepted for a different old root"
    );
    assert!(
        new.verify_consistency(old.tree_size, &old.root_hash, &proof, &foreign)
            .is_err(),
        "consistency proof accepted under another key"
    );
}
