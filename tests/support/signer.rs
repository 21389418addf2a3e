//! Signing keys and the entries they make: hashedrekord bodies, DSSE's PAE.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
use aws_lc_rs::signature::EcdsaKeyPair;
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

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

    /// The public key's DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.key
            .public_key()
            .as_der()
            .expect("public key der")
            .as_ref()
            .to_vec()
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
