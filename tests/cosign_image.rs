//! Unmodified cosign 2.x and 3.x signing and attesting container images in a
//! local OCI registry (go-containerregistry's `registry`, images pushed with
//! `crane`), keyless against `atesto dev`, for a Kubernetes service account
//! and a GitHub Actions workflow.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use support::cosign::*;
use support::dev::*;

/// The trust flags of each major: cosign 2.x takes the URLs (and its keys
/// from cosign.env), cosign 3.x the trusted root and the signing config.
fn trust_args(cosign: Cosign, dev: &Dev, signs: bool) -> Vec<String> {
    match cosign {
        Cosign::V2 => {
            let mut args = vec!["--rekor-url".to_owned(), dev.rekor_url()];
            if signs {
                args.extend(["--fulcio-url".to_owned(), dev.fulcio_url()]);
            }
            args
        }
        Cosign::V3 => {
            let mut args = vec![
                "--trusted-root".to_owned(),
                dev.trusted_root().display().to_string(),
            ];
            if signs {
                args.extend([
                    "--signing-config".to_owned(),
                    dev.path("signing_config.json").display().to_string(),
                ]);
            }
            args
        }
    }
}

/// `cosign <sub> <trust flags> <args> IMAGE`.
fn cosign(
    cosign: Cosign,
    dev: &Dev,
    sub: &str,
    signs: bool,
    args: &[String],
    image: &str,
) -> Command {
    let mut all = vec![sub.to_owned()];
    all.extend(trust_args(cosign, dev, signs));
    all.extend_from_slice(args);
    all.push(image.to_owned());
    cosign.command(dev, &os_args(&all))
}

fn token_args(token: &std::path::Path) -> Vec<String> {
    vec![
        "--yes".into(),
        "--identity-token".into(),
        token.display().to_string(),
    ]
}

/// SLSA provenance v0.2, the predicate of `--type slsaprovenance`.
fn provenance(dev: &Dev) -> PathBuf {
    let path = dev.path(&format!("provenance-{}.json", rand_suffix()));
    let predicate = json!({
        "builder": {"id": "https://atesto.dev/test-builder"},
        "buildType": "https://atesto.dev/test-build/v1",
        "invocation": {"configSource": {}},
        "materials": [{"uri": "git+https://example.com/widget", "digest": {"sha1": "ab".repeat(20)}}]
    });
    std::fs::write(&path, predicate.to_string()).unwrap();
    path
}

/// sign, verify, attest --type slsaprovenance, verify-attestation of a fresh
/// image, and the refusals: another (unsigned) image, a wrong identity, a
/// wrong issuer.
fn sign_and_attest_an_image(major: Cosign, who: Who) {
    let dev = Dev::start();
    let registry = Registry::start();
    let image = registry.push_random_image(&dev, "widget");
    let token = who.token(&dev);
    let name = format!("{major:?}");
    ok(
        &format!("cosign {name} sign"),
        cosign(major, &dev, "sign", true, &token_args(&token), &image),
    );
    let verify = |sub: &str, identity: &[String], image: &str| {
        let mut args = identity.to_vec();
        if sub == "verify-attestation" {
            args.extend(["--type".to_owned(), "slsaprovenance".to_owned()]);
        }
        cosign(major, &dev, sub, false, &args, image)
    };
    let identity = identity_args(&dev, &who);
    ok(
        &format!("cosign {name} verify"),
        verify("verify", &identity, &image),
    );

    let mut attest = token_args(&token);
    attest.extend([
        "--type".to_owned(),
        "slsaprovenance".to_owned(),
        "--predicate".to_owned(),
        provenance(&dev).display().to_string(),
    ]);
    ok(
        &format!("cosign {name} attest"),
        cosign(major, &dev, "attest", true, &attest, &image),
    );
    ok(
        &format!("cosign {name} verify-attestation"),
        verify("verify-attestation", &identity, &image),
    );

    let unsigned = registry.push_random_image(&dev, "widget");
    let wrong_identity = vec![
        "--certificate-identity".to_owned(),
        "https://kubernetes.io/namespaces/other/serviceaccounts/other".to_owned(),
        "--certificate-oidc-issuer".to_owned(),
        who.issuer(&dev),
    ];
    let wrong_issuer = vec![
        "--certificate-identity".to_owned(),
        who.san(),
        "--certificate-oidc-issuer".to_owned(),
        dev.issuer("email"),
    ];
    for sub in ["verify", "verify-attestation"] {
        refused(
            &format!("cosign {name} {sub} of another image"),
            verify(sub, &identity, &unsigned),
        );
        refused(
            &format!("cosign {name} {sub} with a wrong identity"),
            verify(sub, &wrong_identity, &image),
        );
        refused(
            &format!("cosign {name} {sub} with a wrong issuer"),
            verify(sub, &wrong_issuer, &image),
        );
    }
}

#[test]
fn cosign2_signs_and_attests_an_image_as_a_kubernetes_service_account() {
    sign_and_attest_an_image(Cosign::V2, Who::K8s("release", "image-builder"));
}

#[test]
fn cosign2_signs_and_attests_an_image_as_a_github_workflow() {
    sign_and_attest_an_image(Cosign::V2, Who::GitHub);
}

#[test]
fn cosign3_signs_and_attests_an_image_as_a_kubernetes_service_account() {
    sign_and_attest_an_image(Cosign::V3, Who::K8s("release", "image-builder"));
}

#[test]
fn cosign3_signs_and_attests_an_image_as_a_github_workflow() {
    sign_and_attest_an_image(Cosign::V3, Who::GitHub);
}

/// An image signed on another Atesto instance verifies there and not here.
#[test]
fn cosign_refuses_an_image_signed_by_another_instance() {
    let dev = Dev::start();
    let other = Dev::start();
    let registry = Registry::start();
    let who = Who::K8s("release", "image-builder");
    for major in [Cosign::V2, Cosign::V3] {
        let image = registry.push_random_image(&dev, "foreign");
        ok(
            "cosign sign on the other instance",
            cosign(
                major,
                &other,
                "sign",
                true,
                &token_args(&who.token(&other)),
                &image,
            ),
        );
        let identity = identity_args(&other, &who);
        ok(
            "cosign verify on the other instance",
            cosign(major, &other, "verify", false, &identity, &image),
        );
        refused(
            &format!("cosign {major:?} verify of another instance's signature"),
            cosign(major, &dev, "verify", false, &identity, &image),
        );
    }
}

/// `helm` as scripts/install/helm.sh built it, with its own HOME.
fn helm(dev: &Dev, args: &[&str]) -> Command {
    let go = clients_dir().join("go");
    let binary = std::fs::read_dir(&go)
        .unwrap()
        .filter_map(|entry| Some(entry.ok()?.path()))
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("helm-v"))
        })
        .map(|dir| dir.join("helm"))
        .unwrap_or_else(|| panic!("no helm in {}: run scripts/install-clients", go.display()));
    let mut command = Command::new(binary);
    command
        .env("HOME", dev.path("helm-home"))
        .current_dir(dev.dir.path())
        .args(args);
    command
}

/// A Helm chart pushed to the registry as an OCI artifact (`helm push
/// oci://`), signed and verified by digest with cosign 2.x and 3.x.
#[test]
fn cosign_signs_and_verifies_a_helm_chart_in_the_registry() {
    let dev = Dev::start();
    let registry = Registry::start();
    let who = Who::GitHub;
    ok("helm create", helm(&dev, &["create", "widget"]));
    ok("helm package", helm(&dev, &["package", "widget"]));
    let out = run(helm(
        &dev,
        &[
            "push",
            "widget-0.1.0.tgz",
            &format!("oci://{}/charts", registry.addr),
            "--plain-http",
        ],
    ))
    .unwrap_or_else(|e| panic!("helm push failed:\n{e}"));
    let digest = out
        .split_whitespace()
        .find(|word| word.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {out}"));
    let chart = format!("{}/charts/widget@{digest}", registry.addr);
    let identity = identity_args(&dev, &who);
    for major in [Cosign::V2, Cosign::V3] {
        ok(
            &format!("cosign {major:?} sign of the chart"),
            cosign(
                major,
                &dev,
                "sign",
                true,
                &token_args(&who.token(&dev)),
                &chart,
            ),
        );
        ok(
            &format!("cosign {major:?} verify of the chart"),
            cosign(major, &dev, "verify", false, &identity, &chart),
        );
    }
    let wrong_identity = identity_args(&dev, &Who::K8s("release", "someone"));
    refused(
        "cosign verify of the chart with a wrong identity",
        cosign(Cosign::V3, &dev, "verify", false, &wrong_identity, &chart),
    );
}
