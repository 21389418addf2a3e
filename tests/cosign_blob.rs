//! Unmodified cosign 2.x and 3.x signing and verifying blobs against
//! `atesto dev`, configured only from the files it writes: cosign 2.x from
//! `cosign.env` and URL flags, cosign 3.x from `trusted_root.json` and
//! `signing_config.json` or from the stack's TUF repository.
//!
//! The cosign binaries are built by `scripts/install-clients`; a missing one
//! fails the test. Every refusal is paired with the same command succeeding
//! on the right input.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use support::cosign::*;
use support::dev::*;

/// `cosign sign-blob`, cosign 2.x style: URL flags, the trust from cosign.env,
/// `outputs` such as `--output-signature X.sig` or `--bundle X.bundle`.
fn v2_sign_blob(dev: &Dev, token: &Path, artifact: &Path, outputs: &[&OsStr]) -> Command {
    let (fulcio, rekor) = (dev.fulcio_url(), dev.rekor_url());
    let mut args = vec![
        os("sign-blob"),
        os("--yes"),
        os("--fulcio-url"),
        os(&fulcio),
        os("--rekor-url"),
        os(&rekor),
        os("--identity-token"),
        token.as_os_str(),
    ];
    args.extend_from_slice(outputs);
    args.push(artifact.as_os_str());
    Cosign::V2.command(dev, &args)
}

/// `cosign verify-blob`, cosign 2.x style; `inputs` are `--signature X.sig
/// --certificate X.cert` or `--bundle X.bundle`.
fn v2_verify_blob(
    dev: &Dev,
    who: &Who,
    artifact: &Path,
    issuer: &str,
    inputs: &[&OsStr],
) -> Command {
    let rekor = dev.rekor_url();
    let san = who.san();
    let mut args = vec![
        os("verify-blob"),
        os("--rekor-url"),
        os(&rekor),
        os("--certificate-identity"),
        os(&san),
        os("--certificate-oidc-issuer"),
        os(issuer),
    ];
    args.extend_from_slice(inputs);
    args.push(artifact.as_os_str());
    Cosign::V2.command(dev, &args)
}

/// The Kubernetes release flow (cosign 2.x): a detached signature and
/// certificate, verified by finding the entry through the log's search API;
/// and the same with a cosign bundle.
#[test]
fn cosign2_signs_and_verifies_blobs_with_signature_and_certificate() {
    let dev = Dev::start();
    let who = Who::K8s("release", "kubernetes-release");
    let artifact = artifact(&dev, "kubernetes.tar.gz");
    let token = who.token(&dev);
    let (sig, cert) = (dev.path("k.sig"), dev.path("k.cert"));
    ok(
        "cosign2 sign-blob --output-signature --output-certificate",
        v2_sign_blob(
            &dev,
            &token,
            &artifact,
            &[
                os("--output-signature"),
                sig.as_os_str(),
                os("--output-certificate"),
                cert.as_os_str(),
            ],
        ),
    );
    let detached = [
        os("--signature"),
        sig.as_os_str(),
        os("--certificate"),
        cert.as_os_str(),
    ];
    let issuer = who.issuer(&dev);
    ok(
        "cosign2 verify-blob --signature --certificate",
        v2_verify_blob(&dev, &who, &artifact, &issuer, &detached),
    );
    refused(
        "cosign2 verify-blob of a tampered artifact",
        v2_verify_blob(&dev, &who, &tampered(&artifact), &issuer, &detached),
    );
    refused(
        "cosign2 verify-blob with a wrong identity",
        v2_verify_blob(
            &dev,
            &Who::K8s("release", "someone-else"),
            &artifact,
            &issuer,
            &detached,
        ),
    );
    refused(
        "cosign2 verify-blob with a wrong issuer",
        v2_verify_blob(&dev, &who, &artifact, &dev.issuer("github"), &detached),
    );

    let bundle = dev.path("k.bundle");
    ok(
        "cosign2 sign-blob --bundle",
        v2_sign_blob(
            &dev,
            &token,
            &artifact,
            &[os("--bundle"), bundle.as_os_str()],
        ),
    );
    ok(
        "cosign2 verify-blob --bundle",
        v2_verify_blob(
            &dev,
            &who,
            &artifact,
            &issuer,
            &[os("--bundle"), bundle.as_os_str()],
        ),
    );
    refused(
        "cosign2 verify-blob --bundle of a tampered artifact",
        v2_verify_blob(
            &dev,
            &who,
            &tampered(&artifact),
            &issuer,
            &[os("--bundle"), bundle.as_os_str()],
        ),
    );
}

/// `cosign <sub> --trusted-root T [--signing-config S] <args>` (cosign 3.x);
/// `configured` false leaves both to what `cosign initialize` set up.
fn v3(dev: &Dev, sub: &str, configured: bool, signs: bool, args: &[&OsStr]) -> Command {
    let (root, config) = (dev.trusted_root(), dev.path("signing_config.json"));
    let mut all = vec![os(sub)];
    if configured {
        all.extend([os("--trusted-root"), root.as_os_str()]);
        if signs {
            all.extend([os("--signing-config"), config.as_os_str()]);
        }
    }
    all.extend_from_slice(args);
    Cosign::V3.command(dev, &all)
}

fn v3_sign_blob(
    dev: &Dev,
    configured: bool,
    token: &Path,
    artifact: &Path,
    bundle: &Path,
) -> Command {
    v3(
        dev,
        "sign-blob",
        configured,
        true,
        &[
            os("--yes"),
            os("--identity-token"),
            token.as_os_str(),
            os("--bundle"),
            bundle.as_os_str(),
            artifact.as_os_str(),
        ],
    )
}

fn v3_verify_blob(
    dev: &Dev,
    configured: bool,
    bundle: &Path,
    artifact: &Path,
    san: &str,
    issuer: &str,
) -> Command {
    v3(
        dev,
        "verify-blob",
        configured,
        false,
        &[
            os("--bundle"),
            bundle.as_os_str(),
            os("--certificate-identity"),
            os(san),
            os("--certificate-oidc-issuer"),
            os(issuer),
            artifact.as_os_str(),
        ],
    )
}

/// SLSA provenance v1 for an artifact, as `--predicate` takes it.
fn provenance(dev: &Dev) -> PathBuf {
    let path = dev.path(&format!("provenance-{}.json", rand_suffix()));
    let predicate = json!({
        "buildDefinition": {
            "buildType": "https://atesto.dev/test-build/v1",
            "externalParameters": {"target": "widget"}
        },
        "runDetails": {"builder": {"id": "https://atesto.dev/test-builder"}}
    });
    std::fs::write(&path, predicate.to_string()).unwrap();
    path
}

/// cosign 3.x with `--trusted-root` and `--signing-config`: sign-blob /
/// verify-blob and attest-blob / verify-blob-attestation, sigstore bundles.
#[test]
fn cosign3_signs_and_attests_blobs_with_trusted_root_and_signing_config() {
    let dev = Dev::start();
    let who = Who::GitHub;
    let (san, issuer) = (who.san(), who.issuer(&dev));
    let artifact = artifact(&dev, "widget.tar.gz");
    let token = who.token(&dev);
    let bundle = dev.path("widget.sigstore.json");
    ok(
        "cosign3 sign-blob",
        v3_sign_blob(&dev, true, &token, &artifact, &bundle),
    );
    ok(
        "cosign3 verify-blob",
        v3_verify_blob(&dev, true, &bundle, &artifact, &san, &issuer),
    );
    refused(
        "cosign3 verify-blob of a tampered artifact",
        v3_verify_blob(&dev, true, &bundle, &tampered(&artifact), &san, &issuer),
    );
    refused(
        "cosign3 verify-blob with a wrong identity",
        v3_verify_blob(
            &dev,
            true,
            &bundle,
            &artifact,
            "https://github.com/evil/x",
            &issuer,
        ),
    );
    refused(
        "cosign3 verify-blob with a wrong issuer",
        v3_verify_blob(&dev, true, &bundle, &artifact, &san, &dev.issuer("email")),
    );

    let predicate = provenance(&dev);
    let attestation = dev.path("widget.intoto.sigstore.json");
    ok(
        "cosign3 attest-blob",
        v3(
            &dev,
            "attest-blob",
            true,
            true,
            &[
                os("--yes"),
                os("--identity-token"),
                token.as_os_str(),
                os("--predicate"),
                predicate.as_os_str(),
                os("--type"),
                os("slsaprovenance1"),
                os("--bundle"),
                attestation.as_os_str(),
                artifact.as_os_str(),
            ],
        ),
    );
    let verify_attestation = |artifact: &Path| {
        v3(
            &dev,
            "verify-blob-attestation",
            true,
            false,
            &[
                os("--bundle"),
                attestation.as_os_str(),
                os("--type"),
                os("slsaprovenance1"),
                os("--certificate-identity"),
                os(&san),
                os("--certificate-oidc-issuer"),
                os(&issuer),
                artifact.as_os_str(),
            ],
        )
    };
    ok(
        "cosign3 verify-blob-attestation",
        verify_attestation(&artifact),
    );
    refused(
        "cosign3 verify-blob-attestation of a tampered artifact",
        verify_attestation(&tampered(&artifact)),
    );
}

/// `cosign initialize --mirror http://CA/tuf --root DIR/tuf/root.json`, then
/// cosign 3.x signs and verifies with no trust flag at all.
#[test]
fn cosign3_signs_after_initialize_from_the_tuf_mirror() {
    let dev = Dev::start();
    let who = Who::Email("release@example.com");
    let mirror = format!("{}/tuf", dev.fulcio_url());
    let root = dev.path("tuf/root.json");
    ok(
        "cosign3 initialize",
        Cosign::V3.command(
            &dev,
            &[
                os("initialize"),
                os("--mirror"),
                os(&mirror),
                os("--root"),
                root.as_os_str(),
            ],
        ),
    );
    let artifact = artifact(&dev, "notes.txt");
    let bundle = dev.path("notes.sigstore.json");
    ok(
        "cosign3 sign-blob after initialize",
        v3_sign_blob(&dev, false, &who.token(&dev), &artifact, &bundle),
    );
    let (san, issuer) = (who.san(), who.issuer(&dev));
    ok(
        "cosign3 verify-blob after initialize",
        v3_verify_blob(&dev, false, &bundle, &artifact, &san, &issuer),
    );
    refused(
        "cosign3 verify-blob after initialize, tampered artifact",
        v3_verify_blob(&dev, false, &bundle, &tampered(&artifact), &san, &issuer),
    );
}

/// Key-based signing (cosign 2.x): a generated key pair, the signature
/// uploaded to the log as a hashedrekord with the public key, verified
/// against the key and the log's entry.
#[test]
fn cosign2_signs_blobs_with_a_generated_key_and_the_log() {
    let dev = Dev::start();
    let mut generate = Cosign::V2.command(
        &dev,
        &[
            os("generate-key-pair"),
            os("--output-key-prefix"),
            os("release"),
        ],
    );
    generate
        .current_dir(dev.dir.path())
        .env("COSIGN_PASSWORD", "");
    ok("cosign2 generate-key-pair", generate);
    let (key, public) = (dev.path("release.key"), dev.path("release.pub"));
    let artifact = artifact(&dev, "keyed.bin");
    let sig = dev.path("keyed.sig");
    let rekor = dev.rekor_url();
    let mut sign = Cosign::V2.command(
        &dev,
        &[
            os("sign-blob"),
            os("--yes"),
            os("--key"),
            key.as_os_str(),
            os("--rekor-url"),
            os(&rekor),
            os("--tlog-upload=true"),
            os("--output-signature"),
            sig.as_os_str(),
            artifact.as_os_str(),
        ],
    );
    sign.env("COSIGN_PASSWORD", "");
    ok("cosign2 sign-blob --key", sign);
    let verify = |key: &Path, artifact: &Path| {
        Cosign::V2.command(
            &dev,
            &[
                os("verify-blob"),
                os("--key"),
                key.as_os_str(),
                os("--rekor-url"),
                os(&rekor),
                os("--signature"),
                sig.as_os_str(),
                artifact.as_os_str(),
            ],
        )
    };
    ok("cosign2 verify-blob --key", verify(&public, &artifact));
    refused(
        "cosign2 verify-blob --key of a tampered artifact",
        verify(&public, &tampered(&artifact)),
    );
    let mut other = Cosign::V2.command(
        &dev,
        &[
            os("generate-key-pair"),
            os("--output-key-prefix"),
            os("other"),
        ],
    );
    other.current_dir(dev.dir.path()).env("COSIGN_PASSWORD", "");
    ok("cosign2 generate-key-pair (another key)", other);
    refused(
        "cosign2 verify-blob with another key",
        verify(&dev.path("other.pub"), &artifact),
    );

    // The log holds the signature under the key: the entry is found by the
    // artifact's digest.
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(&artifact).unwrap(),
    ));
    let found = support::client()
        .post(format!("{rekor}/api/v1/index/retrieve"))
        .json(&json!({"hash": format!("sha256:{digest}")}))
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
}

/// Refusals cosign shows at signing time and for bundles of another
/// instance: an expired token, an issuer the CA does not trust, a bundle
/// made by another Atesto.
#[test]
fn cosign_refuses_bad_tokens_and_foreign_bundles() {
    let dev = Dev::start();
    let other = Dev::start();
    let who = Who::Email("mallory@example.com");
    let artifact = artifact(&dev, "a.txt");
    let san = who.san();

    let good = who.token(&dev);
    let expired = dev.token(&["--email", "mallory@example.com", "--expired"]);
    let foreign_token = who.token(&other);
    for (name, token, accepted) in [
        ("a good token", &good, true),
        ("an expired token", &expired, false),
        (
            "a token from an issuer the CA does not trust",
            &foreign_token,
            false,
        ),
    ] {
        let (v2_bundle, v3_bundle) = (
            dev.path(&format!("v2-{}.bundle", rand_suffix())),
            dev.path(&format!("v3-{}.sigstore.json", rand_suffix())),
        );
        let v2 = v2_sign_blob(
            &dev,
            token,
            &artifact,
            &[os("--bundle"), v2_bundle.as_os_str()],
        );
        let v3 = v3_sign_blob(&dev, true, token, &artifact, &v3_bundle);
        if accepted {
            ok(&format!("cosign2 sign-blob with {name}"), v2);
            ok(&format!("cosign3 sign-blob with {name}"), v3);
        } else {
            refused(&format!("cosign2 sign-blob with {name}"), v2);
            refused(&format!("cosign3 sign-blob with {name}"), v3);
        }
    }

    // A bundle from another Atesto instance: valid there, refused here.
    let foreign = dev.path("foreign.sigstore.json");
    ok(
        "cosign3 sign-blob on the other instance",
        v3_sign_blob(&other, true, &foreign_token, &artifact, &foreign),
    );
    let other_issuer = who.issuer(&other);
    ok(
        "cosign3 verify-blob on its own instance",
        v3_verify_blob(&other, true, &foreign, &artifact, &san, &other_issuer),
    );
    refused(
        "cosign3 verify-blob of another instance's bundle",
        v3_verify_blob(&dev, true, &foreign, &artifact, &san, &other_issuer),
    );
    let foreign_v2 = dev.path("foreign.bundle");
    ok(
        "cosign2 sign-blob on the other instance",
        v2_sign_blob(
            &other,
            &foreign_token,
            &artifact,
            &[os("--bundle"), foreign_v2.as_os_str()],
        ),
    );
    let bundle_arg = [os("--bundle"), foreign_v2.as_os_str()];
    ok(
        "cosign2 verify-blob on its own instance",
        v2_verify_blob(&other, &who, &artifact, &other_issuer, &bundle_arg),
    );
    refused(
        "cosign2 verify-blob of another instance's bundle",
        v2_verify_blob(&dev, &who, &artifact, &other_issuer, &bundle_arg),
    );
}
