//! HTTP tests of every `atesto tlog` endpoint against a real child process:
//! the Rekor v1 API, the C2SP tiles, operations, hostile input, rotation and
//! keys. Every answer is verified independently of the server's code.

#[path = "../support/mod.rs"]
mod support;

mod entries;
mod keys;
mod operations;
mod reads;
mod refusals;
mod tiles;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::*;

/// The host name a log on 127.0.0.1 signs as (the default: the listen host).
const HOSTNAME: &str = "127.0.0.1";

/// A 1024-bit RSA key (too weak for any sigstore log) and its valid PKCS#1 v1.5
/// SHA-256 signature over `WEAK_ARTIFACT`, made once with openssl.
const WEAK_RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDM7+h7AsGhEK9eyU04SsIgu7zi
lG/woo46eLoRmbPPtTPXLpVl+HjqHRECX++dB2l24Dw4lMUxj62aOc91edWF2MPM
bir2P30uJzEzc+jhfWlw2FQrOhqHpVByrx3kZ+GCd7SfmCNOtvbOxm7JjIc/8Ihb
x2+Xhu7ZScrEJy/ViQIDAQAB
-----END PUBLIC KEY-----
";
const WEAK_ARTIFACT: &[u8] = b"atesto weak-key artifact";
const WEAK_SIGNATURE_B64: &str = "ZRUF1Mw9UYffBkyFNa/n73zepwO6FwEr22uvvM5tbyyCJKy7f2zLTOgVwKJ4S89l4Kas/EtoyftvR8KRhOV/+DUXAZTd0Z9F1LN/OfcLf8KAc93KqGYqNPkvNIqwk8ShH76vOGnn7nk1d9yFg3zgAz5D4G3hTopTjrd2PffVQLE=";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn tree_id(info: &Value) -> u64 {
    let text = info["treeID"].as_str().expect("treeID is a string");
    assert!(
        text.bytes().all(|b| b.is_ascii_digit()),
        "treeID {text:?} is not decimal"
    );
    text.parse().unwrap()
}

/// GET /api/v1/log's signedTreeHead, verified against the other fields.
fn tree_head(info: &Value, key: &LogKey) -> Checkpoint {
    let head = Checkpoint::parse(info["signedTreeHead"].as_str().expect("signedTreeHead"));
    head.verify(key);
    assert_eq!(
        head.signatures.len(),
        1,
        "v1 replies carry one signature line"
    );
    assert_eq!(head.size, info["treeSize"].as_u64().unwrap());
    assert_eq!(hex::encode(head.root), info["rootHash"].as_str().unwrap());
    assert_eq!(head.origin, format!("{HOSTNAME} - {}", tree_id(info)));
    assert_eq!(head.signatures[0].0, HOSTNAME);
    head
}

fn submit_artifacts(tlog: &Tlog, key: &LogKey, signer: &Signer, n: usize) -> Vec<LogEntry> {
    (0..n)
        .map(|i| {
            tlog.submit(
                &signer.hashedrekord(format!("artifact {i}").as_bytes()),
                key,
            )
        })
        .collect()
}

fn get_entry(tlog: &Tlog, path: &str) -> LogEntry {
    let reply = tlog.get(path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    LogEntry::from_reply(&reply.text)
}

fn retrieve(tlog: &Tlog, path: &str, query: &Value) -> Vec<LogEntry> {
    let reply = tlog.post(path, query);
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    reply
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(LogEntry::from_value)
        .collect()
}

fn ids(entries: &[LogEntry]) -> BTreeSet<String> {
    entries.iter().map(|e| e.id.clone()).collect()
}

/// No request a client can make should be the server's fault.
fn assert_no_server_errors(tlog: &Tlog) {
    let metrics = tlog.get("/metrics").text;
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("atesto_tlog_http_responses_total") && l.contains("status=\"5")),
        "some request answered 5xx:\n{metrics}"
    );
}
