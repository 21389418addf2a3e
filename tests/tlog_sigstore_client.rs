//! sigstore-rs 0.15, a real Rekor v1 client, against a running `atesto tlog`.
//!
//! Everything goes through sigstore-rs's own API functions and models, so the
//! server's replies are parsed exactly as sigstore-rs parses them (LogEntry by
//! character offsets, checkpoints split on the blank line, the body decoded into
//! its struct and re-canonicalized before hashing). Every acceptance is paired
//! with a rejection, so a verifier that accepts anything fails the test.

mod support;

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use sigstore::crypto::{CosignVerificationKey, SigStoreSigner, SigningScheme};
use sigstore::rekor::apis::configuration::Configuration;
use sigstore::rekor::apis::{Error as ApiError, entries_api, index_api, pubkey_api, tlog_api};
use sigstore::rekor::models::hashedrekord::{
    AlgorithmKind, Data, Hash, PublicKey, Signature, Spec,
};
use sigstore::rekor::models::log_entry::Body;
use sigstore::rekor::models::search_index_public_key::Format;
use sigstore::rekor::models::{
    LogEntry, ProposedEntry, SearchIndex, SearchIndexPublicKey, SearchLogQuery,
};
use support::Tlog;

/// A running log plus a sigstore-rs client configured for it.
struct Fixture {
    tlog: Tlog,
    _data: tempfile::TempDir,
    config: Configuration,
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn start() -> Fixture {
        Self::start_with(|_| Vec::new())
    }

    /// `args` gets the data directory and returns extra `atesto tlog` flags.
    fn start_with(args: impl FnOnce(&std::path::Path) -> Vec<String>) -> Fixture {
        let data = tempfile::tempdir().unwrap();
        let extra = args(data.path());
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        // Started outside the runtime: the support helpers use blocking reqwest.
        let tlog = Tlog::start(data.path(), &extra);
        let config = Configuration {
            base_path: tlog.url(""),
            ..Configuration::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Fixture {
            tlog,
            _data: data,
            config,
            runtime,
        }
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The log key as sigstore-rs reads it, from GET /api/v1/log/publicKey.
    fn rekor_key(&self) -> (CosignVerificationKey, String) {
        let pem = self
            .block_on(pubkey_api::get_public_key(&self.config, None))
            .unwrap();
        let key =
            CosignVerificationKey::from_pem(pem.as_bytes(), &SigningScheme::ECDSA_P256_SHA256_ASN1)
                .unwrap();
        (key, pem)
    }

    fn create(&self, proposed: ProposedEntry) -> LogEntry {
        self.block_on(entries_api::create_log_entry(&self.config, proposed))
            .unwrap_or_else(|e| panic!("sigstore-rs could not create an entry: {e:?}"))
    }

    fn by_index(&self, index: i64) -> LogEntry {
        let index = i32::try_from(index).unwrap();
        self.block_on(entries_api::get_log_entry_by_index(&self.config, index))
            .unwrap_or_else(|e| panic!("get_log_entry_by_index({index}): {e:?}"))
    }

    fn by_uuid(&self, uuid: &str) -> LogEntry {
        self.block_on(entries_api::get_log_entry_by_uuid(&self.config, uuid))
            .unwrap_or_else(|e| panic!("get_log_entry_by_uuid({uuid}): {e:?}"))
    }

    fn search(&self, query: SearchIndex) -> BTreeSet<String> {
        self.block_on(index_api::search_index(&self.config, query))
            .unwrap_or_else(|e| panic!("search_index: {e:?}"))
            .into_iter()
            .collect()
    }

    /// POST /api/v1/log/entries/retrieve; sigstore-rs hands back the raw JSON
    /// array, whose members are single-key LogEntry objects like the GET replies.
    fn search_log(&self, query: SearchLogQuery) -> Vec<LogEntry> {
        let raw = self
            .block_on(entries_api::search_log_query(&self.config, query))
            .unwrap_or_else(|e| panic!("search_log_query: {e:?}"));
        let items: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(&raw).unwrap();
        items
            .into_iter()
            .map(|item| {
                assert_eq!(
                    item.len(),
                    1,
                    "a retrieved entry must be a single-key object"
                );
                let (uuid, value) = item.into_iter().next().unwrap();
                // Same path sigstore-rs's own GET handlers take after slicing.
                let mut entry: LogEntry = value.to_string().parse().unwrap();
                entry.uuid = Some(uuid);
                entry
            })
            .collect()
    }
}

/// A key made by sigstore-rs, signing hashedrekord entries.
struct ArtifactSigner {
    signer: SigStoreSigner,
    public_key_pem: String,
}

impl ArtifactSigner {
    fn new() -> Self {
        let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .unwrap();
        let public_key_pem = signer
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        Self {
            signer,
            public_key_pem,
        }
    }

    fn spec(&self, artifact: &[u8]) -> Spec {
        Spec::new(
            Signature::new(
                // sigstore-rs hashes the message itself (ECDSA P-256 / SHA-256, ASN.1).
                STANDARD.encode(self.signer.sign(artifact).unwrap()),
                PublicKey::new(STANDARD.encode(&self.public_key_pem)),
            ),
            Data::new(Hash::new(AlgorithmKind::sha256, digest_hex(artifact))),
        )
    }

    /// A fresh signature each call (ECDSA is randomized), so keep the
    /// proposal when the same entry must be named again.
    fn proposed_entry(&self, artifact: &[u8]) -> ProposedEntry {
        ProposedEntry::Hashedrekord {
            api_version: "0.0.1".to_owned(),
            spec: self.spec(artifact),
        }
    }

    fn public_key_query(&self) -> SearchIndex {
        SearchIndex {
            public_key: Some(SearchIndexPublicKey {
                format: Format::X509,
                content: Some(STANDARD.encode(&self.public_key_pem)),
                url: None,
            }),
            ..SearchIndex::new()
        }
    }
}

fn digest_hex(artifact: &[u8]) -> String {
    hex::encode(Sha256::digest(artifact))
}

/// The DER inside a base64-encoded PEM, whatever its line endings.
fn pem_der(content: &serde_json::Value) -> Vec<u8> {
    let pem = STANDARD.decode(content.as_str().unwrap()).unwrap();
    let pem = String::from_utf8(pem).unwrap().replace("\r\n", "\n");
    pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1
}

fn other_key() -> CosignVerificationKey {
    SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap()
        .to_verification_key()
        .unwrap()
}

fn hash_query(value: String) -> SearchIndex {
    SearchIndex {
        hash: Some(value),
        ..SearchIndex::new()
    }
}

fn uuid_of(entry: &LogEntry) -> &str {
    entry
        .uuid
        .as_deref()
        .expect("sigstore-rs sets uuid from the reply's key")
}

/// What must be identical however an entry is fetched (the proof may differ:
/// it is against whatever checkpoint is newest when asked).
fn assert_same_entry(got: &LogEntry, want: &LogEntry) {
    assert_eq!(got.uuid, want.uuid);
    assert_eq!(got.body, want.body);
    assert_eq!(got.integrated_time, want.integrated_time);
    assert_eq!(got.log_i_d, want.log_i_d);
    assert_eq!(got.log_index, want.log_index);
    assert_eq!(
        got.verification.signed_entry_timestamp,
        want.verification.signed_entry_timestamp
    );
}

/// verify_inclusion with the log key, and its refusal of a foreign key and of
/// a tampered body or proof.
fn assert_inclusion(entry: &LogEntry, rekor_key: &CosignVerificationKey) {
    entry.verify_inclusion(rekor_key).unwrap_or_else(|e| {
        panic!(
            "sigstore-rs rejected the inclusion of {:?}: {e:?}",
            entry.uuid
        )
    });
    assert!(
        entry.verify_inclusion(&other_key()).is_err(),
        "checkpoint accepted under a foreign key"
    );

    let mut tampered = entry.clone();
    let Body::hashedrekord(body) = &mut tampered.body else {
        panic!("not a hashedrekord body: {:?}", entry.body);
    };
    body.spec["data"]["hash"]["value"] = serde_json::Value::String(digest_hex(b"something else"));
    assert!(
        tampered.verify_inclusion(rekor_key).is_err(),
        "tampered body accepted"
    );

    let mut tampered = entry.clone();
    let proof = tampered.verification.inclusion_proof.as_mut().unwrap();
    proof.log_index = (proof.log_index + 1) % i64::try_from(proof.tree_size).unwrap();
    if proof.tree_size > 1 {
        assert!(
            tampered.verify_inclusion(rekor_key).is_err(),
            "wrong leaf index accepted"
        );
    }
}

#[test]
fn entries_created_and_fetched_through_sigstore_rs_prove_inclusion() {
    let fx = Fixture::start();
    let (rekor_key, rekor_pem) = fx.rekor_key();
    let rekor_der = pem_rfc7468::decode_vec(rekor_pem.as_bytes()).unwrap().1;
    let log_id = hex::encode(Sha256::digest(&rekor_der));

    let signer = ArtifactSigner::new();
    let mut created = Vec::new();
    let mut proposals = Vec::new();
    for i in 0..5u8 {
        let artifact = format!("sigstore-rs artifact {i}").into_bytes();
        let proposed = signer.proposed_entry(&artifact);
        let ProposedEntry::Hashedrekord { spec, .. } = &proposed else {
            unreachable!()
        };
        let mut sent_spec = serde_json::to_value(spec).unwrap();
        let entry = fx.create(proposed.clone());
        proposals.push(proposed);
        let uuid = uuid_of(&entry);
        assert_eq!(
            uuid.len(),
            80,
            "entry id must be tree id + leaf hash: {uuid}"
        );
        assert!(uuid.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(entry.log_index, i64::from(i));
        assert_eq!(entry.log_i_d, log_id);
        // The body sigstore-rs decoded is the hashedrekord it proposed, with no
        // field added or dropped. The key alone is re-encoded: sigstore-rs writes
        // CRLF PEM, and the log stores Go's LF PEM as Rekor does, so compare DER.
        let Body::hashedrekord(body) = &entry.body else {
            panic!("not a hashedrekord body: {:?}", entry.body);
        };
        assert_eq!(body.api_version, "0.0.1");
        let stored_key = pem_der(&body.spec["signature"]["publicKey"]["content"]);
        assert_eq!(
            stored_key,
            pem_der(&sent_spec["signature"]["publicKey"]["content"])
        );
        sent_spec["signature"]["publicKey"]["content"] =
            body.spec["signature"]["publicKey"]["content"].clone();
        assert_eq!(body.spec, sent_spec);
        let proof = entry.verification.inclusion_proof.as_ref().unwrap();
        assert_eq!(proof.log_index, i64::from(i));
        assert_eq!(proof.tree_size, u64::from(i) + 1);
        assert_inclusion(&entry, &rekor_key);
        created.push(entry);
    }

    for want in &created {
        let got = fx.by_index(want.log_index);
        assert_same_entry(&got, want);
        let proof = got.verification.inclusion_proof.as_ref().unwrap();
        assert_eq!(
            proof.tree_size,
            created.len() as u64,
            "proof against the newest checkpoint"
        );
        assert_inclusion(&got, &rekor_key);

        let uuid = uuid_of(want);
        let got = fx.by_uuid(uuid);
        assert_same_entry(&got, want);
        assert_inclusion(&got, &rekor_key);

        // The bare 64-hex leaf hash names the same entry; the reply keeps the 80-hex id.
        let got = fx.by_uuid(&uuid[16..]);
        assert_same_entry(&got, want);
        assert_inclusion(&got, &rekor_key);
    }

    // Misses and duplicates come back as errors sigstore-rs can classify.
    let missing = fx.block_on(entries_api::get_log_entry_by_index(&fx.config, 1000));
    match missing {
        Err(ApiError::ResponseError(r)) => assert_eq!(r.status.as_u16(), 404, "{}", r.content),
        other => panic!("expected 404 for a missing index, got {other:?}"),
    }
    let missing = fx.block_on(entries_api::get_log_entry_by_uuid(
        &fx.config,
        &"ab".repeat(32),
    ));
    match missing {
        Err(ApiError::ResponseError(r)) => assert_eq!(r.status.as_u16(), 404, "{}", r.content),
        other => panic!("expected 404 for a missing uuid, got {other:?}"),
    }
    let duplicate = fx.block_on(entries_api::create_log_entry(
        &fx.config,
        proposals[0].clone(),
    ));
    match duplicate {
        Err(ApiError::ResponseError(r)) => {
            assert_eq!(r.status.as_u16(), 409, "{}", r.content);
            assert!(r.content.contains(uuid_of(&created[0])), "{}", r.content);
        }
        other => panic!("expected 409 for a duplicate, got {other:?}"),
    }
}

#[test]
fn log_info_and_consistency_proofs_verify_through_sigstore_rs() {
    let fx = Fixture::start();
    let (rekor_key, _) = fx.rekor_key();
    let signer = ArtifactSigner::new();
    for i in 0..3u8 {
        fx.create(signer.proposed_entry(format!("consistency {i}").as_bytes()));
    }

    let old = fx.block_on(tlog_api::get_log_info(&fx.config)).unwrap();
    assert_eq!(old.tree_size, 3);
    assert_eq!(old.signed_tree_head.note.size, old.tree_size);
    assert_eq!(old.signed_tree_head.note.hash, old.root_hash);
    assert_eq!(
        old.signed_tree_head.signatures.len(),
        1,
        "sigstore-rs reads one signature line in a v1 checkpoint"
    );
    old.signed_tree_head.verify_signature(&rekor_key).unwrap();
    assert!(old.signed_tree_head.verify_signature(&other_key()).is_err());
    let tree_id = old.tree_id.clone().expect("treeID");
    assert!(
        tree_id.parse::<u64>().is_ok(),
        "treeID is a decimal string: {tree_id}"
    );

    // The newest entry's proof is against the same signed tree head.
    let newest = fx.by_index(2);
    let proof = newest.verification.inclusion_proof.as_ref().unwrap();
    assert_eq!(proof.root_hash, hex::encode(old.root_hash));
    assert_eq!(proof.tree_size, old.tree_size);

    for i in 3..10u8 {
        fx.create(signer.proposed_entry(format!("consistency {i}").as_bytes()));
    }
    let new = fx.block_on(tlog_api::get_log_info(&fx.config)).unwrap();
    assert_eq!(new.tree_size, 10);
    assert_eq!(new.tree_id.as_deref(), Some(tree_id.as_str()));
    assert_ne!(new.root_hash, old.root_hash);

    let old_size = old.tree_size.to_string();
    for tree in [None, Some(tree_id.as_str())] {
        let proof = fx
            .block_on(tlog_api::get_log_proof(
                &fx.config,
                new.tree_size,
                Some(&old_size),
                tree,
            ))
            .unwrap_or_else(|e| panic!("get_log_proof: {e:?}"));
        assert_eq!(proof.root_hash, new.root_hash);
        assert!(!proof.hashes.is_empty());
        new.verify_consistency(old.tree_size, &old.root_hash, &proof, &rekor_key)
            .unwrap_or_else(|e| panic!("sigstore-rs rejected the consistency proof: {e:?}"));

        // Each refusal sigstore-rs must make.
        assert!(
            new.verify_consistency(old.tree_size, &old.root_hash, &proof, &other_key())
                .is_err(),
            "tree head accepted under a foreign key"
        );
        let mut wrong_root = old.root_hash;
        wrong_root[0] ^= 1;
        assert!(
            new.verify_consistency(old.tree_size, &wrong_root, &proof, &rekor_key)
                .is_err(),
            "wrong old root accepted"
        );
        assert!(
            new.verify_consistency(old.tree_size - 1, &old.root_hash, &proof, &rekor_key)
                .is_err(),
            "wrong old size accepted"
        );
        let mut short = proof.clone();
        short.hashes.pop();
        assert!(
            new.verify_consistency(old.tree_size, &old.root_hash, &short, &rekor_key)
                .is_err(),
            "truncated proof accepted"
        );
    }

    // An intermediate size: the proof's root is the root at lastSize, not the newest.
    let mid = fx
        .block_on(tlog_api::get_log_proof(&fx.config, 7, Some("3"), None))
        .unwrap();
    assert_ne!(mid.root_hash, new.root_hash);
    mid.verify(3, &old.root_hash, 7, None).unwrap();
    assert!(
        mid.verify(3, &old.root_hash, 7, Some(&new.root_hash))
            .is_err()
    );
    // (Sizes 5..=8 would pass: from 3 their proofs have the same shape, so
    // only the root binds the size; 9 needs a longer proof.)
    assert!(mid.verify(3, &old.root_hash, 9, None).is_err());

    // The server refuses a lastSize beyond the tree, and sigstore-rs surfaces it.
    let beyond = fx.block_on(tlog_api::get_log_proof(&fx.config, 11, Some("3"), None));
    match beyond {
        Err(ApiError::ResponseError(r)) => assert_eq!(r.status.as_u16(), 400, "{}", r.content),
        other => panic!("expected 400 for lastSize beyond the tree, got {other:?}"),
    }
}

#[test]
fn index_and_log_query_searches_find_entries_through_sigstore_rs() {
    let fx = Fixture::start();
    let (rekor_key, _) = fx.rekor_key();
    let alice = ArtifactSigner::new();
    let bob = ArtifactSigner::new();

    let shared = b"signed by both".as_slice();
    let alice_only = b"alice alone".as_slice();
    let bob_only = b"bob alone".as_slice();
    let a_shared_proposal = alice.proposed_entry(shared);
    let a_shared = fx.create(a_shared_proposal.clone());
    let a_only = fx.create(alice.proposed_entry(alice_only));
    let b_shared = fx.create(bob.proposed_entry(shared));
    let b_only = fx.create(bob.proposed_entry(bob_only));
    let ids = |entries: &[&LogEntry]| -> BTreeSet<String> {
        entries.iter().map(|e| uuid_of(e).to_owned()).collect()
    };

    // By artifact hash, in Rekor's `sha256:<hex>` form and as bare hex.
    for value in [format!("sha256:{}", digest_hex(shared)), digest_hex(shared)] {
        assert_eq!(fx.search(hash_query(value)), ids(&[&a_shared, &b_shared]));
    }
    assert_eq!(
        fx.search(hash_query(format!("sha256:{}", digest_hex(alice_only)))),
        ids(&[&a_only])
    );
    assert!(
        fx.search(hash_query(format!(
            "sha256:{}",
            digest_hex(b"never logged")
        )))
        .is_empty()
    );

    // By public key (format x509 is sigstore-rs's choice for a PEM key).
    assert_eq!(
        fx.search(alice.public_key_query()),
        ids(&[&a_shared, &a_only])
    );
    assert_eq!(
        fx.search(bob.public_key_query()),
        ids(&[&b_shared, &b_only])
    );
    assert!(
        fx.search(ArtifactSigner::new().public_key_query())
            .is_empty()
    );

    // Hash and key at once: sigstore-rs's SearchIndex has no operator field,
    // and Rekor (pkg/api/index.go) treats a missing operator as `or`.
    let either = SearchIndex {
        hash: Some(format!("sha256:{}", digest_hex(bob_only))),
        ..alice.public_key_query()
    };
    assert_eq!(fx.search(either), ids(&[&a_shared, &a_only, &b_only]));

    // entries/retrieve by id, by index and by content; each comes back provable.
    let by_uuid = fx.search_log(SearchLogQuery {
        entry_uuids: Some(vec![
            uuid_of(&a_only).to_owned(),
            uuid_of(&b_only).to_owned(),
        ]),
        ..SearchLogQuery::new()
    });
    let got: BTreeSet<String> = by_uuid.iter().map(|e| uuid_of(e).to_owned()).collect();
    assert_eq!(got, ids(&[&a_only, &b_only]));

    let by_index = fx.search_log(SearchLogQuery {
        log_indexes: Some(vec![i32::try_from(b_shared.log_index).unwrap()]),
        ..SearchLogQuery::new()
    });
    assert_eq!(by_index.len(), 1);
    assert_same_entry(&by_index[0], &b_shared);

    let by_content = fx.search_log(SearchLogQuery {
        entries: Some(vec![a_shared_proposal]),
        ..SearchLogQuery::new()
    });
    assert_eq!(by_content.len(), 1);
    assert_same_entry(&by_content[0], &a_shared);

    for entry in by_uuid.iter().chain(&by_index).chain(&by_content) {
        assert_inclusion(entry, &rekor_key);
    }

    // Not in the log: left out of the answer, not an error.
    let none = fx.search_log(SearchLogQuery {
        entry_uuids: Some(vec!["cd".repeat(32)]),
        ..SearchLogQuery::new()
    });
    assert!(none.is_empty());
}

#[test]
fn witness_cosigned_checkpoints_still_verify_in_sigstore_rs() {
    // With a witness key every checkpoint carries two signature lines; the v1
    // replies must keep only the ECDSA one, or sigstore-rs cannot split them.
    let fx = Fixture::start_with(|data| {
        let key = data.join("witness.pem");
        support::write_ed25519_pkcs8(&key);
        let config = data.join("tlog.yaml");
        std::fs::write(&config, format!("witness_key: {}\n", key.display())).unwrap();
        vec!["--config".to_owned(), config.display().to_string()]
    });
    let (rekor_key, _) = fx.rekor_key();
    let signer = ArtifactSigner::new();

    // The full note served to witnesses does hold both lines.
    let note = support::client()
        .get(fx.tlog.url("/checkpoint"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let (_, signatures) = note.split_once("\n\n").unwrap();
    assert_eq!(signatures.lines().count(), 2, "{note}");

    let first = fx.create(signer.proposed_entry(b"witnessed 0"));
    assert_inclusion(&first, &rekor_key);
    let old = fx.block_on(tlog_api::get_log_info(&fx.config)).unwrap();
    assert_eq!(old.signed_tree_head.signatures.len(), 1);
    for i in 1..4u8 {
        let entry = fx.create(signer.proposed_entry(format!("witnessed {i}").as_bytes()));
        assert_inclusion(&entry, &rekor_key);
        assert_inclusion(&fx.by_uuid(uuid_of(&entry)), &rekor_key);
    }
    let new = fx.block_on(tlog_api::get_log_info(&fx.config)).unwrap();
    let proof = fx
        .block_on(tlog_api::get_log_proof(
            &fx.config,
            new.tree_size,
            Some(&old.tree_size.to_string()),
            None,
        ))
        .unwrap();
    new.verify_consistency(old.tree_size, &old.root_hash, &proof, &rekor_key)
        .unwrap();
    assert!(
        new.verify_consistency(old.tree_size, &old.root_hash, &proof, &other_key())
            .is_err()
    );
}
