//! Helm chart provenance in `atesto tlog` (Rekor's `helm` kind), as the
//! helm-sigstore plugin uses it. The plugin itself cannot be installed here
//! (the Go module proxy answers `403 Forbidden: This module version is not
//! available` for github.com/sigstore/helm-sigstore), so the test sends what
//! its `upload` sends and checks what its `verify` checks, read from its
//! v0.3.0 source: the chart is packaged and PGP-signed by the real helm
//! (pinned, scripts/install/helm.sh) with a key made here by gpg; the
//! provenance and the armored key go to the log; verification is `helm
//! verify` plus the log lookup by chart digest, the stored digest and the
//! stored key's fingerprint (read back by gpg). Refusals: a tampered chart, a
//! forged provenance, another signer's key.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::dev::{installed, ok, refused, run};
use support::*;

/// A throwaway GnuPG home with one unprotected RSA signing key, exported as
/// the legacy keyring file helm reads and as armor (what helm-sigstore uploads).
struct GpgKey {
    keyring: PathBuf,
    public_armored: String,
    fingerprint: String,
}

fn gpg(home: &Path) -> Command {
    let mut command = Command::new("gpg");
    command.env("GNUPGHOME", home).args([
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
    ]);
    command
}

fn output(mut command: Command) -> Vec<u8> {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The primary key fingerprint gpg reads from an OpenPGP key file.
fn fingerprint(home: &Path, key_file: &Path) -> String {
    let mut show = gpg(home);
    show.args(["--with-colons", "--show-keys"]).arg(key_file);
    let listing = String::from_utf8(output(show)).unwrap();
    listing
        .lines()
        .find_map(|line| line.strip_prefix("fpr:"))
        .and_then(|rest| rest.trim_matches(':').rsplit(':').next())
        .unwrap_or_else(|| panic!("no fingerprint in {listing}"))
        .to_owned()
}

impl GpgKey {
    fn new(dir: &Path, name: &str, email: &str) -> GpgKey {
        let home = dir.join(format!("gnupg-{email}"));
        std::fs::create_dir_all(&home).unwrap();
        // gpg refuses a home others can read.
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut generate = gpg(&home);
        generate.args([
            "--quick-gen-key",
            &format!("{name} <{email}>"),
            "rsa2048",
            "sign",
            "never",
        ]);
        output(generate);
        let mut export = gpg(&home);
        export.arg("--export-secret-keys");
        let keyring = dir.join(format!("{email}.secring.gpg"));
        std::fs::write(&keyring, output(export)).unwrap();
        let mut export = gpg(&home);
        export.args(["--armor", "--export"]);
        let public_armored = String::from_utf8(output(export)).unwrap();
        let public_file = dir.join(format!("{email}.asc"));
        std::fs::write(&public_file, &public_armored).unwrap();
        let fingerprint = fingerprint(&home, &public_file);
        // The agent is not needed any more.
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &home)
            .args(["--kill", "gpg-agent"])
            .output();
        GpgKey {
            keyring,
            public_armored,
            fingerprint,
        }
    }
}

/// `helm <args>` with its state in `dir`.
fn helm(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(installed("go/helm-v3.22.0/helm"));
    command
        .env("HELM_CACHE_HOME", dir.join("helm-cache"))
        .env("HELM_CONFIG_HOME", dir.join("helm-config"))
        .env("HELM_DATA_HOME", dir.join("helm-data"))
        .args(args);
    command
}

/// A minimal chart `demo` 0.1.0 with `description`, packaged and signed by
/// `key` into `dir/out`; returns the .tgz path (the .prov is beside it).
fn signed_chart(dir: &Path, key: &GpgKey, email: &str, out: &str, description: &str) -> PathBuf {
    let chart = dir.join(format!("{out}-src/demo"));
    std::fs::create_dir_all(&chart).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        format!("apiVersion: v2\nname: demo\nversion: 0.1.0\ndescription: {description}\n"),
    )
    .unwrap();
    let out_dir = dir.join(out);
    ok(
        "helm package --sign",
        helm(
            dir,
            &[
                "package",
                "--sign",
                "--key",
                email,
                "--keyring",
                key.keyring.to_str().unwrap(),
                chart.to_str().unwrap(),
                "-d",
                out_dir.to_str().unwrap(),
            ],
        ),
    );
    out_dir.join("demo-0.1.0.tgz")
}

fn provenance_of(chart: &Path) -> String {
    std::fs::read_to_string(chart.with_extension("tgz.prov")).unwrap()
}

/// The ProposedEntry helm-sigstore's `upload` sends: the signer's armored
/// public key and the provenance file.
fn helm_entry(public_key: &str, provenance: &str) -> Value {
    json!({
        "kind": "helm",
        "apiVersion": "0.0.1",
        "spec": {
            "publicKey": {"content": STANDARD.encode(public_key)},
            "chart": {"provenance": {"content": STANDARD.encode(provenance)}},
        },
    })
}

/// What helm-sigstore's `verify` checks: the provenance signature and chart
/// digest (`helm verify`), a log entry found by the chart digest (the
/// newest), its chart digest, and the stored key's fingerprint against the
/// signer's. Err says which check failed.
fn verify(
    dir: &Path,
    log: &Tlog,
    chart: &Path,
    keyring: &Path,
    signer: &GpgKey,
) -> Result<(), String> {
    run(helm(
        dir,
        &[
            "verify",
            chart.to_str().unwrap(),
            "--keyring",
            keyring.to_str().unwrap(),
        ],
    ))
    .map_err(|out| format!("helm verify: {out}"))?;
    let digest = hex::encode(Sha256::digest(std::fs::read(chart).unwrap()));
    let found = log
        .post(
            "/api/v1/index/retrieve",
            &json!({"hash": format!("sha256:{digest}")}),
        )
        .json();
    let Some(uuid) = found.as_array().and_then(|ids| ids.last()) else {
        return Err(format!("no record found for sha256:{digest}"));
    };
    let body = entry_body(log, uuid.as_str().unwrap());
    if body["kind"] != "helm" || body["spec"]["chart"]["hash"]["value"] != digest.as_str() {
        return Err(format!("the entry is not this chart's: {body}"));
    }
    let stored_key = STANDARD
        .decode(body["spec"]["publicKey"]["content"].as_str().unwrap())
        .unwrap();
    let key_file = dir.join(format!("stored-key-{}.asc", &digest[..8]));
    std::fs::write(&key_file, stored_key).unwrap();
    let home = dir.join("gnupg-reader");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let stored = fingerprint(&home, &key_file);
    if stored != signer.fingerprint {
        return Err(format!(
            "stored key {stored} is not the signer's {}",
            signer.fingerprint
        ));
    }
    Ok(())
}

/// The decoded body of the entry `uuid`.
fn entry_body(log: &Tlog, uuid: &str) -> Value {
    let entry = log.get(&format!("/api/v1/log/entries/{uuid}")).json();
    let (_, entry) = entry.as_object().unwrap().iter().next().unwrap();
    serde_json::from_slice(&STANDARD.decode(entry["body"].as_str().unwrap()).unwrap()).unwrap()
}

#[test]
fn a_signed_charts_provenance_is_logged_and_verifies() {
    let (dir, log, _key) = fresh_log("", &[]);
    let dir = dir.path();
    let signer = GpgKey::new(dir, "Chart Signer", "charts@example.com");
    let chart = signed_chart(dir, &signer, "charts@example.com", "good", "the real chart");
    let provenance = provenance_of(&chart);

    let upload = helm_entry(&signer.public_armored, &provenance);
    let reply = log.post("/api/v1/log/entries", &upload);
    assert_eq!(reply.status, 201, "{}", reply.text);
    verify(dir, &log, &chart, &signer.keyring, &signer).unwrap();

    // Filed under the chart digest, the key's email and the key.
    let digest = hex::encode(Sha256::digest(std::fs::read(&chart).unwrap()));
    let found = log
        .post(
            "/api/v1/index/retrieve",
            &json!({"email": "charts@example.com"}),
        )
        .json();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let body = entry_body(&log, found[0].as_str().unwrap());
    assert_eq!(body["apiVersion"], "0.0.1");
    assert_eq!(
        body["spec"]["chart"]["hash"],
        json!({"algorithm": "sha256", "value": digest})
    );
    // Stored as Rekor stores it: the signature re-armored, not the provenance.
    let signature = STANDARD
        .decode(
            body["spec"]["chart"]["provenance"]["signature"]["content"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert!(signature.starts_with(b"-----BEGIN PGP SIGNATURE-----\n\n"));
    assert!(signature.ends_with(b"\n-----END PGP SIGNATURE-----"));
    assert!(body["spec"]["chart"]["provenance"].get("content").is_none());

    // The same provenance again is a conflict, not a second entry.
    assert_eq!(log.post("/api/v1/log/entries", &upload).status, 409);
    assert_eq!(log.log_info()["treeSize"], 1);
}

#[test]
fn tampered_charts_forged_provenance_and_other_keys_are_refused() {
    let (dir, log, _key) = fresh_log("", &[]);
    let dir = dir.path();
    let signer = GpgKey::new(dir, "Chart Signer", "charts@example.com");
    let other = GpgKey::new(dir, "Someone Else", "else@example.com");
    let chart = signed_chart(dir, &signer, "charts@example.com", "good", "the real chart");
    let provenance = provenance_of(&chart);
    let reply = log.post(
        "/api/v1/log/entries",
        &helm_entry(&signer.public_armored, &provenance),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    verify(dir, &log, &chart, &signer.keyring, &signer).unwrap();

    // Another signer's keyring does not verify the chart.
    let err = verify(dir, &log, &chart, &other.keyring, &signer).unwrap_err();
    assert!(err.starts_with("helm verify"), "{err}");

    // A swapped chart beside the genuine provenance: helm refuses it and no
    // log entry has its digest.
    let swapped_source = signed_chart(dir, &other, "else@example.com", "other", "a swapped chart");
    let tampered_dir = dir.join("tampered");
    std::fs::create_dir_all(&tampered_dir).unwrap();
    let tampered = tampered_dir.join("demo-0.1.0.tgz");
    std::fs::copy(&swapped_source, &tampered).unwrap();
    std::fs::write(tampered.with_extension("tgz.prov"), &provenance).unwrap();
    refused(
        "helm verify of a swapped chart",
        helm(
            dir,
            &[
                "verify",
                tampered.to_str().unwrap(),
                "--keyring",
                signer.keyring.to_str().unwrap(),
            ],
        ),
    );
    let tampered_digest = hex::encode(Sha256::digest(std::fs::read(&tampered).unwrap()));
    let found = log
        .post(
            "/api/v1/index/retrieve",
            &json!({"hash": format!("sha256:{tampered_digest}")}),
        )
        .json();
    assert_eq!(found, json!([]));

    // The provenance edited to claim the swapped chart's digest: its
    // signature no longer verifies, and the log says so.
    let good_digest = hex::encode(Sha256::digest(std::fs::read(&chart).unwrap()));
    let forged = provenance.replace(&good_digest, &tampered_digest);
    assert_ne!(forged, provenance);
    let message = log
        .post(
            "/api/v1/log/entries",
            &helm_entry(&signer.public_armored, &forged),
        )
        .expect_error(400);
    assert!(message.contains("does not verify"), "{message}");
    // The genuine provenance sent with another signer's key.
    let message = log
        .post(
            "/api/v1/log/entries",
            &helm_entry(&other.public_armored, &provenance),
        )
        .expect_error(400);
    assert!(message.contains("does not verify"), "{message}");
    // Not a key, not a provenance: 400s naming the field.
    let message = log
        .post("/api/v1/log/entries", &helm_entry("not a key", &provenance))
        .expect_error(400);
    assert!(message.contains("spec.publicKey.content"), "{message}");
    let message = log
        .post(
            "/api/v1/log/entries",
            &helm_entry(&signer.public_armored, "not signed"),
        )
        .expect_error(400);
    assert!(
        message.contains("spec.chart.provenance.content"),
        "{message}"
    );
    // Only the genuine upload is in the log.
    assert_eq!(log.log_info()["treeSize"], 1);
}
