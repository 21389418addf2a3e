//! `atesto monitor` as an operator runs it: a child process against a live
//! `atesto tlog`, and against a log served from this test (axum) that signs
//! whatever history the test tells it to, under a key the test controls, so
//! that forks, rollbacks and bad signatures can be staged.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::*;

/// Exit status of `--once` on an alert.
const ALERT_EXIT: i32 = 2;

// ---- Running the monitor ----

fn monitor_command(log_url: &str, key: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(atesto_bin());
    command
        .args(["monitor", "--log", log_url, "--public-key"])
        .arg(key)
        .arg("--state")
        .arg(state)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

fn monitor_once(log_url: &str, key: &Path, state: &Path) -> Output {
    monitor_command(log_url, key, state, &["--once"])
        .output()
        .expect("run atesto monitor")
}

/// The JSON lines a run printed on stdout.
fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts one run verified a tree of `size` after `previous` and returns its line.
fn expect_verified(output: &Output, size: u64, previous: Option<u64>) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", text(output));
    let lines = json_lines(output);
    assert_eq!(lines.len(), 1, "{}", text(output));
    let line = lines[0].clone();
    assert_eq!(line["kind"], "verified", "{line}");
    assert_eq!(line["size"], size, "{line}");
    assert_eq!(line["previous_size"], json!(previous), "{line}");
    line
}

/// (index, identity, entry kind) of each identity-watch match line.
fn matches_of(lines: &[Value]) -> Vec<(u64, &str, &str)> {
    lines
        .iter()
        .filter(|l| l["kind"] == "match")
        .map(|l| {
            (
                l["index"].as_u64().unwrap(),
                l["identity"].as_str().unwrap(),
                l["entry_kind"].as_str().unwrap(),
            )
        })
        .collect()
}

/// Asserts one run raised an alert of `kind`, said so on stderr, and returns the alert.
fn expect_alert(output: &Output, kind: &str) -> Value {
    assert_eq!(output.status.code(), Some(ALERT_EXIT), "{}", text(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ALERT") && stderr.contains(&kind.replace('-', " ")),
        "{}",
        text(output)
    );
    let lines = json_lines(output);
    assert_eq!(lines.len(), 1, "{}", text(output));
    assert_eq!(lines[0]["kind"], kind, "{}", lines[0]);
    lines[0].clone()
}

fn read_state(path: &Path) -> Value {
    let bytes = std::fs::read(path).expect("read state file");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "state file does not parse ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

// ---- A log this test controls ----

/// RFC 6962 SUBPROOF(m, D[n], b), deepest node first: the proofs the fake log serves.
fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete {
            Vec::new()
        } else {
            vec![merkle_root(leaves)]
        };
    }
    let k = split_point(n);
    let (mut proof, sibling) = if m <= k {
        (
            subproof(m, &leaves[..k], complete),
            merkle_root(&leaves[k..]),
        )
    } else {
        (
            subproof(m - k, &leaves[k..], false),
            merkle_root(&leaves[..k]),
        )
    };
    proof.push(sibling);
    proof
}

fn leaves(tag: &str, n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("{tag}{i}").as_bytes()))
        .collect()
}

struct FakeState {
    leaves: Vec<Hash>,
    /// Leaves served: the tree is `leaves[..size]`.
    size: usize,
    key: EcdsaKeyPair,
    /// Flip a bit of the signature, keeping the key hint.
    corrupt_signature: bool,
}

/// A Rekor v1 log served by this test: `/api/v1/log` and `/api/v1/log/proof`
/// over whatever leaves it is given, with checkpoints signed by `key`.
struct FakeLog {
    url: String,
    state: Arc<Mutex<FakeState>>,
    key_file: tempfile::NamedTempFile,
    _runtime: tokio::runtime::Runtime,
}

fn spki_der(key: &EcdsaKeyPair) -> Vec<u8> {
    key.public_key()
        .as_der()
        .expect("public key DER")
        .as_ref()
        .to_vec()
}

fn checkpoint(state: &FakeState) -> String {
    let root = merkle_root(&state.leaves[..state.size]);
    let text = format!("fake.log - 1\n{}\n{}\n", state.size, STANDARD.encode(root));
    let mut signature = state
        .key
        .sign(&SystemRandom::new(), text.as_bytes())
        .expect("sign")
        .as_ref()
        .to_vec();
    if state.corrupt_signature {
        let last = signature.len() - 1;
        signature[last] ^= 1;
    }
    let mut line = Sha256::digest(spki_der(&state.key))[..4].to_vec();
    line.extend(signature);
    format!("{text}\n\u{2014} fake.log {}\n", STANDARD.encode(line))
}

impl FakeLog {
    fn start(leaves: Vec<Hash>) -> FakeLog {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .expect("key");
        Self::start_with_key(leaves, pkcs8.as_ref())
    }

    /// A fake log signing with the PKCS#8 `key` (two logs can share one key).
    fn start_with_key(leaves: Vec<Hash>, pkcs8: &[u8]) -> FakeLog {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8).expect("key");
        let key_file = tempfile::NamedTempFile::new().expect("key file");
        let pem =
            pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &spki_der(&key))
                .expect("pem");
        std::fs::write(key_file.path(), pem).expect("write key");
        let state = Arc::new(Mutex::new(FakeState {
            size: leaves.len(),
            leaves,
            key,
            corrupt_signature: false,
        }));
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let router = axum::Router::new()
            .route("/api/v1/log", axum::routing::get(log_info))
            .route("/api/v1/log/proof", axum::routing::get(log_proof))
            .with_state(state.clone());
        runtime.spawn(async move { axum::serve(listener, router).await });
        FakeLog {
            url,
            state,
            key_file,
            _runtime: runtime,
        }
    }

    fn key(&self) -> &Path {
        self.key_file.path()
    }

    fn set(&self, change: impl FnOnce(&mut FakeState)) {
        change(&mut self.state.lock().expect("fake log state"));
    }

    /// The checkpoint it serves now.
    fn note(&self) -> String {
        checkpoint(&self.state.lock().expect("fake log state"))
    }
}

async fn log_info(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<FakeState>>>,
) -> axum::Json<Value> {
    let state = state.lock().expect("fake log state");
    axum::Json(json!({
        "rootHash": hex::encode(merkle_root(&state.leaves[..state.size])),
        "signedTreeHead": checkpoint(&state),
        "treeID": "1",
        "treeSize": state.size,
        "inactiveShards": [],
    }))
}

async fn log_proof(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<FakeState>>>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, usize>>,
) -> Result<axum::Json<Value>, axum::http::StatusCode> {
    let state = state.lock().expect("fake log state");
    let (Some(&first), Some(&last)) = (query.get("firstSize"), query.get("lastSize")) else {
        return Err(axum::http::StatusCode::BAD_REQUEST);
    };
    // As Rekor: 400 beyond the tree it holds.
    if first == 0 || first > last || last > state.leaves.len() {
        return Err(axum::http::StatusCode::BAD_REQUEST);
    }
    let tree = &state.leaves[..last];
    let hashes: Vec<String> = subproof(first, tree, true)
        .iter()
        .map(hex::encode)
        .collect();
    Ok(axum::Json(
        json!({"rootHash": hex::encode(merkle_root(tree)), "hashes": hashes}),
    ))
}

// ---- Tests ----

#[test]
fn the_fake_logs_proofs_verify_independently() {
    // The staged forks below are only evidence if honest proofs pass.
    let d = leaves("a", 13);
    for n in 1..=d.len() {
        for m in 1..=n {
            let proof = subproof(m, &d[..n], true);
            assert!(verify_consistency(
                m as u64,
                n as u64,
                &proof,
                &merkle_root(&d[..m]),
                &merkle_root(&d[..n])
            ));
        }
    }
}

#[test]
fn consistent_growth_of_a_live_log_passes_repeatedly() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("monitor/state.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    let signer = Signer::new();
    let url = tlog.url("");

    let mut previous = None;
    for round in 0..4u64 {
        // Round 2 adds nothing: an unchanged log must pass too.
        if round != 2 {
            for i in 0..=round {
                tlog.submit(
                    &signer.hashedrekord(format!("r{round}e{i}").as_bytes()),
                    &key,
                );
            }
        }
        let size = tlog.log_info()["treeSize"].as_u64().unwrap();
        let line = expect_verified(&monitor_once(&url, &key_path, &state), size, previous);
        let saved = read_state(&state);
        assert_eq!(saved["verified"]["size"], size);
        assert_eq!(saved["verified"]["root"], line["root"]);
        // What the state holds is the log's own signed checkpoint.
        let note = Checkpoint::parse(saved["verified"]["signed"].as_str().unwrap());
        note.verify(&key);
        assert_eq!(note.size, size);
        previous = Some(size);
    }

    // The same log through a trusted root naming it: same verdict.
    let trusted_root = dir.path().join("trusted_root.json");
    let root_json = json!({"tlogs": [{
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": STANDARD.encode(&key.der), "keyDetails": "PKIX_ECDSA_P256_SHA_256"},
        "logId": {"keyId": STANDARD.encode(Sha256::digest(&key.der))},
    }]});
    std::fs::write(&trusted_root, root_json.to_string()).unwrap();
    tlog.submit(&signer.hashedrekord(b"via trust root"), &key);
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let output = Command::new(atesto_bin())
        .args(["monitor", "--log", &url, "--trust-root"])
        .arg(&trusted_root)
        .arg("--state")
        .arg(&state)
        .args(["--once", "--kind", "rekor"])
        .output()
        .unwrap();
    expect_verified(&output, size, previous);
}

#[test]
fn history_rewritten_under_the_same_key_is_a_fork() {
    let honest = leaves("a", 6);
    let log = FakeLog::start(honest.clone());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    log.set(|s| s.size = 4);
    expect_verified(&monitor_once(&log.url, log.key(), &state), 4, None);
    log.set(|s| s.size = 6);
    expect_verified(&monitor_once(&log.url, log.key(), &state), 6, Some(4));
    let verified = read_state(&state);

    // A larger tree whose first 6 leaves differ: the log serves an honest
    // proof of its own new history, which cannot start from the old root.
    let mut rewritten = honest.clone();
    rewritten[3] = leaf_hash(b"rewritten");
    rewritten.extend(leaves("b", 4));
    log.set(|s| {
        s.leaves = rewritten.clone();
        s.size = 10;
    });
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "fork");
    assert_eq!(alert["verified_size"], 6);
    assert_eq!(alert["size"], 10);
    assert_eq!(alert["verified_root"], hex::encode(merkle_root(&honest)));
    // The alert leaves the last verified checkpoint in place, so the fork is
    // raised again on the next run instead of being accepted as the new normal.
    assert_eq!(read_state(&state), verified);
    expect_alert(&monitor_once(&log.url, log.key(), &state), "fork");

    // The same size with another root needs no proof to be a fork.
    log.set(|s| s.size = 6);
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "fork");
    assert!(
        alert["reason"].as_str().unwrap().contains("same size"),
        "{alert}"
    );
    assert_eq!(read_state(&state), verified);

    // Back to the honest history: it extends what was verified.
    log.set(|s| {
        s.leaves = honest.iter().copied().chain(leaves("c", 3)).collect();
        s.size = 9;
    });
    expect_verified(&monitor_once(&log.url, log.key(), &state), 9, Some(6));
}

#[test]
fn a_shrinking_log_is_a_rollback() {
    let log = FakeLog::start(leaves("a", 7));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    expect_verified(&monitor_once(&log.url, log.key(), &state), 7, None);
    log.set(|s| s.size = 3);
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "rollback");
    assert_eq!(
        (alert["verified_size"].as_u64(), alert["size"].as_u64()),
        (Some(7), Some(3))
    );
    assert_eq!(read_state(&state)["verified"]["size"], 7);
}

#[test]
fn bad_signatures_are_alerts_and_never_saved() {
    let log = FakeLog::start(leaves("a", 5));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");

    // The right key hint, a signature that does not verify.
    log.set(|s| s.corrupt_signature = true);
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "bad-signature");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{alert}"
    );
    assert!(!state.exists(), "an unverified checkpoint was saved");

    // A valid signature by a key the monitor does not trust.
    log.set(|s| {
        s.corrupt_signature = false;
        s.key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    });
    let alert = expect_alert(&monitor_once(&log.url, log.key(), &state), "bad-signature");
    assert!(
        alert["message"].as_str().unwrap().contains("trusted key"),
        "{alert}"
    );
    assert!(!state.exists(), "an unverified checkpoint was saved");
}

#[test]
fn an_unreachable_log_is_an_error_not_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let log = FakeLog::start(leaves("a", 1));
    std::fs::copy(log.key(), &key).unwrap();
    let output = monitor_command(
        &format!("http://{}", free_addr()),
        &key,
        &dir.path().join("state.json"),
        &["--once", "--kind", "rekor"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(json_lines(&output).is_empty(), "{}", text(&output));
}

/// Polls `probe` until it returns Some, for up to 30 s.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

struct Daemon {
    child: Child,
    stdout: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(log_url: &str, key: &Path, state: &Path, out_dir: &Path, extra: &[&str]) -> Daemon {
    let stdout = out_dir.join(format!("stdout-{}", rand::random::<u32>()));
    let child = monitor_command(log_url, key, state, extra)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn atesto monitor");
    Daemon { child, stdout }
}

#[test]
fn the_daemon_logs_alerts_as_json_lines_and_counts_them() {
    let log = FakeLog::start(leaves("a", 5));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let metrics_addr = free_addr();
    let daemon = start_daemon(
        &log.url,
        log.key(),
        &state,
        dir.path(),
        &["--interval", "1", "--metrics-addr", &metrics_addr],
    );
    let client = client();
    let scrape = || {
        client
            .get(format!("http://{metrics_addr}/metrics"))
            .send()
            .ok()?
            .text()
            .ok()
    };
    wait_for("a verified check", || {
        let body = scrape()?;
        (metric(&body, "atesto_monitor_verified_tree_size") == Some(5.0)).then_some(())
    });
    let body = scrape().unwrap();
    assert_eq!(
        metric(&body, "atesto_monitor_alerts_total{kind=\"fork\"}"),
        Some(0.0)
    );

    log.set(|s| s.leaves[0] = leaf_hash(b"forged"));
    wait_for("a counted fork", || {
        let body = scrape()?;
        (metric(&body, "atesto_monitor_alerts_total{kind=\"fork\"}")? >= 1.0).then_some(())
    });
    // The daemon keeps running after an alert.
    let mut child = daemon;
    assert!(
        child.child.try_wait().unwrap().is_none(),
        "the daemon exited on an alert"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&child.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let fork = lines
        .iter()
        .find(|l| l["kind"] == "fork")
        .unwrap_or_else(|| panic!("no fork line in {lines:?}"));
    assert_eq!(fork["log"], log.url.as_str());
    assert_eq!(fork["verified_size"], 5);
    assert!(fork["time"].is_string(), "{fork}");
    assert_eq!(read_state(&state)["verified"]["size"], 5);
    let _ = child.child.kill();
}

#[test]
fn the_state_file_survives_the_monitor_being_killed_mid_run() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("state.json");
    let url = tlog.url("");
    let signer = Signer::new();
    tlog.submit(&signer.hashedrekord(b"first"), &key);

    let mut last_size = 0;
    for round in 0..6u64 {
        // The log grows while the monitor runs, so every run has a new
        // checkpoint to prove and save when it is killed.
        for i in 0..3 {
            tlog.submit(
                &signer.hashedrekord(format!("{round}/{i}").as_bytes()),
                &key,
            );
        }
        let mut daemon = start_daemon(&url, &key_path, &state, dir.path(), &["--interval", "1"]);
        // Kill at a different point of the check each round (SIGKILL: no cleanup).
        std::thread::sleep(Duration::from_millis(40 + 60 * round));
        daemon.child.kill().unwrap();
        daemon.child.wait().unwrap();
        if !state.exists() {
            continue; // killed before the first save
        }
        let saved = read_state(&state);
        let note = Checkpoint::parse(saved["verified"]["signed"].as_str().unwrap());
        note.verify(&key);
        assert_eq!(saved["verified"]["size"], note.size);
        assert!(note.size >= last_size, "the saved state went backwards");
        last_size = note.size;
    }
    // One more run, killed only once it has saved the log's current size, so
    // the test never depends on how fast the runs above were.
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let mut daemon = start_daemon(&url, &key_path, &state, dir.path(), &["--interval", "1"]);
    wait_for("the state to reach the log's size", || {
        let saved: Value = serde_json::from_slice(&std::fs::read(&state).ok()?).ok()?;
        (saved["verified"]["size"] == size).then_some(())
    });
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    let saved = read_state(&state);
    Checkpoint::parse(saved["verified"]["signed"].as_str().unwrap()).verify(&key);
    assert!(size >= last_size);
    last_size = size;
    // Whatever was left is a valid starting point for the next run.
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let output = monitor_once(&url, &key_path, &state);
    expect_verified(&output, size, Some(last_size));
}

// ---- RFC 6962 CT ----

/// A live `atesto ct` accepting chains to a fresh root, and what adds to it.
struct CtLog {
    dir: tempfile::TempDir,
    server: Tlog,
    key_path: PathBuf,
    intermediate: Vec<u8>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl CtLog {
    fn start() -> CtLog {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_params = |name: &str, is_ca| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = is_ca;
            params
        };
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca_params("monitor root", IsCa::Ca(BasicConstraints::Unconstrained));
        let root = root_params.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(root_params, root_key);
        let key = KeyPair::generate().unwrap();
        let params = ca_params("monitor ca", IsCa::Ca(BasicConstraints::Constrained(0)));
        let intermediate = params.signed_by(&key, &root_issuer).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let roots = dir.path().join("roots.pem");
        std::fs::write(&roots, root.pem()).unwrap();
        let log_key = KeyPair::generate().unwrap();
        let log_key_path = dir.path().join("ct-key.pem");
        std::fs::write(&log_key_path, log_key.serialize_pem()).unwrap();
        let key_path = dir.path().join("ct-pub.pem");
        std::fs::write(&key_path, log_key.public_key_pem()).unwrap();
        let server = Tlog::start_service(
            "ct",
            &dir.path().join("data"),
            &free_addr(),
            &[
                "--roots",
                roots.to_str().unwrap(),
                "--key",
                log_key_path.to_str().unwrap(),
            ],
        );
        CtLog {
            dir,
            server,
            key_path,
            intermediate: intermediate.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Adds a code-signing certificate for `name` and waits until the
    /// published tree holds `expect` entries.
    fn add(&self, name: &str, expect: u64) {
        self.add_cert(name, expect, false);
    }

    fn add_cert(&self, name: &str, expect: u64, precert: bool) {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        if precert {
            let mut poison = rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3],
                vec![5, 0],
            );
            poison.set_criticality(true);
            params.custom_extensions.push(poison);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let body =
            json!({"chain": [STANDARD.encode(cert.der()), STANDARD.encode(&self.intermediate)]});
        let path = if precert {
            "/ct/v1/add-pre-chain"
        } else {
            "/ct/v1/add-chain"
        };
        let reply = self.server.post(path, &body);
        assert_eq!(reply.status, 200, "{}", reply.text);
        wait_for("the CT tree head to grow", || {
            let sth = self.server.get("/ct/v1/get-sth").json();
            (sth["tree_size"].as_u64()? >= expect).then_some(())
        });
    }
}

#[test]
fn a_live_ct_log_is_discovered_and_verified_as_it_grows() {
    let ct = CtLog::start();
    let state = ct.dir.path().join("state.json");
    let url = ct.server.url("");
    let mut previous = None;
    for size in 1..=4u64 {
        ct.add(&format!("signer{size}.test"), size);
        // No --kind: the monitor finds out it is a CT log.
        expect_verified(&monitor_once(&url, &ct.key_path, &state), size, previous);
        previous = Some(size);
    }
    let saved = read_state(&state);
    assert_eq!(saved["verified"]["origin"], url.trim_end_matches('/'));

    // The same log under a key the monitor does not trust.
    let other = ct.dir.path().join("other.pem");
    std::fs::write(&other, rcgen::KeyPair::generate().unwrap().public_key_pem()).unwrap();
    let output = monitor_command(&url, &other, &state, &["--once", "--kind", "ct"])
        .output()
        .unwrap();
    expect_alert(&output, "bad-signature");
    assert_eq!(read_state(&state), saved);

    // The identity watch over CT entries: final certificates and
    // precertificates, from get-entries.
    ct.add_cert("pre.release.test", 5, true);
    ct.add("other.test", 6);
    let watch = ct.dir.path().join("watch.yaml");
    std::fs::write(
        &watch,
        "identities:\n  - name: two\n    san: signer2.test\n  - name: release\n    san_regex: '.*\\.release\\.test'\n",
    )
    .unwrap();
    let output = monitor_command(&url, &ct.key_path, &state, &["--once"])
        .arg("--watch")
        .arg(&watch)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let lines = json_lines(&output);
    let found = matches_of(&lines);
    assert_eq!(
        found,
        vec![(1, "two", "x509"), (4, "release", "precert")],
        "{lines:?}"
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["source"], "get-entries", "{summary}");
    assert_eq!(summary["entries"], 6);
}

// ---- Identity watch ----

const ISSUER: &str = "https://accounts.example";
const GITHUB: &str = "https://token.actions.githubusercontent.com";
const RELEASE: &str = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main";

/// A Fulcio-like leaf certificate and its key, to sign entries with.
struct CertSigner {
    key: EcdsaKeyPair,
    cert_pem: String,
}

impl CertSigner {
    /// `san` is an email or a URI; the issuer goes in .1.1 (raw) and .1.8
    /// (DER UTF8String) as Fulcio writes them, `extra` (OID arc, value) as DER.
    fn new(san: &str, issuer: &str, extra: &[(u64, &str)]) -> CertSigner {
        use rcgen::{CertificateParams, CustomExtension, KeyPair, SanType};
        let der_utf8 = |v: &str| {
            let mut out = vec![0x0c, v.len() as u8];
            out.extend_from_slice(v.as_bytes());
            out
        };
        let fulcio = |arc: u64| [1, 3, 6, 1, 4, 1, 57264, 1, arc];
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![if san.contains('@') && !san.contains("://") {
            SanType::Rfc822Name(san.try_into().unwrap())
        } else {
            SanType::URI(san.try_into().unwrap())
        }];
        params.custom_extensions = vec![
            CustomExtension::from_oid_content(&fulcio(1), issuer.as_bytes().to_vec()),
            CustomExtension::from_oid_content(&fulcio(8), der_utf8(issuer)),
        ];
        for (arc, value) in extra {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &fulcio(*arc),
                    der_utf8(value),
                ));
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        CertSigner {
            key: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.serialize_der())
                .unwrap(),
            cert_pem: cert.pem(),
        }
    }

    fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.key.sign(&SystemRandom::new(), message).unwrap())
    }

    fn hashedrekord(&self, artifact: &[u8]) -> Value {
        hashedrekord(
            "sha256",
            &hex::encode(Sha256::digest(artifact)),
            &self.sign(artifact),
            &STANDARD.encode(&self.cert_pem),
        )
    }

    fn dsse(&self, payload: &[u8]) -> Value {
        let payload_type = "application/vnd.in-toto+json";
        let envelope = json!({
            "payload": STANDARD.encode(payload),
            "payloadType": payload_type,
            "signatures": [{"keyid": "", "sig": self.sign(&pae(payload_type, payload))}],
        });
        json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {
                "envelope": envelope.to_string(),
                "verifiers": [STANDARD.encode(&self.cert_pem)],
            }},
        })
    }
}

/// Submits `count` key-signed entries from several threads.
fn submit_plain(tlog: &Tlog, key: &LogKey, tag: &str, count: usize) {
    std::thread::scope(|scope| {
        for t in 0..4 {
            scope.spawn(move || {
                let signer = Signer::new();
                for i in (t..count).step_by(4) {
                    tlog.submit(&signer.hashedrekord(format!("{tag}{i}").as_bytes()), key);
                }
            });
        }
    });
}

/// Index in the tree (tiles and matches are per tree).
fn log_index(entry: &LogEntry) -> u64 {
    entry.index_in_shard
}

#[test]
fn the_identity_watch_reports_every_new_match_once() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("state.json");
    let url = tlog.url("");

    let alice = CertSigner::new("alice@example.com", ISSUER, &[(9, RELEASE)]);
    let ci = CertSigner::new(
        "https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main",
        GITHUB,
        &[],
    );
    let bob = CertSigner::new("bob@example.com", GITHUB, &[]);
    let keyed = Signer::new();
    let keyed_fingerprint = {
        let (_, der) = pem_rfc7468::decode_vec(keyed.public_key_pem().as_bytes()).unwrap();
        hex::encode(Sha256::digest(der))
    };
    let watch = dir.path().join("watch.yaml");
    std::fs::write(
        &watch,
        format!(
            "identities:
  - name: alice
    san: alice@example.com
  - name: release-workflow
    extensions:
      1.3.6.1.4.1.57264.1.9: {RELEASE}
  - name: github-ci
    san_regex: 'https://github\\.com/org/[^/]+/\\.github/workflows/ci\\.yml@.*'
    issuer: {GITHUB}
  - name: bob-at-the-wrong-issuer
    san: bob@example.com
    issuer: {ISSUER}
  - name: a-key
    fingerprint: {keyed_fingerprint}
"
        ),
    )
    .unwrap();

    // More than one tile of entries (256), the watched ones spread through it.
    submit_plain(&tlog, &key, "before", 150);
    let a = log_index(&tlog.submit(&alice.hashedrekord(b"alice 1"), &key));
    let c = log_index(&tlog.submit(&ci.dsse(b"{\"ci\":1}"), &key));
    tlog.submit(&bob.hashedrekord(b"bob"), &key);
    let k = log_index(&tlog.submit(&keyed.hashedrekord(b"keyed"), &key));
    submit_plain(&tlog, &key, "after", 120);
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    assert!(size > 256);

    let run = || {
        let output = monitor_command(&url, &key_path, &state, &["--once"])
            .arg("--watch")
            .arg(&watch)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        json_lines(&output)
    };
    let lines = run();
    assert_eq!(lines[0]["kind"], "verified");
    let found = matches_of(&lines);
    assert_eq!(
        found,
        vec![
            (a, "alice", "hashedrekord"),
            (a, "release-workflow", "hashedrekord"),
            (c, "github-ci", "dsse"),
            (k, "a-key", "hashedrekord"),
        ]
    );
    let alice_match = lines.iter().find(|l| l["identity"] == "alice").unwrap();
    assert_eq!(alice_match["issuer"], ISSUER);
    assert_eq!(alice_match["sans"], json!(["alice@example.com"]));
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "scan", "{summary}");
    assert_eq!(
        (summary["from"].as_u64(), summary["to"].as_u64()),
        (Some(0), Some(size))
    );
    assert_eq!(summary["entries"], size);
    assert_eq!(summary["matches"], 4);
    assert_eq!(summary["source"], "tiles");
    assert_eq!(read_state(&state)["scanned_size"], size);

    // The next run scans only what was added since.
    let a2 = log_index(&tlog.submit(&alice.hashedrekord(b"alice 2"), &key));
    let lines = run();
    let matches: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "match").collect();
    assert_eq!(matches.len(), 2, "{lines:?}");
    assert!(matches.iter().all(|m| m["index"] == a2));
    let summary = lines.last().unwrap();
    assert_eq!(
        (summary["from"].as_u64(), summary["entries"].as_u64()),
        (Some(size), Some(1))
    );
}

// ---- Split view ----

#[test]
fn a_witnessed_tree_head_from_another_history_is_a_split_view() {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .unwrap();
    let honest = leaves("a", 8);
    let log = FakeLog::start_with_key(honest.clone(), pkcs8.as_ref());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let witness = dir.path().join("witness.txt");
    let run = |witness: &str| {
        monitor_command(
            &log.url,
            log.key(),
            &state,
            &["--once", "--witness", witness],
        )
        .output()
        .unwrap()
    };

    // A witness that saw an earlier tree of the same history: consistent.
    log.set(|s| s.size = 5);
    std::fs::write(&witness, log.note()).unwrap();
    log.set(|s| s.size = 8);
    expect_verified(&run(witness.to_str().unwrap()), 8, None);

    // The other side of a split view, signed by the same key: the tree of 8
    // others were shown has another root.
    let mut other = honest.clone();
    other[6] = leaf_hash(b"shown to others");
    log.set(|s| s.leaves = other.clone());
    std::fs::write(&witness, log.note()).unwrap();
    log.set(|s| s.leaves = honest.clone());
    let alert = expect_alert(&run(witness.to_str().unwrap()), "split-view");
    assert_eq!(alert["witnessed_size"], 8);
    assert_eq!(alert["witnessed_root"], hex::encode(merkle_root(&other)));
    assert_eq!(alert["root"], hex::encode(merkle_root(&honest)));

    // A smaller witnessed tree from the other history: caught by the proof.
    log.set(|s| {
        s.leaves = other.clone();
        s.size = 7;
    });
    std::fs::write(&witness, log.note()).unwrap();
    log.set(|s| {
        s.leaves = honest.clone();
        s.size = 8;
    });
    let alert = expect_alert(&run(witness.to_str().unwrap()), "split-view");
    assert!(
        alert["reason"]
            .as_str()
            .unwrap()
            .contains("consistency proof"),
        "{alert}"
    );

    // Another monitor's view over HTTP: a mirror of the log under the same
    // key, serving the other history at a larger size than the log served
    // the monitor (the log has grown meanwhile, so it can prove 8 -> 10).
    log.set(|s| s.leaves.extend(leaves("c", 2)));
    let mut longer = other.clone();
    longer.extend(leaves("b", 2));
    let mirror = FakeLog::start_with_key(longer, pkcs8.as_ref());
    let alert = expect_alert(&run(&format!("{}/api/v1/log", mirror.url)), "split-view");
    assert_eq!(alert["witnessed_size"], 10);

    // A witness file not signed by the log is not evidence: an error, exit 1.
    let stranger = FakeLog::start(honest.clone());
    std::fs::write(&witness, stranger.note()).unwrap();
    let output = run(witness.to_str().unwrap());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not signed by the log"));
}

/// A Rekor v1 log without the tiles API: the live log behind a proxy that
/// answers 404 to `/tile/...`, as upstream Rekor v1 does.
struct NoTilesProxy {
    url: String,
    /// Retrieve requests naming an index at or beyond this fail with 503.
    fail_from: Arc<std::sync::atomic::AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl NoTilesProxy {
    fn start(upstream: String) -> NoTilesProxy {
        let fail_from = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let failing = fail_from.clone();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let client = reqwest::Client::new();
        let forward = move |request: axum::extract::Request| {
            let (client, upstream) = (client.clone(), upstream.clone());
            let fail_from = failing.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                let path = request.uri().path_and_query().map(|p| p.to_string());
                let path = path.unwrap_or_default();
                if path.starts_with("/tile/") {
                    return (axum::http::StatusCode::NOT_FOUND, Vec::new());
                }
                let method = request.method().clone();
                let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap_or_default();
                let asked: Value = serde_json::from_slice(&body).unwrap_or_default();
                let indexes = asked["logIndexes"].as_array().cloned().unwrap_or_default();
                if indexes.iter().any(|i| i.as_u64() >= Some(fail_from)) {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new());
                }
                let reply = client
                    .request(method, format!("{upstream}{path}"))
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("upstream");
                let status = axum::http::StatusCode::from_u16(reply.status().as_u16()).unwrap();
                (status, reply.bytes().await.unwrap_or_default().to_vec())
            }
        };
        let router = axum::Router::new().fallback(forward);
        runtime.spawn(async move { axum::serve(listener, router).await });
        NoTilesProxy {
            url,
            fail_from,
            _runtime: runtime,
        }
    }
}

#[test]
fn without_tiles_the_watch_reads_entries_through_retrieve() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let proxy = NoTilesProxy::start(tlog.url(""));
    let state = dir.path().join("state.json");
    let alice = CertSigner::new("alice@example.com", ISSUER, &[]);
    submit_plain(&tlog, &key, "x", 13);
    let a = log_index(&tlog.submit(&alice.hashedrekord(b"alice"), &key));
    submit_plain(&tlog, &key, "y", 12);
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let watch = dir.path().join("watch.json");
    std::fs::write(
        &watch,
        json!({"identities": [{"san": "alice@example.com", "issuer": ISSUER}]}).to_string(),
    )
    .unwrap();
    let output = monitor_command(&proxy.url, &key_path, &state, &["--once"])
        .arg("--watch")
        .arg(&watch)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let lines = json_lines(&output);
    let matches: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "match").collect();
    assert_eq!(matches.len(), 1, "{lines:?}");
    assert_eq!(matches[0]["index"], a);
    assert_eq!(matches[0]["identity"], "identity 0");
    let summary = lines.last().unwrap();
    assert_eq!(summary["source"], "retrieve", "{summary}");
    assert_eq!(summary["entries"], size);
}

// ---- C2SP tiles ----

#[test]
fn tiles_mode_computes_its_proofs_from_the_logs_tiles() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("state.json");
    let url = tlog.url("");
    let run = || monitor_command(&url, &key_path, &state, &["--once", "--kind", "tiles"]).output();

    // Growth within a tile, across full level-0 tiles, and to a second one.
    let mut previous = None;
    for (round, count) in [3, 300, 1, 260].into_iter().enumerate() {
        submit_plain(&tlog, &key, &format!("round{round}-"), count);
        let size = tlog.log_info()["treeSize"].as_u64().unwrap();
        expect_verified(&run().unwrap(), size, previous);
        previous = Some(size);
    }

    // A verified tree the log's tiles do not extend (here: its root altered
    // in the state file) is a fork: the proof from the tiles is checked
    // against the old root.
    submit_plain(&tlog, &key, "more", 5);
    let mut saved = read_state(&state);
    saved["verified"]["root"] = json!("00".repeat(32));
    std::fs::write(&state, saved.to_string()).unwrap();
    let alert = expect_alert(&run().unwrap(), "fork");
    assert!(
        alert["reason"]
            .as_str()
            .unwrap()
            .contains("consistency proof"),
        "{alert}"
    );
}

#[test]
fn the_daemon_watches_identities_and_counts_matches() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("state.json");
    let watch = dir.path().join("watch.yaml");
    std::fs::write(&watch, "identities:\n  - san: alice@example.com\n").unwrap();
    let alice = CertSigner::new("alice@example.com", ISSUER, &[]);
    submit_plain(&tlog, &key, "x", 5);
    let metrics_addr = free_addr();
    let daemon = start_daemon(
        &tlog.url(""),
        &key_path,
        &state,
        dir.path(),
        &[
            "--interval",
            "1",
            "--metrics-addr",
            &metrics_addr,
            "--watch",
            watch.to_str().unwrap(),
        ],
    );
    let client = client();
    let scrape = |name: &str| {
        let body = client
            .get(format!("http://{metrics_addr}/metrics"))
            .send()
            .ok()?
            .text()
            .ok()?;
        metric(&body, name)
    };
    wait_for("the first scan", || {
        (scrape("atesto_monitor_scanned_entries_total")? >= 5.0).then_some(())
    });
    assert_eq!(scrape("atesto_monitor_identity_matches_total"), Some(0.0));

    // An entry added while the daemon runs is found by a later check.
    let index = log_index(&tlog.submit(&alice.hashedrekord(b"while running"), &key));
    wait_for("the match to be counted", || {
        (scrape("atesto_monitor_identity_matches_total")? >= 1.0).then_some(())
    });
    let lines: Vec<Value> = std::fs::read_to_string(&daemon.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(
        matches_of(&lines),
        vec![(index, "identity 0", "hashedrekord")]
    );
    assert_eq!(scrape("atesto_monitor_identity_matches_total"), Some(1.0));
}

#[test]
fn an_interrupted_scan_resumes_where_it_stopped() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    // Through retrieve (10 entries a request), so a small log takes many steps.
    let proxy = NoTilesProxy::start(tlog.url(""));
    let state = dir.path().join("state.json");
    let watch = dir.path().join("watch.yaml");
    std::fs::write(&watch, "identities:\n  - san: alice@example.com\n").unwrap();
    submit_plain(&tlog, &key, "x", 400);
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let run = || {
        monitor_command(&proxy.url, &key_path, &state, &["--once"])
            .arg("--watch")
            .arg(&watch)
            .output()
            .unwrap()
    };

    // The log stops answering past entry 300: the scan fails part way.
    proxy
        .fail_from
        .store(300, std::sync::atomic::Ordering::SeqCst);
    let output = run();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let scanned = read_state(&state)["scanned_size"]
        .as_u64()
        .expect("progress saved");
    assert!(scanned > 0 && scanned <= 300, "scanned_size {scanned}");

    proxy
        .fail_from
        .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
    let lines = json_lines(&run());
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "scan", "{lines:?}");
    assert_eq!(summary["from"], scanned);
    assert_eq!(summary["entries"], size - scanned);
    assert_eq!(read_state(&state)["scanned_size"], size);
}
