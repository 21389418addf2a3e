//! Unmodified rekor-cli against Atesto's transparency log (the one `atesto
//! dev` runs): upload, get, search, verify and loginfo with its own state
//! file, as an operator would use it against Rekor.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::cosign::*;
use support::dev::*;

/// `rekor-cli <args> --rekor_server URL`, with its own HOME (its state file
/// is `~/.rekor/state.json`).
fn rekor_cli(dev: &Dev, args: &[&OsStr]) -> Command {
    rekor_cli_at(dev, &dev.path("rekor-home"), args)
}

fn rekor_cli_at(dev: &Dev, home: &Path, args: &[&OsStr]) -> Command {
    std::fs::create_dir_all(home).unwrap();
    let mut command = Command::new(go_client("rekor-cli"));
    command
        .env("HOME", home)
        .args(args)
        .arg("--rekor_server")
        .arg(dev.rekor_url());
    command
}

/// Runs rekor-cli and returns its stdout; panics with everything on failure.
#[track_caller]
fn stdout(what: &str, command: Command) -> String {
    output(what, command).0
}

/// Runs rekor-cli: its stdout and everything `run` reports (stderr too).
#[track_caller]
fn output(what: &str, command: Command) -> (String, String) {
    match run(command) {
        Ok(out) => (
            out.split_once("\nstdout: ")
                .and_then(|(_, rest)| rest.split_once("\nstderr: "))
                .map(|(stdout, _)| stdout.to_owned())
                .unwrap_or_default(),
            out,
        ),
        Err(out) => panic!("{what} failed:\n{out}"),
    }
}

/// A hashedrekord's inputs as rekor-cli takes them: the artifact, a raw
/// signature file and the signer's public key or certificate (PEM).
struct Signed {
    artifact: PathBuf,
    signature: PathBuf,
    public_key: PathBuf,
}

fn sign_with_key(dev: &Dev, signer: &support::Signer, name: &str) -> Signed {
    let artifact = artifact(dev, name);
    let signature = artifact.with_extension("sig");
    std::fs::write(&signature, signer.sign(&std::fs::read(&artifact).unwrap())).unwrap();
    let public_key = artifact.with_extension("pub");
    std::fs::write(&public_key, signer.public_key_pem()).unwrap();
    Signed {
        artifact,
        signature,
        public_key,
    }
}

/// `rekor-cli upload|verify --type KIND` of an artifact, its signature and
/// key (`hashedrekord` hashes the artifact, `rekord` sends it whole).
fn with_signed(dev: &Dev, command: &str, kind: &str, signed: &Signed) -> Command {
    rekor_cli(
        dev,
        &[
            os(command),
            os("--type"),
            os(kind),
            os("--pki-format"),
            os("x509"),
            os("--artifact"),
            signed.artifact.as_os_str(),
            os("--signature"),
            signed.signature.as_os_str(),
            os("--public-key"),
            signed.public_key.as_os_str(),
        ],
    )
}

fn upload(dev: &Dev, signed: &Signed) -> Command {
    with_signed(dev, "upload", "hashedrekord", signed)
}

/// The entry UUID and log index of rekor-cli upload's "Created entry at
/// index N, available at: URL/api/v1/log/entries/UUID".
fn created(out: &str) -> (String, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with("Created entry at index "))
        .unwrap_or_else(|| panic!("no created entry in {out}"));
    let index = line["Created entry at index ".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let uuid = line.rsplit('/').next().unwrap().trim().to_owned();
    (uuid, index)
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn rekor_cli_uploads_gets_searches_and_verifies() {
    let dev = Dev::start();
    let signer = support::Signer::new();
    let first = sign_with_key(&dev, &signer, "first.bin");
    let (uuid, index) = created(&stdout("rekor-cli upload", upload(&dev, &first)));

    // A signature over other bytes is refused, and nothing is logged.
    let forged = Signed {
        artifact: tampered(&first.artifact),
        signature: first.signature.clone(),
        public_key: first.public_key.clone(),
    };
    refused(
        "rekor-cli upload of a forged signature",
        upload(&dev, &forged),
    );

    let by_uuid: Value = serde_json::from_str(&stdout(
        "rekor-cli get --uuid",
        rekor_cli(
            &dev,
            &[
                os("get"),
                os("--uuid"),
                os(&uuid),
                os("--format"),
                os("json"),
            ],
        ),
    ))
    .unwrap();
    assert_eq!(by_uuid["LogIndex"], index, "{by_uuid}");
    let body = &by_uuid["Body"]["HashedRekordObj"];
    assert_eq!(body["data"]["hash"]["value"], sha256_hex(&first.artifact));
    let by_index: Value = serde_json::from_str(&stdout(
        "rekor-cli get --log-index",
        rekor_cli(
            &dev,
            &[
                os("get"),
                os("--log-index"),
                os(&index.to_string()),
                os("--format"),
                os("json"),
            ],
        ),
    ))
    .unwrap();
    assert_eq!(by_index["UUID"], by_uuid["UUID"]);

    let search_sha = stdout(
        "rekor-cli search --sha",
        rekor_cli(
            &dev,
            &[
                os("search"),
                os("--sha"),
                os(&format!("sha256:{}", sha256_hex(&first.artifact))),
            ],
        ),
    );
    assert!(search_sha.contains(&uuid), "{search_sha}");
    let search_key = stdout(
        "rekor-cli search --public-key",
        rekor_cli(
            &dev,
            &[
                os("search"),
                os("--pki-format"),
                os("x509"),
                os("--public-key"),
                first.public_key.as_os_str(),
            ],
        ),
    );
    assert!(search_key.contains(&uuid), "{search_key}");
    let other_key = sign_with_key(&dev, &support::Signer::new(), "unrelated.bin");
    let search_other = run(rekor_cli(
        &dev,
        &[
            os("search"),
            os("--pki-format"),
            os("x509"),
            os("--public-key"),
            other_key.public_key.as_os_str(),
        ],
    ))
    .unwrap_or_else(|e| e);
    assert!(!search_other.contains(&uuid), "{search_other}");

    let verify = |signed: &Signed| with_signed(&dev, "verify", "hashedrekord", signed);
    ok("rekor-cli verify", verify(&first));

    // Rekor's other kinds rekor-cli uploads: rekord (the artifact itself,
    // its default type) and intoto (a DSSE envelope and its key).
    let rekord = |signed: &Signed| with_signed(&dev, "upload", "rekord", signed);
    let (rekord_uuid, _) = created(&stdout("rekor-cli upload --type rekord", rekord(&first)));
    refused(
        "rekor-cli upload --type rekord of a forged signature",
        rekord(&forged),
    );
    let rekord_entry = stdout(
        "rekor-cli get (rekord)",
        rekor_cli(
            &dev,
            &[
                os("get"),
                os("--uuid"),
                os(&rekord_uuid),
                os("--format"),
                os("json"),
            ],
        ),
    );
    assert!(rekord_entry.contains("RekordObj"), "{rekord_entry}");
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "first.bin", "digest": {"sha256": sha256_hex(&first.artifact)}}],
        "predicate": {"builder": {"id": "https://atesto.dev/test-builder"}},
    });
    let envelope = dev.path("first.intoto.json");
    std::fs::write(
        &envelope,
        signer.dsse_envelope(
            "application/vnd.in-toto+json",
            statement.to_string().as_bytes(),
        ),
    )
    .unwrap();
    let intoto = |key: &Path| {
        rekor_cli(
            &dev,
            &[
                os("upload"),
                os("--type"),
                os("intoto"),
                os("--pki-format"),
                os("x509"),
                os("--artifact"),
                envelope.as_os_str(),
                os("--public-key"),
                key.as_os_str(),
            ],
        )
    };
    let (intoto_uuid, _) = created(&stdout(
        "rekor-cli upload --type intoto",
        intoto(&first.public_key),
    ));
    refused(
        "rekor-cli upload --type intoto with a key that did not sign",
        intoto(&other_key.public_key),
    );
    ok(
        "rekor-cli verify --uuid (intoto)",
        rekor_cli(&dev, &[os("verify"), os("--uuid"), os(&intoto_uuid)]),
    );
    // The subject's digest finds the attestation, as in Rekor.
    let by_subject = stdout(
        "rekor-cli search --sha (in-toto subject)",
        rekor_cli(
            &dev,
            &[
                os("search"),
                os("--sha"),
                os(&format!("sha256:{}", sha256_hex(&first.artifact))),
            ],
        ),
    );
    for expected in [&uuid, &rekord_uuid, &intoto_uuid] {
        assert!(
            by_subject.contains(expected.as_str()),
            "{expected} not in {by_subject}"
        );
    }
    ok(
        "rekor-cli verify --uuid",
        rekor_cli(&dev, &[os("verify"), os("--uuid"), os(&uuid)]),
    );
    refused("rekor-cli verify of a tampered artifact", verify(&forged));
}

/// `loginfo` keeps the last verified tree head in its state file and proves
/// the next one consistent with it; `search --email` finds a certificate's
/// entry by its email SAN.
#[test]
fn rekor_cli_loginfo_checks_consistency_across_growth_and_finds_emails() {
    let dev = Dev::start();
    let signer = support::Signer::new();
    stdout(
        "rekor-cli upload",
        upload(&dev, &sign_with_key(&dev, &signer, "one.bin")),
    );
    let loginfo = || rekor_cli(&dev, &[os("loginfo"), os("--format"), os("json")]);
    let before: Value = serde_json::from_str(&stdout("rekor-cli loginfo", loginfo())).unwrap();
    assert!(dev.path("rekor-home/.rekor/state.json").exists());

    // A certificate-signed entry: cosign 2.x makes the signature and the
    // certificate without uploading them, rekor-cli uploads them.
    let who = Who::Email("release-manager@example.com");
    let artifact = artifact(&dev, "two.bin");
    let (sig, cert) = (dev.path("two.sig"), dev.path("two.crt"));
    let (fulcio, rekor) = (dev.fulcio_url(), dev.rekor_url());
    let token = who.token(&dev);
    ok(
        "cosign2 sign-blob --tlog-upload=false",
        Cosign::V2.command(
            &dev,
            &[
                os("sign-blob"),
                os("--yes"),
                os("--tlog-upload=false"),
                os("--fulcio-url"),
                os(&fulcio),
                os("--rekor-url"),
                os(&rekor),
                os("--identity-token"),
                token.as_os_str(),
                os("--output-signature"),
                sig.as_os_str(),
                os("--output-certificate"),
                cert.as_os_str(),
                artifact.as_os_str(),
            ],
        ),
    );
    let raw_signature = artifact.with_extension("rawsig");
    let sig_b64 = std::fs::read_to_string(&sig).unwrap();
    std::fs::write(&raw_signature, STANDARD.decode(sig_b64.trim()).unwrap()).unwrap();
    let cert_text = std::fs::read(&cert).unwrap();
    let cert_pem = if cert_text.starts_with(b"-----") {
        cert_text
    } else {
        STANDARD
            .decode(String::from_utf8(cert_text).unwrap().trim())
            .unwrap()
    };
    let cert_pem_path = dev.path("two.pem");
    std::fs::write(&cert_pem_path, cert_pem).unwrap();
    let (uuid, _) = created(&stdout(
        "rekor-cli upload with a certificate",
        upload(
            &dev,
            &Signed {
                artifact,
                signature: raw_signature,
                public_key: cert_pem_path,
            },
        ),
    ));

    let (after, all) = output("rekor-cli loginfo after growth", loginfo());
    assert!(!all.contains("No previous log state"), "{all}");
    let after: Value = serde_json::from_str(&after).unwrap();
    assert!(
        after["ActiveTreeSize"].as_u64() > before["ActiveTreeSize"].as_u64(),
        "{before} then {after}"
    );

    let search_email = |email: &str| rekor_cli(&dev, &[os("search"), os("--email"), os(email)]);
    let found = stdout("rekor-cli search --email", search_email(&who.san()));
    assert!(found.contains(&uuid), "{found}");
    let none = run(search_email("nobody@example.com")).unwrap_or_else(|e| e);
    assert!(!none.contains(&uuid), "{none}");

    // A saved tree head that the log does not extend (its root hash
    // changed, as after a fork) fails loginfo's consistency proof; the
    // genuine one still passes.
    let forked_home = dev.path("rekor-home-forked");
    let state = std::fs::read_to_string(dev.path("rekor-home/.rekor/state.json")).unwrap();
    let saved: serde_json::Map<String, Value> = serde_json::from_str(&state).unwrap();
    let forked: serde_json::Map<String, Value> = saved
        .into_iter()
        .map(|(key, note)| {
            let mut lines: Vec<String> =
                note.as_str().unwrap().lines().map(str::to_owned).collect();
            lines[2] = STANDARD.encode(Sha256::digest(lines[2].as_bytes()));
            (key, Value::String(lines.join("\n") + "\n"))
        })
        .collect();
    std::fs::create_dir_all(forked_home.join(".rekor")).unwrap();
    std::fs::write(
        forked_home.join(".rekor/state.json"),
        Value::Object(forked).to_string(),
    )
    .unwrap();
    stdout(
        "rekor-cli upload (growth)",
        upload(&dev, &sign_with_key(&dev, &signer, "three.bin")),
    );
    let refusal = refused(
        "rekor-cli loginfo from a tree head the log does not extend",
        rekor_cli_at(&dev, &forked_home, &[os("loginfo")]),
    );
    assert!(
        refusal.contains("does not match expected root"),
        "{refusal}"
    );
    ok("rekor-cli loginfo from its genuine state", loginfo());
}
