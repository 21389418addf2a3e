//! Search by key fingerprint (`keyFingerprint` in POST /api/v1/index/retrieve,
//! the hex SHA-256 of a DER SubjectPublicKeyInfo): it finds the entries that
//! carry the key and those that carry a certificate for it, and a log written
//! before the key kind existed is re-indexed at start-up, off the request path.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atesto_rekor_v1::config::TlogConfig;
use atesto_rekor_v1::entry;
use atesto_tlog_engine::store::redb::RedbStore;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{CertificateParams, KeyPair, PublicKeyData, SanType, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::*;

/// A P-256 key with a certificate for it, signing hashedrekord entries either
/// with the bare key or with the certificate.
struct KeyAndCertificate {
    key: KeyPair,
    certificate_pem: String,
}

impl KeyAndCertificate {
    fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::Rfc822Name(
            "fingerprint@example.com".try_into().unwrap(),
        )];
        let certificate_pem = params.self_signed(&key).unwrap().pem();
        Self {
            key,
            certificate_pem,
        }
    }

    /// `sha256:<hex>` of the DER SubjectPublicKeyInfo, as
    /// `openssl pkey -pubin -outform DER | sha256sum` prints it.
    fn fingerprint(&self) -> String {
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(self.key.subject_public_key_info()))
        )
    }

    /// A hashedrekord of `artifact` carrying `verifier` (a key or certificate PEM).
    fn entry(&self, artifact: &[u8], verifier: &str) -> Value {
        hashedrekord(
            "sha256",
            &hex::encode(Sha256::digest(artifact)),
            &STANDARD.encode(self.key.sign(artifact).unwrap()),
            &STANDARD.encode(verifier),
        )
    }

    fn key_entry(&self, artifact: &[u8]) -> Value {
        self.entry(artifact, &self.key.public_key_pem())
    }

    fn certificate_entry(&self, artifact: &[u8]) -> Value {
        self.entry(artifact, &self.certificate_pem)
    }
}

fn retrieve(tlog: &Tlog, query: &Value) -> Vec<String> {
    let reply = tlog.post("/api/v1/index/retrieve", query);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut ids: Vec<String> = serde_json::from_str(&reply.text).unwrap();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn a_key_fingerprint_finds_entries_of_the_key_and_of_its_certificates() {
    let (_dir, tlog, log_key) = fresh_log("", &[]);
    let signer = KeyAndCertificate::new();
    let with_key = tlog.submit(&signer.key_entry(b"signed with the bare key"), &log_key);
    let with_certificate = tlog.submit(
        &signer.certificate_entry(b"signed with the certificate"),
        &log_key,
    );
    let other = KeyAndCertificate::new();
    let unrelated = tlog.submit(&other.key_entry(b"another key"), &log_key);

    let both = sorted(vec![with_key.id.clone(), with_certificate.id.clone()]);
    let fingerprint = signer.fingerprint();
    assert_eq!(
        retrieve(&tlog, &json!({"keyFingerprint": fingerprint})),
        both
    );
    // Bare hex, upper case: the same search.
    let bare = fingerprint.trim_start_matches("sha256:").to_uppercase();
    assert_eq!(retrieve(&tlog, &json!({"keyFingerprint": bare})), both);
    assert_eq!(
        retrieve(&tlog, &json!({"keyFingerprint": other.fingerprint()})),
        std::slice::from_ref(&unrelated.id)
    );
    // Combined with another search key, as Rekor's operators combine them.
    assert_eq!(
        retrieve(
            &tlog,
            &json!({"keyFingerprint": fingerprint, "email": "fingerprint@example.com", "operator": "and"})
        ),
        std::slice::from_ref(&with_certificate.id)
    );
    // A search by the PEM key keeps Rekor's meaning: the entries carrying that PEM.
    let pem = STANDARD.encode(signer.key.public_key_pem());
    assert_eq!(
        retrieve(
            &tlog,
            &json!({"publicKey": {"format": "x509", "content": pem}})
        ),
        std::slice::from_ref(&with_key.id)
    );
    // A fingerprint nobody signed with finds nothing; one that is not a
    // fingerprint is refused with a clear message.
    let unknown = format!("sha256:{}", "0".repeat(64));
    assert!(retrieve(&tlog, &json!({"keyFingerprint": unknown})).is_empty());
    let message = tlog
        .post(
            "/api/v1/index/retrieve",
            &json!({"keyFingerprint": "sha1:abcd"}),
        )
        .expect_error(400);
    assert!(
        message.starts_with("keyFingerprint \"sha1:abcd\" is not a key fingerprint"),
        "{message}"
    );
}

/// Writes a log as a release before the key kind did: entries prepared as
/// today, filed without their `spki:` keys. Closed before returning.
fn write_old_log(data: &Path, addr: &str, entries: &[Value]) {
    let config = TlogConfig {
        data: data.to_path_buf(),
        addr: addr.to_string(),
        ..TlogConfig::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Arc::new(RedbStore::open_dir(data, 16 << 20).unwrap());
        let log = atesto_rekor_v1::start(store.clone(), &config).unwrap();
        for proposed in entries {
            let mut prepared = entry::prepare(&serde_json::to_vec(proposed).unwrap()).unwrap();
            let before = prepared.index_keys.len();
            prepared.index_keys.retain(|key| !key.starts_with("spki:"));
            assert_eq!(prepared.index_keys.len(), before - 1);
            log.submit(prepared.into_submission())
                .unwrap()
                .await
                .unwrap()
                .unwrap();
        }
        drop(log);
        // The sequencer lets go of the store once the log is gone.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&store) > 1 {
            assert!(Instant::now() < deadline, "the old log did not close");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn a_log_written_before_the_key_kind_is_reindexed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr = free_addr();
    let signer = KeyAndCertificate::new();
    let old_entries = [
        signer.key_entry(b"old entry with the key"),
        signer.certificate_entry(b"old entry with the certificate"),
    ];
    write_old_log(&data, &addr, &old_entries);

    let tlog = Tlog::start_at(&data, &addr, &[]);
    let log_key = tlog.public_key();
    let new_entry = tlog.submit(&signer.key_entry(b"new entry"), &log_key);
    let query = json!({"keyFingerprint": signer.fingerprint()});
    // The re-index runs beside the server: wait until it has filed both old entries.
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        let found = retrieve(&tlog, &query);
        if found.len() == 3 || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut expected: Vec<String> = (0..2)
        .map(|index| {
            let reply = tlog.get(&format!("/api/v1/log/entries?logIndex={index}"));
            assert_eq!(reply.status, 200, "{}", reply.text);
            reply
                .json()
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone()
        })
        .collect();
    expected.push(new_entry.id);
    assert_eq!(found, sorted(expected));
    // The old entries keep their other keys.
    assert_eq!(
        retrieve(&tlog, &json!({"email": "fingerprint@example.com"})).len(),
        1
    );

    // A restart finds the re-index done and everything still filed.
    drop(tlog);
    let tlog = Tlog::start_at(&data, &addr, &[]);
    assert_eq!(retrieve(&tlog, &query).len(), 3);
}
