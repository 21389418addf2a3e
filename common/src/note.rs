//! Checkpoints as C2SP signed notes.
//!
//! The ECDSA signature line is the one Rekor v1 clients read: its 4-byte key
//! hint is the first bytes of SHA-256(DER SPKI). The optional Ed25519 line uses
//! the C2SP key id (SHA-256(name || 0x0A || 0x01 || key)) that witnesses expect.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use signed_note::Note;

use crate::keys::{KeyType, PrivateKey};

#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(String),
}

/// A key that signs notes under a name.
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: Arc<PrivateKey>,
}

impl NoteSigner {
    pub fn new(name: impl Into<String>, key: Arc<PrivateKey>) -> Self {
        let name = name.into();
        let mut signer = Self {
            name,
            key_id: 0,
            key,
        };
        let hash = signer.key_hash();
        signer.key_id = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]);
        signer
    }

    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The whole hash whose first 4 bytes are this signer's key hint.
    pub fn key_hash(&self) -> [u8; 32] {
        key_hash(
            &self.name,
            self.key.key_type(),
            &self.key.public_key_raw(),
            &self.key.public_key_der(),
        )
    }
}

impl signed_note::Signer for NoteSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        self.key.sign(msg).map_err(|_| signature::Error::new())
    }
}

/// The whole SHA-256 whose first 4 bytes are a signature line's key hint:
/// for Ed25519 the C2SP key id, SHA-256(name || 0x0A || 0x01 || key); for
/// ECDSA, SHA-256 of the DER SPKI, as Rekor signs. Rekor v2 names its log
/// by it (`logId.keyId`), and trusted roots list its Ed25519 logs by it.
/// `raw` is the 32-byte Ed25519 key, `spki_der` the DER SubjectPublicKeyInfo.
pub fn key_hash(name: &str, key_type: KeyType, raw: &[u8], spki_der: &[u8]) -> [u8; 32] {
    match key_type {
        KeyType::EcdsaP256 => Sha256::digest(spki_der).into(),
        KeyType::Ed25519 => {
            let mut hasher = Sha256::new();
            hasher.update(name.as_bytes());
            hasher.update([b'\n', 0x01]);
            hasher.update(raw);
            hasher.finalize().into()
        }
    }
}

/// Checkpoint body per c2sp.org/tlog-checkpoint: origin, size, base64 root hash.
pub fn checkpoint_text(origin: &str, size: u64, root: &[u8; 32]) -> String {
    use base64::Engine;
    format!(
        "{origin}\n{size}\n{}\n",
        base64::engine::general_purpose::STANDARD.encode(root)
    )
}

/// Signs `text` with every signer, in order, and returns the whole note.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    let mut note =
        Note::new(text.as_bytes(), &[]).map_err(|e| NoteError::Malformed(e.to_string()))?;
    let signers: Vec<&dyn signed_note::Signer> = signers
        .iter()
        .map(|s| *s as &dyn signed_note::Signer)
        .collect();
    note.add_sigs(&signers)
        .map_err(|e| NoteError::Malformed(e.to_string()))?;
    String::from_utf8(note.to_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))
}

/// The note with only its first signature line: sigstore-rs splits a Rekor v1
/// checkpoint on the blank line and reads exactly one signature.
pub fn first_signature_only(note: &str) -> &str {
    match note.find("\n\n") {
        Some(blank) => {
            let sigs_start = blank + 2;
            match note[sigs_start..].find('\n') {
                Some(end) => &note[..sigs_start + end + 1],
                None => note,
            }
        }
        None => note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ED25519, UnparsedPublicKey};
    use base64::Engine;

    #[test]
    fn checkpoint_signatures_verify_with_expected_key_hints() {
        let ecdsa = Arc::new(PrivateKey::generate(KeyType::EcdsaP256).unwrap());
        let ed = Arc::new(PrivateKey::generate(KeyType::Ed25519).unwrap());
        let text = checkpoint_text("log.example - 42", 7, &[9u8; 32]);
        let note = sign_note(
            &text,
            &[
                &NoteSigner::new("log.example", ecdsa.clone()),
                &NoteSigner::new("log.example", ed.clone()),
            ],
        )
        .unwrap();
        let (body, sigs) = note.split_once("\n\n").unwrap();
        assert_eq!(format!("{body}\n"), text);
        let lines: Vec<&str> = sigs.lines().collect();
        assert_eq!(lines.len(), 2);

        let decode = |line: &str| {
            let b64 = line.rsplit(' ').next().unwrap();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        };
        let ecdsa_sig = decode(lines[0]);
        assert!(lines[0].starts_with("\u{2014} log.example "));
        assert_eq!(
            &ecdsa_sig[..4],
            &Sha256::digest(ecdsa.public_key_der())[..4]
        );
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, ecdsa.public_key_raw())
            .verify(text.as_bytes(), &ecdsa_sig[4..])
            .unwrap();

        let ed_sig = decode(lines[1]);
        let mut key_material = b"log.example\n\x01".to_vec();
        key_material.extend(ed.public_key_raw());
        assert_eq!(&ed_sig[..4], &Sha256::digest(&key_material)[..4]);
        UnparsedPublicKey::new(&ED25519, ed.public_key_raw())
            .verify(text.as_bytes(), &ed_sig[4..])
            .unwrap();

        let first = first_signature_only(&note);
        assert_eq!(first, format!("{text}\n{}\n", lines[0]));
    }
}
