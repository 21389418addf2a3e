//! hashedrekord 0.0.2: a signature over a digest, checked as rekor-tiles
//! checks it, and the canonical body the log stores.
//!
//! `keyDetails` says the key type and the hash: the verifier's key must be
//! of that type and the digest of that hash's length; the signature is then
//! verified over the digest (prehashed: Ed25519 keys sign as Ed25519ph).
//! Pure Ed25519 (`PKIX_ED25519`) cannot sign a digest and is refused, as
//! upstream does since v2.3.
//!
//! The canonical body is the RFC 8785 form of rekor-tiles' protobuf JSON
//! `Entry`: `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":
//! {"data":{"algorithm","digest"},"signature":{"content","verifier"}}}}`, bytes
//! re-encoded as standard base64. The verifier is kept as sent (the key or
//! certificate DER exactly), so clients that rebuild the body from their
//! bundle find the same leaf.

use atesto_common::error::echo;
use atesto_common::pubkey::{HashAlgorithm, KeyAlgorithm, PublicKey};
use atesto_tlog_engine::submission::Submission;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::EntryError;
use crate::request::{self, Bytes, RawBytes};

pub const KIND: &str = "hashedrekord";
pub const API_VERSION: &str = "0.0.2";

/// A signing algorithm a hashedrekord 0.0.2 entry may name (upstream's
/// default set of client algorithms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDetails {
    pub name: &'static str,
    pub key: KeyAlgorithm,
    pub hash: HashAlgorithm,
}

const KEY_DETAILS: [KeyDetails; 7] = [
    KeyDetails {
        name: "PKIX_ECDSA_P256_SHA_256",
        key: KeyAlgorithm::EcdsaP256,
        hash: HashAlgorithm::Sha256,
    },
    KeyDetails {
        name: "PKIX_ECDSA_P384_SHA_384",
        key: KeyAlgorithm::EcdsaP384,
        hash: HashAlgorithm::Sha384,
    },
    KeyDetails {
        name: "PKIX_ECDSA_P521_SHA_512",
        key: KeyAlgorithm::EcdsaP521,
        hash: HashAlgorithm::Sha512,
    },
    KeyDetails {
        name: "PKIX_ED25519_PH",
        key: KeyAlgorithm::Ed25519,
        hash: HashAlgorithm::Sha512,
    },
    KeyDetails {
        name: "PKIX_RSA_PKCS1V15_2048_SHA256",
        key: KeyAlgorithm::Rsa(2048),
        hash: HashAlgorithm::Sha256,
    },
    KeyDetails {
        name: "PKIX_RSA_PKCS1V15_3072_SHA256",
        key: KeyAlgorithm::Rsa(3072),
        hash: HashAlgorithm::Sha256,
    },
    KeyDetails {
        name: "PKIX_RSA_PKCS1V15_4096_SHA256",
        key: KeyAlgorithm::Rsa(4096),
        hash: HashAlgorithm::Sha256,
    },
];

impl KeyDetails {
    pub fn from_name(name: &str) -> Option<Self> {
        KEY_DETAILS.into_iter().find(|details| details.name == name)
    }

    /// The `HashOutput.algorithm` name of the hash (protobuf-specs' HashAlgorithm).
    pub fn hash_name(&self) -> &'static str {
        match self.hash {
            HashAlgorithm::Sha256 => "SHA2_256",
            HashAlgorithm::Sha384 => "SHA2_384",
            HashAlgorithm::Sha512 => "SHA2_512",
        }
    }
}

/// A verified entry: its canonical body, the leaf of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedEntry {
    pub body: Vec<u8>,
}

impl PreparedEntry {
    /// What the engine integrates: the body is the leaf, and duplicates are
    /// found by it alone. The log has no search index.
    pub fn into_submission(self) -> Submission {
        Submission {
            leaf: self.body,
            extra: Vec::new(),
            index_keys: Vec::new(),
            dedup_key: None,
        }
    }
}

fn decode(bytes: Option<&Bytes>, field: &'static str) -> Result<Vec<u8>, EntryError> {
    let bytes = bytes.ok_or(EntryError::Missing(field))?;
    let decoded = bytes.decode().ok_or(EntryError::Base64(field))?;
    if decoded.is_empty() {
        return Err(EntryError::Missing(field));
    }
    Ok(decoded)
}

fn raw_bytes(raw: &RawBytes, field: &'static str) -> Result<Vec<u8>, EntryError> {
    decode(raw.raw_bytes.as_ref(), field)
}

/// Parses a CreateEntryRequest, validates it and verifies its signature;
/// returns the canonical body to store. CPU-bound.
pub fn prepare(request_body: &[u8]) -> Result<PreparedEntry, EntryError> {
    let request = request::parse(request_body).map_err(EntryError::Malformed)?;
    let hashed = match (request.hashed_rekord, request.dsse) {
        (_, Some(_)) => return Err(EntryError::Dsse),
        (None, None) => return Err(EntryError::NoEntry),
        (Some(hashed), None) => hashed,
    };
    let digest = decode(hashed.digest.as_ref(), "digest")?;
    let signature = hashed.signature.ok_or(EntryError::Missing("signature"))?;
    let content = decode(signature.content.as_ref(), "signature.content")?;
    let verifier = signature
        .verifier
        .ok_or(EntryError::Missing("signature.verifier"))?;
    let details_name = verifier
        .key_details
        .as_deref()
        .ok_or(EntryError::Missing("signature.verifier.keyDetails"))?;
    let details = KeyDetails::from_name(details_name)
        .ok_or_else(|| EntryError::KeyDetails(echo(details_name)))?;

    let (key, verifier) = match (&verifier.public_key, &verifier.x509_certificate) {
        (Some(public_key), None) => {
            let field = "signature.verifier.publicKey.rawBytes";
            let der = raw_bytes(public_key, field)?;
            let key = PublicKey::from_spki_der(&der)
                .map_err(|source| EntryError::Key { field, source })?;
            (key, Verifier::PublicKey(der))
        }
        (None, Some(certificate)) => {
            let field = "signature.verifier.x509Certificate.rawBytes";
            let der = raw_bytes(certificate, field)?;
            let key = PublicKey::from_certificate_der(&der)
                .map_err(|source| EntryError::Key { field, source })?;
            (key, Verifier::Certificate(der))
        }
        _ => return Err(EntryError::VerifierChoice),
    };
    if key.algorithm() != details.key {
        return Err(EntryError::KeyMismatch {
            details: details.name,
            expected: details.key,
            actual: key.algorithm(),
        });
    }
    if digest.len() != details.hash.output_len() {
        return Err(EntryError::DigestLength {
            details: details.name,
            hash: details.hash,
            expected: details.hash.output_len(),
            actual: digest.len(),
        });
    }
    if !key.signature_encoding_ok(&content) {
        return Err(EntryError::EcdsaNotDer);
    }
    key.verify_digest(details.hash, &digest, &content)
        .map_err(EntryError::Signature)?;

    let body = canonical_body(&details, &digest, &content, &verifier);
    // Entry bundles (C2SP tlog-tiles) prefix each entry with a 16-bit length.
    if body.len() > usize::from(u16::MAX) {
        return Err(EntryError::TooLarge(body.len()));
    }
    Ok(PreparedEntry { body })
}

/// The key a signature names: stored as sent.
enum Verifier {
    PublicKey(Vec<u8>),
    Certificate(Vec<u8>),
}

/// The entry's RFC 8785 form, written directly: every member name is fixed
/// and written in RFC 8785's order (by UTF-16 code units), and every value
/// is a fixed name or standard base64, none of which JSON escapes. (Building
/// a `serde_json::Value` and canonicalizing it cost more CPU per entry than
/// everything but the signature check.)
fn canonical_body(
    details: &KeyDetails,
    digest: &[u8],
    content: &[u8],
    verifier: &Verifier,
) -> Vec<u8> {
    let (key_member, der) = match verifier {
        Verifier::PublicKey(der) => ("publicKey", der),
        Verifier::Certificate(der) => ("x509Certificate", der),
    };
    let base64_len = |bytes: &[u8]| bytes.len().div_ceil(3) * 4;
    let mut body =
        String::with_capacity(256 + base64_len(digest) + base64_len(content) + base64_len(der));
    body.push_str(r#"{"apiVersion":""#);
    body.push_str(API_VERSION);
    body.push_str(r#"","kind":""#);
    body.push_str(KIND);
    body.push_str(r#"","spec":{"hashedRekordV002":{"data":{"algorithm":""#);
    body.push_str(details.hash_name());
    body.push_str(r#"","digest":""#);
    STANDARD.encode_string(digest, &mut body);
    body.push_str(r#""},"signature":{"content":""#);
    STANDARD.encode_string(content, &mut body);
    body.push_str(r#"","verifier":{"keyDetails":""#);
    body.push_str(details.name);
    body.push_str(r#"",""#);
    body.push_str(key_member);
    body.push_str(r#"":{"rawBytes":""#);
    STANDARD.encode_string(der, &mut body);
    body.push_str(r#""}}}}}}"#);
    body.into_bytes()
}

#[cfg(test)]
mod tests;
