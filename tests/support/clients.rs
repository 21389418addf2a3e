//! Commands of the sigstore-python CLI and the sigstore-js driver
//! (tests/clients/js/client.js) that sign, attest and verify against
//! `atesto dev`, shared by the real-client tests.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::dev::*;

// --- sigstore-python CLI

/// Which of `atesto dev`'s logs sigstore-python writes to: the signing
/// config lists both, and without `--rekor-version` it takes the highest.
#[derive(Clone, Copy)]
pub enum Rekor {
    V1,
    V2,
    /// No flag: the client's choice.
    Highest,
}

impl Rekor {
    fn flag(self) -> &'static [&'static str] {
        match self {
            Rekor::V1 => &["--rekor-version", "1"],
            Rekor::V2 => &["--rekor-version", "2"],
            Rekor::Highest => &[],
        }
    }
}

/// `sigstore sign` to the Rekor v1 log, which every verifier in the tests reads.
pub fn py_sign(dev: &Dev, token: &Path, artifact: &Path, bundle: &Path) -> Command {
    py_sign_to(Rekor::V1, dev, token, artifact, bundle)
}

pub fn py_sign_to(
    rekor: Rekor,
    dev: &Dev,
    token: &Path,
    artifact: &Path,
    bundle: &Path,
) -> Command {
    let token = std::fs::read_to_string(token).unwrap();
    let mut command = python(dev, &[os("sign")]);
    command
        .args(rekor.flag())
        .args([os("--identity-token"), os(&token), os("--bundle")])
        .arg(bundle)
        .arg(artifact);
    command
}

/// `sigstore attest` to the Rekor v1 log.
pub fn py_attest(dev: &Dev, token: &Path, artifact: &Path, bundle: &Path) -> Command {
    py_attest_to(Rekor::V1, dev, token, artifact, bundle)
}

pub fn py_attest_to(
    rekor: Rekor,
    dev: &Dev,
    token: &Path,
    artifact: &Path,
    bundle: &Path,
) -> Command {
    let token = std::fs::read_to_string(token).unwrap();
    let predicate = write(
        dev,
        &format!("predicate-{}.json", rand_suffix()),
        json!({
            "buildDefinition": {
                "buildType": "https://atesto.dev/test-build/v1",
                "externalParameters": {"target": "widget"}
            },
            "runDetails": {"builder": {"id": "https://atesto.dev/test-builder"}}
        })
        .to_string()
        .as_bytes(),
    );
    let mut command = python(dev, &[os("attest")]);
    command.args(rekor.flag()).args([
        os("--predicate"),
        predicate.as_os_str(),
        os("--predicate-type"),
        os("https://slsa.dev/provenance/v1"),
        os("--identity-token"),
        os(&token),
        os("--bundle"),
        bundle.as_os_str(),
        artifact.as_os_str(),
    ]);
    command
}

/// `sigstore verify identity`: DSSE bundles are checked against the
/// artifact's digest as an in-toto subject, message signatures directly.
pub fn py_verify(dev: &Dev, bundle: &Path, artifact: &Path, san: &str, issuer: &str) -> Command {
    python(
        dev,
        &[
            os("verify"),
            os("identity"),
            os("--bundle"),
            bundle.as_os_str(),
            os("--cert-identity"),
            os(san),
            os("--cert-oidc-issuer"),
            os(issuer),
            artifact.as_os_str(),
        ],
    )
}

// --- sigstore-js

pub fn js_sign(dev: &Dev, token: &Path, artifact: &Path, bundle: &Path) -> Command {
    js(&[
        os("sign"),
        os("--fulcio"),
        os(&dev.fulcio_url()),
        os("--rekor"),
        os(&dev.rekor_url()),
        os("--token-file"),
        token.as_os_str(),
        os("--artifact"),
        artifact.as_os_str(),
        os("--bundle"),
        bundle.as_os_str(),
    ])
}

/// Attests an in-toto statement whose one subject is `artifact`.
pub fn js_attest(dev: &Dev, token: &Path, artifact: &Path, bundle: &Path) -> Command {
    let digest = hex::encode(Sha256::digest(std::fs::read(artifact).unwrap()));
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": artifact.file_name().unwrap().to_str().unwrap(),
                     "digest": {"sha256": digest}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {"buildType": "https://atesto.dev/test-build/v1",
                                "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://atesto.dev/test-builder"}}
        }
    });
    let statement = write(
        dev,
        &format!("statement-{}.json", rand_suffix()),
        statement.to_string().as_bytes(),
    );
    js(&[
        os("attest"),
        os("--fulcio"),
        os(&dev.fulcio_url()),
        os("--rekor"),
        os(&dev.rekor_url()),
        os("--token-file"),
        token.as_os_str(),
        os("--statement"),
        statement.as_os_str(),
        os("--bundle"),
        bundle.as_os_str(),
    ])
}

/// Verifies with the trusted root alone; `oids` are `OID=value` pairs
/// checked as DER UTF8String extension values.
pub fn js_verify(
    dev: &Dev,
    bundle: &Path,
    artifact: &Path,
    san: &str,
    issuer: &str,
    oids: &[String],
) -> Command {
    let mut args: Vec<std::ffi::OsString> = vec![
        "verify".into(),
        "--trusted-root".into(),
        dev.trusted_root().into(),
        "--bundle".into(),
        bundle.into(),
        "--artifact".into(),
        artifact.into(),
        "--san".into(),
        san.into(),
        "--issuer".into(),
        issuer.into(),
    ];
    for oid in oids {
        args.push("--oid".into());
        args.push(oid.into());
    }
    let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    js(&refs)
}

/// The same sigstore-js command run with sigstore-js 5.x (target/clients/js5)
/// instead of 4.1: the driver is the same, NODE_PATH picks the packages.
pub fn with_js5(mut command: Command) -> Command {
    command.env("NODE_PATH", installed("js5/node_modules"));
    command
}
