//! The log's TLS signatures as the CT log, the CA and the monitor all read or
//! write them: the SignedCertificateTimestamp (its TLS encoding, embedded in
//! certificates, and its JSON encoding, the add-chain answer), the
//! `DigitallySigned` wrapping and the tree-head signature input.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// `DigitallySigned` algorithm bytes: hash sha256 (4), signature ecdsa (3).
pub const SHA256_ECDSA: [u8; 2] = [4, 3];

/// The answer to add-chain and add-pre-chain (RFC 6962 §4.1): the SCT's
/// fields, `id` and `signature` base64, `extensions` base64 (always empty here).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AddChainResponse {
    pub sct_version: u8,
    pub id: String,
    pub timestamp: u64,
    pub extensions: String,
    pub signature: String,
}

/// A SignedCertificateTimestamp (RFC 6962 §3.2, v1) in its TLS encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    tls: Vec<u8>,
    timestamp_ms: u64,
}

/// Bytes of an SCT v1 before its `Digitally_signed`: version, log id,
/// timestamp, empty extensions.
const SCT_HEADER: usize = 1 + 32 + 8 + 2;

impl Sct {
    /// Encodes an SCT v1 without extensions from its parts;
    /// `digitally_signed` is the TLS DigitallySigned (hash, signature
    /// algorithm, u16 length, signature).
    pub fn new(log_id: &[u8; 32], timestamp_ms: u64, digitally_signed: &[u8]) -> Self {
        let mut tls = Vec::with_capacity(SCT_HEADER + digitally_signed.len());
        tls.push(0);
        tls.extend_from_slice(log_id);
        tls.extend_from_slice(&timestamp_ms.to_be_bytes());
        tls.extend_from_slice(&0u16.to_be_bytes());
        tls.extend_from_slice(digitally_signed);
        Self { tls, timestamp_ms }
    }

    pub fn tls_bytes(&self) -> &[u8] {
        &self.tls
    }

    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The JSON encoding: the add-chain answer carrying this SCT.
    pub fn to_add_chain_response(&self) -> AddChainResponse {
        AddChainResponse {
            sct_version: 0,
            id: STANDARD.encode(&self.tls[1..33]),
            timestamp: self.timestamp_ms,
            extensions: String::new(),
            signature: STANDARD.encode(&self.tls[SCT_HEADER..]),
        }
    }
}

/// `DigitallySigned` around an ASN.1 ECDSA signature with SHA-256.
pub fn digitally_signed(signature: &[u8]) -> Vec<u8> {
    let mut out = SHA256_ECDSA.to_vec();
    // An ECDSA P-256 signature is < 80 bytes.
    out.extend_from_slice(&(signature.len() as u16).to_be_bytes());
    out.extend_from_slice(signature);
    out
}

/// The parts of a `DigitallySigned`: its two algorithm bytes (hash,
/// signature) and the signature; `None` if the length prefix does not match.
pub fn parse_digitally_signed(bytes: &[u8]) -> Option<([u8; 2], &[u8])> {
    match bytes {
        [hash, algorithm, high, low, signature @ ..]
            if usize::from(u16::from_be_bytes([*high, *low])) == signature.len() =>
        {
            Some(([*hash, *algorithm], signature))
        }
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_head_input_layout() {
        let input = tree_head_input(2, 3, &[9; 32]);
        let mut expected = vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3];
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(input, expected);
    }

    #[test]
    fn digitally_signed_round_trip() {
        let signed = digitally_signed(&[5; 70]);
        assert_eq!(&signed[..4], &[4, 3, 0, 70]);
        assert_eq!(
            parse_digitally_signed(&signed),
            Some((SHA256_ECDSA, &[5u8; 70][..]))
        );
        assert_eq!(parse_digitally_signed(&signed[..signed.len() - 1]), None);
    }

    #[test]
    fn sct_encodings() {
        let signed = digitally_signed(&[5; 3]);
        let sct = Sct::new(&[7; 32], 0x0102, &signed);
        let mut tls = vec![0];
        tls.extend_from_slice(&[7; 32]);
        tls.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2, 0, 0]);
        tls.extend_from_slice(&signed);
        assert_eq!(sct.tls_bytes(), tls);
        assert_eq!(sct.timestamp_ms(), 0x0102);
        let json = sct.to_add_chain_response();
        assert_eq!(json.sct_version, 0);
        assert_eq!(STANDARD.decode(&json.id).unwrap(), vec![7; 32]);
        assert_eq!(json.timestamp, 0x0102);
        assert_eq!(json.extensions, "");
        assert_eq!(STANDARD.decode(&json.signature).unwrap(), signed);
    }
}
