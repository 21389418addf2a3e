//! RFC 6962 structures rebuilt from the RFC, so that tests check the CT log
//! and the CA against the text rather than against their own encoders.

use p256::ecdsa::signature::Verifier;
use p256::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};

/// `opaque<0..2^24-1>`: a u24 length, then the bytes.
pub fn u24(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(bytes);
    out
}

/// RFC 6962 §3.2 signature input (and MerkleTreeLeaf) of a precert entry.
pub fn precert_sct_input(timestamp: u64, issuer_spki: &[u8], tbs: &[u8]) -> Vec<u8> {
    let mut input = vec![0, 0];
    input.extend_from_slice(&timestamp.to_be_bytes());
    input.extend_from_slice(&[0, 1]);
    input.extend_from_slice(&Sha256::digest(issuer_spki));
    input.extend(u24(tbs));
    input.extend_from_slice(&[0, 0]);
    input
}

/// The same for an x509 entry.
pub fn x509_sct_input(timestamp: u64, cert: &[u8]) -> Vec<u8> {
    let mut input = vec![0, 0];
    input.extend_from_slice(&timestamp.to_be_bytes());
    input.extend_from_slice(&[0, 0]);
    input.extend(u24(cert));
    input.extend_from_slice(&[0, 0]);
    input
}

/// A parsed TLS SCT v1 with no extensions.
pub struct ParsedSct {
    pub log_id: [u8; 32],
    pub timestamp: u64,
    pub signature_der: Vec<u8>,
}

/// Parses a TLS-encoded SCT, asserting v1, no extensions and ECDSA/SHA-256.
pub fn parse_sct(sct: &[u8]) -> ParsedSct {
    assert_eq!(sct[0], 0, "SCT version v1");
    let log_id = sct[1..33].try_into().unwrap();
    let timestamp = u64::from_be_bytes(sct[33..41].try_into().unwrap());
    assert_eq!(&sct[41..43], &[0, 0], "no SCT extensions");
    assert_eq!(&sct[43..45], &[4, 3], "sha256 + ecdsa");
    let len = u16::from_be_bytes([sct[45], sct[46]]) as usize;
    assert_eq!(sct.len(), 47 + len);
    ParsedSct {
        log_id,
        timestamp,
        signature_der: sct[47..].to_vec(),
    }
}

/// Verifies with RustCrypto p256 (not aws-lc, which made the signature).
pub fn p256_verify(spki_der: &[u8], message: &[u8], signature_der: &[u8]) -> bool {
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der).unwrap();
    let Ok(signature) = p256::ecdsa::Signature::from_der(signature_der) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

/// TreeHeadSignature input (RFC 6962 §3.5): v1, tree_hash, timestamp,
/// tree_size, sha256_root_hash.
pub fn tree_head_input(timestamp: u64, tree_size: u64, root: &[u8; 32]) -> Vec<u8> {
    let mut input = vec![0, 1];
    input.extend_from_slice(&timestamp.to_be_bytes());
    input.extend_from_slice(&tree_size.to_be_bytes());
    input.extend_from_slice(root);
    input
}
