//! sigstore-python's CLI signing against `atesto dev`: the commands the
//! real-client and explorer tests run.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::dev::{Dev, os, python, rand_suffix, write};

/// `sigstore sign` of `artifact` with the token in the file `token`.
pub fn py_sign(dev: &Dev, token: &Path, artifact: &Path, bundle: &Path) -> Command {
    let token = std::fs::read_to_string(token).unwrap();
    python(
        dev,
        &[
            os("sign"),
            os("--identity-token"),
            os(&token),
            os("--bundle"),
            bundle.as_os_str(),
            artifact.as_os_str(),
        ],
    )
}

/// `sigstore attest`: SLSA provenance v1 about `artifact`.
pub fn py_attest(dev: &Dev, token: &Path, artifact: &Path, bundle: &Path) -> Command {
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
    python(
        dev,
        &[
            os("attest"),
            os("--predicate"),
            predicate.as_os_str(),
            os("--predicate-type"),
            os("https://slsa.dev/provenance/v1"),
            os("--identity-token"),
            os(&token),
            os("--bundle"),
            bundle.as_os_str(),
            artifact.as_os_str(),
        ],
    )
}
