//! Certificate Transparency structures that the CT log, the CA and the
//! monitor compute alike: the RFC 6962 signed entry (the SCT signature input
//! and the MerkleTreeLeaf), the precertificate's TBSCertificate without
//! poison, and (in `sct.rs`) the SCT and tree-head signature encodings.
//!
//! For v1 the MerkleTreeLeaf (version 0, leaf_type timestamped_entry 0) and
//! the SCT signature input (version 0, signature_type certificate_timestamp 0)
//! are the same bytes: both are two zero bytes, then the timestamped entry.

pub mod sct;

pub use sct::{AddChainResponse, Sct, tree_head_input};

use x509_cert::der::asn1::{Any, ObjectIdentifier};
use x509_cert::der::{Decode, Encode, Tag, TagNumber, Tagged};
use x509_cert::ext::Extension;

/// The CT poison extension (RFC 6962 §3.1).
pub const POISON: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.3");

/// Largest TLS `opaque<..2^24-1>`: certificates and chains must fit.
pub const MAX_U24: usize = (1 << 24) - 1;

/// What a leaf logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedEntry {
    /// x509_entry (0): the certificate's DER.
    X509(Vec<u8>),
    /// precert_entry (1): SHA-256 of the issuer's DER SPKI and the
    /// TBSCertificate without the poison extension.
    Precert {
        issuer_key_hash: [u8; 32],
        tbs: Vec<u8>,
    },
}

/// A SignedEntry with the timestamp (ms) the log gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampedEntry {
    pub timestamp: u64,
    pub entry: SignedEntry,
}

impl TimestampedEntry {
    /// The MerkleTreeLeaf: also exactly the input an SCT signs.
    pub fn merkle_tree_leaf(&self) -> Vec<u8> {
        let mut out = vec![0, 0];
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        match &self.entry {
            SignedEntry::X509(cert) => {
                out.extend_from_slice(&0u16.to_be_bytes());
                push_u24_opaque(&mut out, cert);
            }
            SignedEntry::Precert {
                issuer_key_hash,
                tbs,
            } => {
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(issuer_key_hash);
                push_u24_opaque(&mut out, tbs);
            }
        }
        // CtExtensions: empty.
        out.extend_from_slice(&0u16.to_be_bytes());
        out
    }

    /// The entry without its timestamp: the same certificate submitted twice
    /// has this in common, so duplicates are found by it.
    pub fn identity(&self) -> Vec<u8> {
        let leaf = self.merkle_tree_leaf();
        leaf.get(10..).unwrap_or_default().to_vec()
    }
}

/// `opaque<0..2^24-1>`: a u24 length, then the bytes. Callers keep inputs
/// within `MAX_U24` (chain.rs refuses larger certificates and chains).
pub fn push_u24_opaque(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(bytes);
}

/// A DER TBSCertificate without the poison extension: every other field and
/// extension keeps its bytes; the extensions field goes if the poison was its
/// only member.
pub fn tbs_without_poison(tbs: &[u8]) -> Result<Vec<u8>, String> {
    let extensions_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(3),
    };
    let fields = Vec::<Any>::from_der(tbs).map_err(|e| e.to_string())?;
    let mut kept = Vec::with_capacity(fields.len());
    for field in fields {
        if field.tag() != extensions_tag {
            kept.push(field);
            continue;
        }
        let mut remaining = Vec::new();
        for raw in Vec::<Any>::from_der(field.value()).map_err(|e| e.to_string())? {
            let extension = raw.decode_as::<Extension>().map_err(|e| e.to_string())?;
            if extension.extn_id != POISON {
                remaining.push(raw);
            }
        }
        if !remaining.is_empty() {
            let value = remaining.to_der().map_err(|e| e.to_string())?;
            kept.push(Any::new(extensions_tag, value).map_err(|e| e.to_string())?);
        }
    }
    kept.to_der().map_err(|e| e.to_string())
}
