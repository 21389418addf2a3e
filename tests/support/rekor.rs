//! What a Rekor v1 log answers, verified: its key, signed checkpoints,
//! log entries with their SETs and proofs, C2SP entry bundles.

use aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1;
use aws_lc_rs::signature::ED25519;
use aws_lc_rs::signature::UnparsedPublicKey;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::merkle::{Hash, hex32, leaf_hash, verify_inclusion};

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
