//! The log's TLS signatures: SignedCertificateTimestamps and tree heads, each
//! a `DigitallySigned` (hash sha256 = 4, signature ecdsa = 3) by the log key.

use atesto_common::ct::TimestampedEntry;
use atesto_tlog_engine::checkpoint::{LogKeys, SignError};

/// `DigitallySigned` around an ASN.1 ECDSA signature with SHA-256.
fn digitally_signed(signature: &[u8]) -> Vec<u8> {
    let mut out = vec![4, 3];
    // An ECDSA P-256 signature is < 80 bytes.
    out.extend_from_slice(&(signature.len() as u16).to_be_bytes());
    out.extend_from_slice(signature);
    out
}

/// The SCT's `signature` over an entry (RFC 6962 §3.2): the signature input is
/// the MerkleTreeLeaf's bytes (see leaf.rs).
pub fn sign_sct(keys: &LogKeys, entry: &TimestampedEntry) -> Result<Vec<u8>, SignError> {
    sign_sct_input(keys, &entry.merkle_tree_leaf())
}

/// The SCT's `signature` for a stored leaf (a resubmitted entry).
pub fn sign_sct_input(keys: &LogKeys, leaf: &[u8]) -> Result<Vec<u8>, SignError> {
    Ok(digitally_signed(&keys.sign("an SCT", leaf)?))
}

/// TreeHeadSignature (RFC 6962 §3.5): version v1 (0), signature_type
/// tree_hash (1), timestamp, tree_size, sha256_root_hash.
pub fn tree_head_input(timestamp: u64, tree_size: u64, root: &[u8; 32]) -> Vec<u8> {
    let mut out = vec![0, 1];
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&tree_size.to_be_bytes());
    out.extend_from_slice(root);
    out
}

pub fn sign_tree_head(
    keys: &LogKeys,
    timestamp: u64,
    tree_size: u64,
    root: &[u8; 32],
) -> Result<Vec<u8>, SignError> {
    Ok(digitally_signed(&keys.sign(
        "a tree head",
        &tree_head_input(timestamp, tree_size, root),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_head_input_layout() {
        let input = tree_head_input(2, 3, &[9; 32]);
        let mut expected = vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3];
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(input, expected);
        let signed = digitally_signed(&[5; 70]);
        assert_eq!(&signed[..4], &[4, 3, 0, 70]);
    }
}
