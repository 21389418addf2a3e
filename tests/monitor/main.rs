//! `atesto monitor` as an operator runs it: a child process against a live
//! `atesto tlog`, and against a log served from this test (axum) that signs
//! whatever history the test tells it to, under a key the test controls, so
//! that forks, rollbacks and bad signatures can be staged.

#[path = "../support/mod.rs"]
mod support;

mod ct;
mod daemon;
mod history;
mod identity_watch;
mod rekor_v2;
mod split_view;
mod tiles;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atesto_test_support::pki::{TestCa, leaf_params};
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

/// One check with `--watch FILE` that must succeed (exit 0); its JSON lines.
fn watch_once(log_url: &str, key: &Path, state: &Path, watch: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--once"];
    args.extend(extra);
    let output = monitor_command(log_url, key, state, &args)
        .arg("--watch")
        .arg(watch)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    json_lines(&output)
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
