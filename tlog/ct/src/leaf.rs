//! The stored side of an entry: the timestamp of a MerkleTreeLeaf and the
//! `extra_data` kept beside it. The leaf itself (also the SCT signature
//! input) is `atesto_common::ct::TimestampedEntry`, which the CA shares.

use atesto_common::ct::push_u24_opaque;

/// The timestamp of a stored MerkleTreeLeaf.
pub fn leaf_timestamp(leaf: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(leaf.get(2..10)?.try_into().ok()?))
}

/// `ASN.1Cert chain<0..2^24-1>`: each certificate u24-prefixed, the whole u24-prefixed.
fn cert_list(certs: &[Vec<u8>]) -> Vec<u8> {
    let mut list = Vec::new();
    for cert in certs {
        push_u24_opaque(&mut list, cert);
    }
    let mut out = Vec::with_capacity(list.len() + 3);
    push_u24_opaque(&mut out, &list);
    out
}

/// `extra_data` of an x509 entry: the chain after the leaf.
pub fn x509_extra_data(issuers: &[Vec<u8>]) -> Vec<u8> {
    cert_list(issuers)
}

/// `extra_data` of a precert entry: PrecertChainEntry, the whole precertificate
/// then the chain after it.
pub fn precert_extra_data(precert: &[u8], issuers: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    push_u24_opaque(&mut out, precert);
    out.extend_from_slice(&cert_list(issuers));
    out
}

#[cfg(test)]
mod tests {
    use atesto_common::ct::{SignedEntry, TimestampedEntry};

    use super::*;

    #[test]
    fn precert_leaf_is_the_rfc6962_layout() {
        let entry = TimestampedEntry {
            timestamp: 0x0102_0304_0506_0708,
            entry: SignedEntry::Precert {
                issuer_key_hash: [0xaa; 32],
                tbs: vec![0x30, 0x01, 0x00],
            },
        };
        // Built by hand from RFC 6962 §3.2 / §3.4.
        let mut expected = vec![0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x01];
        expected.extend_from_slice(&[0xaa; 32]);
        expected.extend_from_slice(&[0x00, 0x00, 0x03, 0x30, 0x01, 0x00, 0x00, 0x00]);
        assert_eq!(entry.merkle_tree_leaf(), expected);
        assert_eq!(leaf_timestamp(&expected), Some(0x0102_0304_0506_0708));
        assert_eq!(entry.identity(), expected[10..].to_vec());
    }

    #[test]
    fn x509_leaf_and_extra_data() {
        let entry = TimestampedEntry {
            timestamp: 1,
            entry: SignedEntry::X509(vec![7; 300]),
        };
        let leaf = entry.merkle_tree_leaf();
        assert_eq!(&leaf[..14], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(leaf[14], 0x2c);
        assert_eq!(leaf.len(), 2 + 8 + 2 + 3 + 300 + 2);

        let extra = x509_extra_data(&[vec![1, 2], vec![3]]);
        assert_eq!(extra, vec![0, 0, 9, 0, 0, 2, 1, 2, 0, 0, 1, 3]);
        let pre = precert_extra_data(&[9], &[]);
        assert_eq!(pre, vec![0, 0, 1, 9, 0, 0, 0]);
    }
}
