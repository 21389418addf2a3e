//! What the integration tests share: a real `atesto tlog` child process on a
//! loopback port, signed entries to send it, and independent verifiers of
//! what it answers (RFC 6962 proofs, checkpoints, SETs), written here from
//! the RFCs rather than taken from the server's code.

#![allow(dead_code)] // each test binary uses a different part

pub mod ca;
pub mod clients;
pub mod cosign;
pub mod ct;
pub mod dev;
pub mod raw_http;
pub mod tsa;

use std::ffi::OsStr;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, ED25519, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub fn atesto_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_atesto"))
}

/// Runs `atesto <args>` to completion.
pub fn atesto(args: &[&str]) -> std::process::Output {
    Command::new(atesto_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run atesto")
}

/// A free loopback port (bound once and released).
pub fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").to_string()
}

/// Writes a YAML config for `atesto tlog --config`.
pub fn write_config(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("tlog.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path
}

/// A running `atesto tlog` (or `atesto ct`), killed when dropped.
pub struct Tlog {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
    /// The child's stderr goes to a file, not a pipe nobody drains: a full
    /// pipe would block the server's logging and so the server.
    stderr: tempfile::NamedTempFile,
    client: reqwest::blocking::Client,
}

impl Tlog {
    /// Starts `atesto tlog --data DIR --addr <free port> [extra args]` and waits for /healthz.
    pub fn start(data: &Path, extra: &[&str]) -> Tlog {
        Self::start_at(data, &free_addr(), extra)
    }

    pub fn start_at(data: &Path, addr: &str, extra: &[&str]) -> Tlog {
        Self::start_service("tlog", data, addr, extra)
    }

    /// Starts `atesto <service> --data DIR --addr ADDR [extra]` (`tlog` or
    /// `ct`) and waits for /healthz.
    pub fn start_service(service: &str, data: &Path, addr: &str, extra: &[&str]) -> Tlog {
        Self::start_command(Self::command(service, data, addr, extra), addr, data)
    }

    /// Starts `atesto <args>` serving on `addr` and waits for /healthz.
    pub fn start_args(args: &[&OsStr], addr: &str) -> Tlog {
        Self::start_args_env(args, &[], addr)
    }

    /// As `start_args`, with extra environment variables (secrets such as a
    /// key password travel this way, never as flags).
    pub fn start_args_env(args: &[&OsStr], env: &[(&str, &str)], addr: &str) -> Tlog {
        let mut command = Self::base_command();
        command.args(args).envs(env.iter().copied());
        Self::start_command(command, addr, Path::new(""))
    }

    fn start_command(mut command: Command, addr: &str, data: &Path) -> Tlog {
        let stderr = tempfile::NamedTempFile::new().expect("stderr file");
        let child = command
            .stderr(stderr.reopen().expect("reopen stderr file"))
            .spawn()
            .expect("spawn atesto");
        let mut tlog = Tlog {
            child,
            addr: addr.to_owned(),
            data: data.to_owned(),
            stderr,
            client: client(),
        };
        tlog.wait_ready();
        tlog
    }

    /// Spawns with stderr piped, without waiting (for starts expected to fail).
    pub fn spawn(data: &Path, addr: &str, extra: &[&str]) -> Child {
        Self::command("tlog", data, addr, extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn atesto tlog")
    }

    fn command(service: &str, data: &Path, addr: &str, extra: &[&str]) -> Command {
        let mut command = Self::base_command();
        command
            .args([service, "--data"])
            .arg(data)
            .args(["--addr", addr])
            .args(extra);
        command
    }

    fn base_command() -> Command {
        let mut command = Command::new(atesto_bin());
        command
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        command
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// What the child has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("atesto exited with {status}: {}", self.stderr());
            }
            if let Ok(response) = self.client.get(self.url("/healthz")).send()
                && response.status().is_success()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("atesto did not become healthy at {}", self.addr);
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn get(&self, path: &str) -> Reply {
        Reply::from(self.client.get(self.url(path)).send().expect("GET"))
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, serde_json::to_vec(body).unwrap())
    }

    pub fn post_raw(&self, path: &str, body: Vec<u8>) -> Reply {
        let request = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body);
        Reply::from(request.send().expect("POST"))
    }

    /// POSTs JSON with `Authorization: Bearer <token>`.
    pub fn post_bearer(&self, path: &str, body: &Value, token: &str) -> Reply {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(body).unwrap());
        Reply::from(request.send().expect("POST"))
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> Reply {
        Reply::from(
            self.client
                .request(method, self.url(path))
                .send()
                .expect("request"),
        )
    }

    /// The log's public key, from GET /api/v1/log/publicKey.
    pub fn public_key(&self) -> LogKey {
        let reply = self.get("/api/v1/log/publicKey");
        assert_eq!(reply.status, 200, "{}", reply.text);
        LogKey::from_pem(&reply.text)
    }

    /// GET /api/v1/log as JSON.
    pub fn log_info(&self) -> Value {
        let reply = self.get("/api/v1/log");
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }

    /// Submits a ProposedEntry, expects 201 and checks the reply completely.
    pub fn submit(&self, proposed: &Value, key: &LogKey) -> LogEntry {
        let reply = self.post("/api/v1/log/entries", proposed);
        assert_eq!(reply.status, 201, "{}", reply.text);
        let entry = LogEntry::from_reply(&reply.text);
        assert_eq!(reply.header("ETag"), Some(entry.id.as_str()));
        assert_eq!(
            reply.header("Location"),
            Some(format!("/api/v1/log/entries/{}", entry.id).as_str())
        );
        entry.verify(key);
        entry
    }
}

impl Drop for Tlog {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A log on a new temporary data directory (`<tmp>/data`), started with the
/// YAML `config` (when not empty) and `extra` flags, and its public key.
/// Keep the directory alive as long as the log.
pub fn fresh_log(config: &str, extra: &[&str]) -> (tempfile::TempDir, Tlog, LogKey) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = write_config(dir.path(), config);
    let mut args: Vec<&str> = Vec::new();
    if !config.is_empty() {
        args.extend(["--config", config_path.to_str().unwrap()]);
    }
    args.extend(extra);
    let tlog = Tlog::start(&dir.path().join("data"), &args);
    let key = tlog.public_key();
    (dir, tlog, key)
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Waits for a child to exit, up to `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Reads a child's piped stderr to the end (after it has exited).
pub fn read_stderr(child: &mut Child) -> String {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    stderr
}

/// An HTTP answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
    pub text: String,
}

impl From<reqwest::blocking::Response> for Reply {
    fn from(response: reqwest::blocking::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().expect("read body").to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status,
            headers,
            bytes,
            text,
        }
    }
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// Asserts a Rekor-shaped error: this status, JSON `{"code": status, "message": "..."}`
    /// and nothing else. Returns the message.
    pub fn expect_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        assert!(
            self.header("Content-Type")
                .is_some_and(|t| t.starts_with("application/json")),
            "error without a JSON content type: {:?}",
            self.headers
        );
        let body = self.json();
        let object = body.as_object().expect("error body is an object");
        assert_eq!(object.len(), 2, "error body has other keys: {body}");
        assert_eq!(
            object["code"], status,
            "code differs from the status: {body}"
        );
        let message = object["message"].as_str().expect("message is a string");
        assert!(!message.is_empty(), "empty error message");
        message.to_owned()
    }
}

/// A signer of hashedrekord and DSSE entries.
pub struct Signer {
    key: EcdsaKeyPair,
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

impl Signer {
    pub fn new() -> Self {
        Self {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("generate key"),
        }
    }

    pub fn public_key_pem(&self) -> String {
        let der = self.key.public_key().as_der().expect("public key der");
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, der.as_ref())
            .expect("pem")
    }

    /// ASN.1 ECDSA signature over SHA-256(message).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key
            .sign(&SystemRandom::new(), message)
            .expect("sign")
            .as_ref()
            .to_vec()
    }

    /// A hashedrekord 0.0.1 ProposedEntry for `artifact`.
    pub fn hashedrekord(&self, artifact: &[u8]) -> Value {
        hashedrekord(
            "sha256",
            &hex::encode(Sha256::digest(artifact)),
            &STANDARD.encode(self.sign(artifact)),
            &STANDARD.encode(self.public_key_pem()),
        )
    }

    /// A DSSE envelope (as its JSON text) over `payload`, signed over the PAE.
    pub fn dsse_envelope(&self, payload_type: &str, payload: &[u8]) -> String {
        let signature = self.sign(&pae(payload_type, payload));
        serde_json::json!({
            "payload": STANDARD.encode(payload),
            "payloadType": payload_type,
            "signatures": [{"keyid": "", "sig": STANDARD.encode(signature)}],
        })
        .to_string()
    }

    /// A dsse 0.0.1 ProposedEntry for the envelope, verified by this key.
    pub fn dsse(&self, envelope: &str) -> Value {
        serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {
                "envelope": envelope,
                "verifiers": [STANDARD.encode(self.public_key_pem())],
            }},
        })
    }
}

/// A hashedrekord 0.0.1 ProposedEntry from its raw fields (so tests can break any of them).
pub fn hashedrekord(algorithm: &str, digest_hex: &str, sig_b64: &str, key_b64: &str) -> Value {
    serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": algorithm, "value": digest_hex}},
            "signature": {"content": sig_b64, "publicKey": {"content": key_b64}}
        }
    })
}

/// DSSE pre-authentication encoding: "DSSEv1 <len> <type> <len> <payload>".
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Writes a fresh Ed25519 PKCS#8 PEM to `path` (e.g. for `witness_key`).
pub fn write_ed25519_pkcs8(path: &Path) {
    let der = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .expect("generate ed25519 key");
    let pem = pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, der.as_ref())
        .expect("pem");
    std::fs::write(path, pem).expect("write ed25519 key");
}

// ---- RFC 6962 / RFC 9162 hashing and proof verification ----

pub type Hash = [u8; 32];

pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// MTH over leaf hashes (RFC 6962 2.1).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// The largest power of two below `n` (n >= 2), where RFC 6962 splits a tree.
pub fn split_point(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

pub fn hex32(text: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).unwrap_or_else(|e| panic!("{text:?} is not 64 hex: {e}"));
    out
}

/// RFC 9162 2.1.3.2: does `proof` show leaf `index` in the tree of `size` with `root`?
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// RFC 9162 2.1.4.2: does `proof` show the tree (`first`, `first_root`) is a
/// prefix of (`second`, `second_root`)?
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((head, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first_root && sr == *second_root && s == 0
}

// ---- Keys, checkpoints, log entries ----

/// An ECDSA P-256 log key as published (PEM of a DER SPKI).
#[derive(Clone)]
pub struct LogKey {
    pub pem: String,
    pub der: Vec<u8>,
}

impl LogKey {
    pub fn from_pem(pem: &str) -> Self {
        let (label, der) = pem_rfc7468::decode_vec(pem.as_bytes()).expect("public key PEM");
        assert_eq!(label, "PUBLIC KEY");
        // A P-256 SPKI is a fixed 26-byte prefix and a 65-byte uncompressed point.
        assert_eq!(der.len(), 91, "not a P-256 SPKI");
        assert_eq!(der[26], 0x04, "not an uncompressed point");
        LogKey {
            pem: pem.to_owned(),
            der,
        }
    }

    /// Rekor's logID: hex SHA-256 of the DER SPKI.
    pub fn log_id_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    pub fn key_hint(&self) -> [u8; 4] {
        Sha256::digest(&self.der)[..4].try_into().unwrap()
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.der[26..])
            .verify(message, signature)
            .is_ok()
    }
}

/// A C2SP signed note holding a checkpoint.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The signed text: origin, size and root lines, each ending in "\n".
    pub text: String,
    /// (signer name, key hint || signature) per signature line, in order.
    pub signatures: Vec<(String, Vec<u8>)>,
}

impl Checkpoint {
    pub fn parse(note: &str) -> Self {
        let (body, sigs) = note
            .split_once("\n\n")
            .unwrap_or_else(|| panic!("no blank line in note {note:?}"));
        let text = format!("{body}\n");
        let lines: Vec<&str> = body.split('\n').collect();
        assert_eq!(lines.len(), 3, "checkpoint body is not 3 lines: {note:?}");
        let root: Hash = STANDARD
            .decode(lines[2])
            .expect("root is base64")
            .try_into()
            .expect("root is 32 bytes");
        assert!(sigs.ends_with('\n'), "note does not end in a newline");
        let signatures = sigs
            .lines()
            .map(|line| {
                let rest = line
                    .strip_prefix("\u{2014} ")
                    .unwrap_or_else(|| panic!("bad signature line {line:?}"));
                let (name, sig) = rest.split_once(' ').expect("name and signature");
                (
                    name.to_owned(),
                    STANDARD.decode(sig).expect("signature is base64"),
                )
            })
            .collect();
        Checkpoint {
            origin: lines[0].to_owned(),
            size: lines[1].parse().expect("size is decimal"),
            root,
            text,
            signatures,
        }
    }

    /// Asserts the first signature line is the log key's, with its hint, and verifies.
    pub fn verify(&self, key: &LogKey) {
        let (_, sig) = self.signatures.first().expect("a signature line");
        assert_eq!(sig[..4], key.key_hint(), "key hint of the ECDSA line");
        assert!(
            key.verify(self.text.as_bytes(), &sig[4..]),
            "checkpoint signature does not verify: {:?}",
            self.text
        );
    }

    /// Verifies a C2SP Ed25519 signature line by `name` with the raw 32-byte key.
    pub fn verify_ed25519(&self, name: &str, raw_key: &[u8]) {
        let mut material = format!("{name}\n").into_bytes();
        material.push(0x01);
        material.extend_from_slice(raw_key);
        let hint = &Sha256::digest(&material)[..4];
        let (_, sig) = self
            .signatures
            .iter()
            .find(|(n, s)| n == name && &s[..4] == hint)
            .expect("an Ed25519 line with the C2SP key id");
        UnparsedPublicKey::new(&ED25519, raw_key)
            .verify(self.text.as_bytes(), &sig[4..])
            .expect("Ed25519 checkpoint signature verifies");
    }
}

/// One Rekor v1 LogEntry, parsed.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub id: String,
    pub body: Vec<u8>,
    pub integrated_time: i64,
    pub log_id: String,
    pub log_index: u64,
    pub index_in_shard: u64,
    pub tree_size: u64,
    pub root: Hash,
    pub hashes: Vec<Hash>,
    pub checkpoint_note: String,
    pub checkpoint: Checkpoint,
    pub set: Vec<u8>,
}

impl LogEntry {
    /// Parses a single-entry reply, checking the wire shape sigstore-rs slices:
    /// one compact object with one 80-hex key, one trailing newline.
    pub fn from_reply(text: &str) -> Self {
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "reply must end in exactly one newline: {text:?}"
        );
        let compact = &text[..text.len() - 1];
        let value: Value = serde_json::from_str(compact).expect("LogEntry JSON");
        // Re-serializing compactly reproduces the text only if it was compact
        // with its keys in order (they are alphabetical in Rekor's model).
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            compact,
            "not compact"
        );
        Self::from_value(&value)
    }

    /// Parses `{"<id>": {...}}`.
    pub fn from_value(value: &Value) -> Self {
        let object = value.as_object().expect("LogEntry is an object");
        assert_eq!(object.len(), 1, "LogEntry must have exactly one key");
        let (id, entry) = object.iter().next().unwrap();
        assert!(is_hex(id, 80), "entry id is not 80 hex: {id}");
        let keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "body",
                "integratedTime",
                "logID",
                "logIndex",
                "verification"
            ]
        );
        let proof = &entry["verification"]["inclusionProof"];
        let proof_keys: Vec<&str> = proof
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            proof_keys,
            ["checkpoint", "hashes", "logIndex", "rootHash", "treeSize"]
        );
        let checkpoint_note = proof["checkpoint"].as_str().expect("checkpoint").to_owned();
        LogEntry {
            id: id.clone(),
            body: STANDARD
                .decode(entry["body"].as_str().expect("body"))
                .expect("body b64"),
            integrated_time: entry["integratedTime"].as_i64().expect("integratedTime"),
            log_id: entry["logID"].as_str().expect("logID").to_owned(),
            log_index: entry["logIndex"].as_u64().expect("logIndex"),
            index_in_shard: proof["logIndex"].as_u64().expect("proof logIndex"),
            tree_size: proof["treeSize"].as_u64().expect("treeSize"),
            root: hex32(proof["rootHash"].as_str().expect("rootHash")),
            hashes: proof["hashes"]
                .as_array()
                .expect("hashes")
                .iter()
                .map(|h| hex32(h.as_str().expect("hash")))
                .collect(),
            checkpoint: Checkpoint::parse(&checkpoint_note),
            checkpoint_note,
            set: STANDARD
                .decode(
                    entry["verification"]["signedEntryTimestamp"]
                        .as_str()
                        .expect("SET"),
                )
                .expect("SET b64"),
        }
    }

    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.body)
    }

    pub fn tree_id(&self) -> u64 {
        u64::from_str_radix(&self.id[..16], 16).unwrap()
    }

    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("body is JSON")
    }

    /// Checks everything a client checks, independently of the server's code.
    pub fn verify(&self, key: &LogKey) {
        assert_eq!(
            self.id[16..],
            hex::encode(self.leaf_hash()),
            "id is not the leaf hash"
        );
        assert_eq!(self.log_id, key.log_id_hex(), "logID");
        let canonical = serde_json_canonicalizer::to_vec(&self.body_json()).unwrap();
        assert_eq!(canonical, self.body, "body is not RFC 8785 canonical JSON");
        assert!(
            verify_inclusion(
                self.index_in_shard,
                self.tree_size,
                &self.leaf_hash(),
                &self.hashes,
                &self.root
            ),
            "inclusion proof of {} does not verify",
            self.id
        );
        // The checkpoint travels with one signature line for sigstore-rs.
        assert_eq!(
            self.checkpoint.signatures.len(),
            1,
            "{}",
            self.checkpoint_note
        );
        assert_eq!(self.checkpoint.size, self.tree_size);
        assert_eq!(self.checkpoint.root, self.root);
        assert!(
            self.checkpoint
                .origin
                .ends_with(&format!(" - {}", self.tree_id()))
        );
        self.checkpoint.verify(key);
        let payload = serde_json::json!({
            "body": STANDARD.encode(&self.body),
            "integratedTime": self.integrated_time,
            "logID": self.log_id,
            "logIndex": self.log_index,
        });
        let signed = serde_json_canonicalizer::to_vec(&payload).unwrap();
        assert!(key.verify(&signed, &self.set), "SET does not verify");
    }
}

pub fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Splits a C2SP entry bundle: big-endian u16 length, then that many bytes, repeated.
pub fn split_bundle(mut bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut entries = Vec::new();
    while !bundle.is_empty() {
        assert!(bundle.len() >= 2, "truncated length prefix");
        let len = u16::from_be_bytes([bundle[0], bundle[1]]) as usize;
        assert!(bundle.len() >= 2 + len, "truncated entry");
        entries.push(bundle[2..2 + len].to_vec());
        bundle = &bundle[2 + len..];
    }
    entries
}

/// Fetches and verifies the consistency proof between two sizes of a shard.
pub fn check_consistency(
    tlog: &Tlog,
    tree_id: Option<u64>,
    (first, first_root): (u64, Hash),
    (second, second_root): (u64, Hash),
) {
    let shard = tree_id.map_or_else(String::new, |t| format!("&treeID={t}"));
    let reply = tlog.get(&format!(
        "/api/v1/log/proof?firstSize={first}&lastSize={second}{shard}"
    ));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let proof = reply.json();
    assert_eq!(hex32(proof["rootHash"].as_str().unwrap()), second_root);
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex32(h.as_str().unwrap()))
        .collect();
    assert!(
        verify_consistency(first, second, &hashes, &first_root, &second_root),
        "consistency proof {first} -> {second} does not verify"
    );
}

/// Self-tests of the verifiers against proofs built straight from RFC 6962 2.1.
#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// PATH(m, D[n]).
    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return Vec::new();
        }
        let k = split_point(d.len());
        let (mut p, sibling) = if m < k {
            (path(m, &d[..k]), merkle_root(&d[k..]))
        } else {
            (path(m - k, &d[k..]), merkle_root(&d[..k]))
        };
        p.push(sibling);
        p
    }

    /// SUBPROOF(m, D[n], b).
    fn subproof(m: usize, d: &[Hash], complete: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![merkle_root(d)]
            };
        }
        let k = split_point(n);
        let (mut p, sibling) = if m <= k {
            (subproof(m, &d[..k], complete), merkle_root(&d[k..]))
        } else {
            (subproof(m - k, &d[k..], false), merkle_root(&d[..k]))
        };
        p.push(sibling);
        p
    }

    /// The proof with each hash flipped in turn, then without its last hash.
    fn tamperings(proof: &[Hash]) -> Vec<Vec<Hash>> {
        let mut out: Vec<Vec<Hash>> = (0..proof.len())
            .map(|i| {
                let mut p = proof.to_vec();
                p[i][0] ^= 1;
                p
            })
            .collect();
        if let Some((_, shorter)) = proof.split_last() {
            out.push(shorter.to_vec());
        }
        out
    }

    #[test]
    fn verifiers_accept_good_proofs_and_refuse_bad_ones() {
        let all = leaves(40);
        for n in 1..=all.len() {
            let root = merkle_root(&all[..n]);
            for m in 0..n {
                let proof = path(m, &all[..n]);
                assert!(verify_inclusion(m as u64, n as u64, &all[m], &proof, &root));
                assert!(!verify_inclusion(
                    m as u64,
                    n as u64,
                    &leaf_hash(b"x"),
                    &proof,
                    &root
                ));
                assert!(!verify_inclusion(
                    n as u64, n as u64, &all[m], &proof, &root
                ));
                for tampered in tamperings(&proof) {
                    assert!(!verify_inclusion(
                        m as u64, n as u64, &all[m], &tampered, &root
                    ));
                }
            }
            for m in 1..=n {
                let old = merkle_root(&all[..m]);
                let proof = subproof(m, &all[..n], true);
                assert!(verify_consistency(m as u64, n as u64, &proof, &old, &root));
                if m < n {
                    assert!(!verify_consistency(
                        m as u64, n as u64, &proof, &root, &root
                    ));
                    for tampered in tamperings(&proof) {
                        assert!(!verify_consistency(
                            m as u64, n as u64, &tampered, &old, &root
                        ));
                    }
                }
            }
        }
    }
}
