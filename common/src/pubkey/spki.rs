//! Classifying and validating a SubjectPublicKeyInfo against the key policy.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::ParsedPublicKey;
use x509_parser::public_key::PublicKey as ParsedSpkiKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::algorithm::KeyAlgorithm;
use super::error::PubKeyError;

/// The RSA modulus sizes accepted, in bits (upstream Fulcio's key policy).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 4096;

/// aws-lc refuses public exponents wider than this many bits (DoS protection).
const RSA_MAX_EXPONENT_BITS: u32 = 33;

/// A checked key: its type, the SPKI re-encoded by aws-lc, the raw key
/// bytes, and the key as aws-lc parsed it for the type's usual hash.
pub(super) struct CheckedKey {
    pub algorithm: KeyAlgorithm,
    pub spki: Vec<u8>,
    pub raw: Vec<u8>,
    pub parsed: ParsedPublicKey,
}

/// Classifies and validates a SubjectPublicKeyInfo.
pub(super) fn check_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<CheckedKey, PubKeyError> {
    let oid = spki.algorithm.algorithm.to_id_string();
    let key_bytes: &[u8] = &spki.subject_public_key.data;
    let algorithm = match oid.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string())
                .ok_or_else(|| {
                    PubKeyError::MalformedKey("ECDSA key without a named curve".into())
                })?;
            let (algorithm, coordinate_len) = match curve.as_str() {
                "1.2.840.10045.3.1.7" => (KeyAlgorithm::EcdsaP256, 32),
                "1.3.132.0.34" => (KeyAlgorithm::EcdsaP384, 48),
                "1.3.132.0.35" => (KeyAlgorithm::EcdsaP521, 66),
                other => return Err(PubKeyError::UnsupportedCurve(curve_name(other))),
            };
            match key_bytes.first() {
                Some(0x04) if key_bytes.len() == 1 + 2 * coordinate_len => {}
                Some(0x02 | 0x03) => return Err(PubKeyError::CompressedPoint),
                _ => {
                    return Err(PubKeyError::InvalidKey(format!(
                        "the {algorithm} point has the wrong encoding or length"
                    )));
                }
            }
            algorithm
        }
        "1.3.101.112" => {
            if key_bytes.len() != 32 {
                return Err(PubKeyError::InvalidKey(format!(
                    "an Ed25519 key is 32 bytes, got {}",
                    key_bytes.len()
                )));
            }
            KeyAlgorithm::Ed25519
        }
        "1.2.840.113549.1.1.1" => check_rsa(spki)?,
        other => return Err(PubKeyError::UnsupportedKeyType(key_type_name(other))),
    };
    // aws-lc validates the key (point on the curve, RSA parameters) and
    // re-encodes it, as Rekor re-marshals keys with Go's x509 package.
    let parsed = ParsedPublicKey::new(algorithm.verification(algorithm.usual_hash()), spki.raw)
        .map_err(|e| PubKeyError::InvalidKey(e.to_string()))?;
    let der = parsed
        .as_der()
        .map_err(|_| PubKeyError::InvalidKey("the key cannot be re-encoded".into()))?;
    Ok(CheckedKey {
        algorithm,
        spki: der.as_ref().to_vec(),
        raw: key_bytes.to_vec(),
        parsed,
    })
}

fn check_rsa(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyAlgorithm, PubKeyError> {
    let rsa = match spki.parsed() {
        Ok(ParsedSpkiKey::RSA(rsa)) => rsa,
        _ => return Err(PubKeyError::MalformedKey("invalid RSAPublicKey".into())),
    };
    if rsa.modulus.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(PubKeyError::InvalidKey(
            "the RSA modulus is negative".into(),
        ));
    }
    let bits = bit_length(rsa.modulus);
    if bits < RSA_MIN_BITS {
        return Err(PubKeyError::RsaTooWeak(bits));
    }
    if bits > RSA_MAX_BITS {
        return Err(PubKeyError::RsaTooLarge(bits));
    }
    // The limits aws-lc enforces on a public exponent, checked here so the
    // client learns which value was refused.
    let exponent = rsa.exponent;
    let exponent_ok = exponent.first().is_none_or(|b| b & 0x80 == 0)
        && bit_length(exponent) <= RSA_MAX_EXPONENT_BITS as usize
        && bit_length(exponent) >= 2
        && exponent.last().is_some_and(|b| b & 1 == 1);
    if !exponent_ok {
        let shown = match exponent.first() {
            Some(b) if b & 0x80 != 0 => "(negative)".to_string(),
            _ if exponent.len() <= 8 => {
                let mut buf = [0u8; 8];
                let start = 8usize.saturating_sub(exponent.len());
                if let Some(tail) = buf.get_mut(start..) {
                    tail.copy_from_slice(exponent);
                }
                u64::from_be_bytes(buf).to_string()
            }
            _ => format!("of {} bits", bit_length(exponent)),
        };
        return Err(PubKeyError::RsaExponent(shown));
    }
    Ok(KeyAlgorithm::Rsa(bits))
}

/// Bits of a big-endian unsigned integer, ignoring leading zeros.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        Some(first) => {
            let top = bytes.get(first).copied().unwrap_or(0);
            (bytes.len() - first) * 8 - top.leading_zeros() as usize
        }
        None => 0,
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.3.132.0.10" => "secp256k1".into(),
        "1.2.840.10045.3.1.1" => "P-192".into(),
        "1.3.132.0.33" => "P-224".into(),
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1".into(),
        other => format!("with OID {other}"),
    }
}

fn key_type_name(oid: &str) -> String {
    match oid {
        "1.2.840.10040.4.1" => "DSA".into(),
        "1.2.840.113549.1.1.10" => "RSA-PSS (RSASSA-PSS key)".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.3.101.110" => "X25519".into(),
        "1.3.101.111" => "X448".into(),
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44".into(),
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65".into(),
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87".into(),
        other => format!("with algorithm OID {other}"),
    }
}
