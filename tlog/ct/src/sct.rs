//! The log's TLS signatures: SignedCertificateTimestamps and tree heads, each
//! a `DigitallySigned` (hash sha256 = 4, signature ecdsa = 3) by the log key.

use atesto_common::ct::TimestampedEntry;
use atesto_common::ct::sct::{digitally_signed, tree_head_input};
use atesto_tlog_engine::checkpoint::{LogKeys, SignError};

/// The SCT's `signature` over an entry (RFC 6962 §3.2): the signature input is
/// the MerkleTreeLeaf's bytes (see leaf.rs).
pub fn sign_sct(keys: &LogKeys, entry: &TimestampedEntry) -> Result<Vec<u8>, SignError> {
    sign_sct_input(keys, &entry.merkle_tree_leaf())
}

/// The SCT's `signature` for a stored leaf (a resubmitted entry).
pub fn sign_sct_input(keys: &LogKeys, leaf: &[u8]) -> Result<Vec<u8>, SignError> {
    Ok(digitally_signed(&keys.sign("an SCT", leaf)?))
}

/// The STH's `tree_head_signature` (RFC 6962 §3.5).
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
