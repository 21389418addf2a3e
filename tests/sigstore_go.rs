//! Bundles crossing clients: sigstore-go's verifier (tests/clients/go, a
//! certificate identity + issuer policy on `trusted_root.json`) verifies the
//! bundles cosign 3.x, sigstore-python, sigstore-js 4.1 and 5.x make against
//! `atesto dev`; cosign 3.x verifies the Python and JS bundles; and the
//! Python and JS clients verify cosign's.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::clients::*;
use support::cosign::*;
use support::dev::*;

/// `sigstore-go-verify --trusted-root DIR/trusted_root.json ...`.
fn go_verify(dev: &Dev, bundle: &Path, artifact: &Path, san: &str, issuer: &str) -> Command {
    let mut command = Command::new(go_client("sigstore-go-verify"));
    command
        .arg("--trusted-root")
        .arg(dev.trusted_root())
        .arg("--bundle")
        .arg(bundle)
        .arg("--artifact")
        .arg(artifact)
        .args(["--san", san, "--issuer", issuer]);
    command
}

fn cosign3_verify(dev: &Dev, bundle: &Path, artifact: &Path, san: &str, issuer: &str) -> Command {
    let args = [
        "verify-blob".to_owned(),
        "--trusted-root".into(),
        dev.trusted_root().display().to_string(),
        "--bundle".into(),
        bundle.display().to_string(),
        "--certificate-identity".into(),
        san.to_owned(),
        "--certificate-oidc-issuer".into(),
        issuer.to_owned(),
        artifact.display().to_string(),
    ];
    Cosign::V3.command(dev, &os_args(&args))
}

/// One bundle per client over `artifact`: sigstore-python, sigstore-js 4.1,
/// sigstore-js 5.x, cosign 3.x.
fn sign_with_every_client(dev: &Dev, who: &Who, artifact: &Path) -> Vec<(&'static str, PathBuf)> {
    let token = who.token(dev);
    let bundle = |client: &str| dev.path(&format!("{client}-{}.sigstore.json", rand_suffix()));
    // cosign signs last: a bundle of the log's entry 0 has no logIndex in
    // cosign's protobuf JSON (zero is omitted), which sigstore-python refuses.
    // cosign 3.x and sigstore-python (by default) take the Rekor v2 log of
    // the signing config, so python writes its entry 0.
    let made = [
        ("python", bundle("python")),
        ("js4", bundle("js4")),
        ("js5", bundle("js5")),
        ("cosign3", bundle("cosign3")),
    ];
    for (client, path) in &made {
        let command = match *client {
            "cosign3" => cosign3_sign(dev, &token, artifact, path),
            "python" => py_sign_to(Rekor::Highest, dev, &token, artifact, path),
            "js4" => js_sign(dev, &token, artifact, path),
            _ => with_js5(js_sign(dev, &token, artifact, path)),
        };
        ok(&format!("{client} sign"), command);
    }
    made.into()
}

#[test]
fn sigstore_go_and_cosign3_verify_every_clients_bundles_and_back() {
    let dev = Dev::start();
    let who = Who::GitHub;
    let (san, issuer) = (who.san(), who.issuer(&dev));
    let artifact = artifact(&dev, "release.tar.gz");
    let bundles = sign_with_every_client(&dev, &who, &artifact);
    let tampered = tampered(&artifact);
    let wrong_issuer = dev.issuer("kubernetes");

    for (client, bundle) in &bundles {
        ok(
            &format!("sigstore-go verifies the {client} bundle"),
            go_verify(&dev, bundle, &artifact, &san, &issuer),
        );
        refused(
            &format!("sigstore-go: {client} bundle, tampered artifact"),
            go_verify(&dev, bundle, &tampered, &san, &issuer),
        );
        refused(
            &format!("sigstore-go: {client} bundle, wrong identity"),
            go_verify(
                &dev,
                bundle,
                &artifact,
                "https://github.com/evil/x",
                &issuer,
            ),
        );
        refused(
            &format!("sigstore-go: {client} bundle, wrong issuer"),
            go_verify(&dev, bundle, &artifact, &san, &wrong_issuer),
        );
        if *client != "cosign3" {
            ok(
                &format!("cosign3 verifies the {client} bundle"),
                cosign3_verify(&dev, bundle, &artifact, &san, &issuer),
            );
            refused(
                &format!("cosign3: {client} bundle, tampered artifact"),
                cosign3_verify(&dev, bundle, &tampered, &san, &issuer),
            );
        }
    }

    // The reverse: the Python and JS verifiers on cosign 3.x's bundle.
    let cosign_bundle = &bundles[3].1;
    ok(
        "sigstore-python verifies the cosign3 bundle",
        py_verify(&dev, cosign_bundle, &artifact, &san, &issuer),
    );
    ok(
        "sigstore-js 4.1 verifies the cosign3 bundle",
        js_verify(&dev, cosign_bundle, &artifact, &san, &issuer, &[]),
    );
    ok(
        "sigstore-js 5.x verifies the cosign3 bundle",
        with_js5(js_verify(
            &dev,
            cosign_bundle,
            &artifact,
            &san,
            &issuer,
            &[],
        )),
    );
    refused(
        "sigstore-python: cosign3 bundle, tampered artifact",
        py_verify(&dev, cosign_bundle, &tampered, &san, &issuer),
    );
    refused(
        "sigstore-js 5.x: cosign3 bundle, tampered artifact",
        with_js5(js_verify(
            &dev,
            cosign_bundle,
            &tampered,
            &san,
            &issuer,
            &[],
        )),
    );
}

/// A bundle made on another Atesto instance verifies there, not here.
#[test]
fn sigstore_go_refuses_bundles_of_another_instance() {
    let dev = Dev::start();
    let other = Dev::start();
    let who = Who::Email("release@example.com");
    let artifact = artifact(&dev, "foreign.txt");
    let bundle = dev.path("foreign.sigstore.json");
    ok(
        "cosign3 sign on the other instance",
        cosign3_sign(&other, &who.token(&other), &artifact, &bundle),
    );
    let (san, other_issuer) = (who.san(), who.issuer(&other));
    ok(
        "sigstore-go on the bundle's own instance",
        go_verify(&other, &bundle, &artifact, &san, &other_issuer),
    );
    refused(
        "sigstore-go on another instance's bundle",
        go_verify(&dev, &bundle, &artifact, &san, &other_issuer),
    );
}
