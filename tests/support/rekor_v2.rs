//! A Rekor v2 log beside `atesto tlog`'s v1 log, the requests its clients
//! send, and checks of what it answers written from rekor-tiles' formats:
//! the TransparencyLogEntry, its inclusion proof and the Ed25519 checkpoint.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    Checkpoint, Hash, Reply, Signer, Tlog, client, free_addr, leaf_hash, verify_inclusion,
};

/// The v2 log's Ed25519 checkpoint key, written where its config points.
pub struct CheckpointKey {
    pub raw: Vec<u8>,
}

impl CheckpointKey {
    pub fn write(path: &Path) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pem =
            pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, pkcs8.as_ref())
                .unwrap();
        std::fs::write(path, pem).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        CheckpointKey {
            raw: pair.public_key().as_ref().to_vec(),
        }
    }

    /// The public key as a PEM SubjectPublicKeyInfo (Ed25519's is a fixed
    /// 12-byte prefix and the key).
    pub fn spki_pem(&self) -> String {
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(&self.raw);
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &der).unwrap()
    }

    /// The C2SP key id of `name`'s key, whole: the log's `logId.keyId`.
    pub fn log_id(&self, name: &str) -> [u8; 32] {
        let mut material = format!("{name}\n").into_bytes();
        material.push(0x01);
        material.extend_from_slice(&self.raw);
        Sha256::digest(&material).into()
    }
}

/// `atesto tlog` with a `rekor_v2:` section: the v1 log on `v1`, the v2 log
/// on `v2_addr`. Killed when dropped.
pub struct RekorV2 {
    pub v1: Tlog,
    pub v2_addr: String,
    pub key: CheckpointKey,
}

impl RekorV2 {
    /// Starts on `dir` (a new one or one a previous start used).
    pub fn start(dir: &Path) -> RekorV2 {
        Self::start_replica(dir, "data", &[])
    }

    /// Starts with the v1 log's data in `dir/<name>`, its config in
    /// `dir/<name>.yaml` and `extra` flags; the v2 key is `dir`'s, so
    /// replicas on one database started on one `dir` share it.
    pub fn start_replica(dir: &Path, name: &str, extra: &[&str]) -> RekorV2 {
        let key_path = dir.join("v2-key.pem");
        let key = if key_path.exists() {
            let pem = std::fs::read_to_string(&key_path).unwrap();
            let (_, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
            let pair = Ed25519KeyPair::from_pkcs8(&der).unwrap();
            CheckpointKey {
                raw: pair.public_key().as_ref().to_vec(),
            }
        } else {
            CheckpointKey::write(&key_path)
        };
        let v2_addr = free_addr();
        let config = dir.join(format!("{name}.yaml"));
        std::fs::write(
            &config,
            format!(
                "rekor_v2:\n  addr: {v2_addr}\n  key: {}\n",
                key_path.display()
            ),
        )
        .unwrap();
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend(extra);
        let v1 = Tlog::start(&dir.join(name), &args);
        let rekor = RekorV2 { v1, v2_addr, key };
        // Both listeners start together; wait for the v2 one too.
        for _ in 0..200 {
            if client().get(rekor.url("/healthz")).send().is_ok() {
                return rekor;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the v2 log did not answer: {}", rekor.v1.stderr());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.v2_addr)
    }

    pub fn get(&self, path: &str) -> Reply {
        Reply::from(client().get(self.url(path)).send().unwrap())
    }

    pub fn post(&self, body: &Value) -> Reply {
        self.post_raw(serde_json::to_vec(body).unwrap())
    }

    pub fn post_raw(&self, body: Vec<u8>) -> Reply {
        Reply::from(
            client()
                .post(self.url("/api/v2/log/entries"))
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .unwrap(),
        )
    }

    /// Submits, expects 201, and checks the answer completely.
    pub fn submit(&self, request: &Value) -> ProvenEntry {
        let reply = self.post(request);
        assert_eq!(reply.status, 201, "{}", reply.text);
        let entry = ProvenEntry::parse(&reply.json());
        entry.verify(&self.key, "127.0.0.1");
        entry
    }
}

/// A `hashedRekordRequestV002` of `signer` over `artifact`.
pub fn hashed_rekord_request(signer: &Signer, artifact: &[u8]) -> Value {
    json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(Sha256::digest(artifact)),
        "signature": {
            "content": STANDARD.encode(signer.sign(artifact)),
            "verifier": {
                "publicKey": {"rawBytes": STANDARD.encode(signer.spki_der())},
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            },
        },
    }})
}

/// The canonical body a request must be stored as (rekor-tiles' Entry, RFC 8785).
pub fn canonical_body(request: &Value) -> Vec<u8> {
    let request = &request["hashedRekordRequestV002"];
    let body = json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": request["digest"]},
            "signature": request["signature"],
        }},
    });
    serde_json_canonicalizer::to_vec(&body).unwrap()
}

/// A TransparencyLogEntry answer, parsed.
pub struct ProvenEntry {
    pub json: Value,
    pub index: u64,
    pub body: Vec<u8>,
    pub checkpoint: Checkpoint,
    pub proof: Vec<Hash>,
}

fn u64_string(value: &Value) -> u64 {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a protobuf-JSON 64-bit integer (a string): {value}"))
        .parse()
        .unwrap()
}

fn bytes(value: &Value) -> Vec<u8> {
    STANDARD.decode(value.as_str().unwrap()).unwrap()
}

impl ProvenEntry {
    pub fn parse(json: &Value) -> Self {
        let proof = &json["inclusionProof"];
        ProvenEntry {
            json: json.clone(),
            index: u64_string(&json["logIndex"]),
            body: bytes(&json["canonicalizedBody"]),
            checkpoint: Checkpoint::parse(proof["checkpoint"]["envelope"].as_str().unwrap()),
            proof: proof["hashes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| bytes(h).try_into().unwrap())
                .collect(),
        }
    }

    /// The shape rekor-tiles answers, the Ed25519 checkpoint of `name` and
    /// the inclusion proof against it.
    pub fn verify(&self, key: &CheckpointKey, name: &str) {
        let json = &self.json;
        assert_eq!(
            json["kindVersion"],
            json!({"kind": "hashedrekord", "version": "0.0.2"})
        );
        assert_eq!(json["logId"]["keyId"], STANDARD.encode(key.log_id(name)));
        assert!(
            json["integratedTime"].as_str().is_none_or(|t| t == "0"),
            "{json}"
        );
        assert!(
            json.get("inclusionPromise").is_none_or(Value::is_null),
            "{json}"
        );
        let proof = &json["inclusionProof"];
        assert_eq!(u64_string(&proof["logIndex"]), self.index);
        assert_eq!(u64_string(&proof["treeSize"]), self.checkpoint.size);
        assert_eq!(bytes(&proof["rootHash"]), self.checkpoint.root);
        // Origin = the host name alone, one signature line, its Ed25519 key's.
        assert_eq!(self.checkpoint.origin, name);
        assert_eq!(self.checkpoint.signatures.len(), 1, "{:?}", self.checkpoint);
        self.checkpoint.verify_ed25519(name, &key.raw);
        let (_, signature) = &self.checkpoint.signatures[0];
        assert!(
            UnparsedPublicKey::new(&ED25519, &key.raw)
                .verify(self.checkpoint.text.as_bytes(), &signature[4..])
                .is_ok()
        );
        assert!(
            verify_inclusion(
                self.index,
                self.checkpoint.size,
                &leaf_hash(&self.body),
                &self.proof,
                &self.checkpoint.root
            ),
            "the inclusion proof of entry {} does not verify",
            self.index
        );
    }
}
