//! Client public keys: parsing, the canonical forms Rekor stores and indexes,
//! and signature verification.
//!
//! A key arrives as a PEM "PUBLIC KEY" (PKIX SubjectPublicKeyInfo), a PEM
//! "CERTIFICATE" (its key is used), or the DER of either. Accepted key types
//! are the ones upstream Fulcio and Rekor accept: ECDSA P-256/P-384/P-521,
//! Ed25519 and RSA of 2048 to 4096 bits.
//!
//! Every verification runs in aws-lc-rs (Ed25519ph through one aws-lc call).
//! ECDSA signatures may be ASN.1 DER or raw `r || s` of the curve's fixed
//! size (IEEE P1363): sigstore's Go verifiers, which Rekor and Fulcio use,
//! accept both. RSA signatures are PKCS#1 v1.5.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self as sig, ParsedPublicKey, UnparsedPublicKey, VerificationAlgorithm,
};
use base64::Engine;
use x509_parser::asn1_rs::{Any, Class, FromDer as _, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::public_key::PublicKey as ParsedSpkiKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The RSA modulus sizes accepted, in bits (upstream Fulcio's key policy).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 4096;

/// aws-lc refuses public exponents wider than this many bits (DoS protection).
const RSA_MAX_EXPONENT_BITS: u32 = 33;

/// Fulcio's username identity SAN: an otherName holding a UTF8String.
const OID_FULCIO_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";

/// Longest piece of client input echoed back in an error message.
const ECHO_LIMIT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PubKeyError {
    #[error("public key is empty")]
    Empty,
    #[error("public key is neither PEM nor DER: expected a PEM PUBLIC KEY or CERTIFICATE")]
    NotPemOrDer,
    #[error("malformed PEM: {0}")]
    Pem(String),
    #[error("PEM block is a {0}, expected PUBLIC KEY or CERTIFICATE")]
    UnexpectedPemLabel(String),
    #[error("PEM block is a {0}: send the public key or a certificate, never the private key")]
    PrivateKey(String),
    #[error(
        "found more than one PEM block: send a single public key or certificate (certificate chains are not accepted)"
    )]
    MultiplePemBlocks,
    #[error("DER input is neither a SubjectPublicKeyInfo nor an X.509 certificate")]
    UnrecognizedDer,
    #[error("malformed public key (SubjectPublicKeyInfo): {0}")]
    MalformedKey(String),
    #[error("malformed X.509 certificate: {0}")]
    MalformedCertificate(String),
    #[error(
        "unsupported key type {0}: ECDSA P-256, P-384, P-521, Ed25519 and RSA 2048 to 4096 bits are accepted"
    )]
    UnsupportedKeyType(String),
    #[error("unsupported elliptic curve {0}: ECDSA keys must use P-256, P-384 or P-521")]
    UnsupportedCurve(String),
    #[error("RSA key of {0} bits is too weak: 2048 to 4096 bits are accepted")]
    RsaTooWeak(usize),
    #[error("RSA key of {0} bits is an unsupported key size: 2048 to 4096 bits are accepted")]
    RsaTooLarge(usize),
    #[error("RSA public exponent {0} is not accepted: it must be odd, at least 3 and below 2^33")]
    RsaExponent(String),
    #[error("compressed elliptic curve points are not accepted: send the uncompressed public key")]
    CompressedPoint,
    #[error("public key rejected: {0}")]
    InvalidKey(String),
    #[error("a {hash} digest is {expected} bytes long, got {actual}")]
    DigestLength {
        hash: HashAlgorithm,
        expected: usize,
        actual: usize,
    },
    #[error(
        "Ed25519 keys verify a pre-computed digest only as Ed25519ph over SHA-512, not over {0}"
    )]
    Ed25519phHash(HashAlgorithm),
    #[error("signature does not verify against the public key")]
    BadSignature,
}

/// The hash functions a client may sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// The lowercase name used on the wire ("sha256", ...).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// Parses a wire name exactly as spelled ("sha256", "sha384", "sha512").
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha384" => Some(HashAlgorithm::Sha384),
            "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        self.algorithm().output_len()
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.algorithm(), data).as_ref().to_vec()
    }

    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a parsed public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Ed25519,
    /// RSA, with the modulus size in bits.
    Rsa(usize),
}

impl KeyAlgorithm {
    /// Bytes of one ECDSA scalar (half a raw `r || s` signature).
    fn ecdsa_scalar_len(self) -> Option<usize> {
        match self {
            KeyAlgorithm::EcdsaP256 => Some(32),
            KeyAlgorithm::EcdsaP384 => Some(48),
            KeyAlgorithm::EcdsaP521 => Some(66),
            KeyAlgorithm::Ed25519 | KeyAlgorithm::Rsa(_) => None,
        }
    }

    /// The aws-lc-rs algorithm verifying this key type's signatures over `hash`.
    fn verification(self, hash: HashAlgorithm) -> &'static dyn VerificationAlgorithm {
        use HashAlgorithm::{Sha256, Sha384, Sha512};
        match (self, hash) {
            (KeyAlgorithm::EcdsaP256, Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP256, Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
            (KeyAlgorithm::EcdsaP256, Sha512) => &sig::ECDSA_P256_SHA512_ASN1,
            (KeyAlgorithm::EcdsaP384, Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP384, Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
            (KeyAlgorithm::EcdsaP384, Sha512) => &sig::ECDSA_P384_SHA512_ASN1,
            (KeyAlgorithm::EcdsaP521, Sha256) => &sig::ECDSA_P521_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP521, Sha384) => &sig::ECDSA_P521_SHA384_ASN1,
            (KeyAlgorithm::EcdsaP521, Sha512) => &sig::ECDSA_P521_SHA512_ASN1,
            (KeyAlgorithm::Ed25519, _) => &sig::ED25519,
            (KeyAlgorithm::Rsa(_), Sha256) => &sig::RSA_PKCS1_2048_8192_SHA256,
            (KeyAlgorithm::Rsa(_), Sha384) => &sig::RSA_PKCS1_2048_8192_SHA384,
            (KeyAlgorithm::Rsa(_), Sha512) => &sig::RSA_PKCS1_2048_8192_SHA512,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeyAlgorithm::EcdsaP384 => f.write_str("ECDSA P-384"),
            KeyAlgorithm::EcdsaP521 => f.write_str("ECDSA P-521"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::Rsa(bits) => write!(f, "RSA {bits}"),
        }
    }
}

/// Identities named by a certificate's subject alternative names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Identities {
    emails: Vec<String>,
    uris: Vec<String>,
    subjects: Vec<String>,
}

/// A parsed, validated client public key, possibly from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    /// DER SubjectPublicKeyInfo as aws-lc re-encodes it.
    spki: Vec<u8>,
    /// The subjectPublicKey bits: for Ed25519, the 32-byte key Ed25519ph needs.
    raw: Vec<u8>,
    /// DER of the certificate the key came from, if it came from one.
    certificate: Option<Vec<u8>>,
    identities: Identities,
}

impl PublicKey {
    /// Parses a PEM public key or certificate, or the DER of either.
    pub fn parse(input: &[u8]) -> Result<Self, PubKeyError> {
        // DER starts with a SEQUENCE tag, 0x30: the character '0', which
        // starts no PEM text (leading junk aside, which the PEM path skips).
        if input.first() == Some(&0x30) {
            if SubjectPublicKeyInfo::from_der(input).is_ok() {
                return Self::from_spki_der(input);
            }
            if X509Certificate::from_der(input).is_ok() {
                return Self::from_certificate_der(input);
            }
        }
        if input.trim_ascii().is_empty() {
            return Err(PubKeyError::Empty);
        }
        let Some(at) = find(input, b"-----BEGIN ") else {
            return Err(if input.first() == Some(&0x30) {
                PubKeyError::UnrecognizedDer
            } else {
                PubKeyError::NotPemOrDer
            });
        };
        let text = std::str::from_utf8(input.get(at..).unwrap_or_default())
            .map_err(|_| PubKeyError::Pem("the text is not UTF-8".into()))?;
        match decode_pem(text)? {
            PemBlock::PublicKey(der) => Self::from_spki_der(&der),
            PemBlock::Certificate(der) => Self::from_certificate_der(&der),
        }
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, PubKeyError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| PubKeyError::MalformedKey(e.to_string()))?;
        if !rest.is_empty() {
            return Err(PubKeyError::MalformedKey(
                "trailing data after the SubjectPublicKeyInfo".into(),
            ));
        }
        let (algorithm, spki, raw) = check_spki(&spki)?;
        Ok(Self {
            algorithm,
            spki,
            raw,
            certificate: None,
            identities: Identities::default(),
        })
    }

    /// Parses a DER X.509 certificate and takes its public key. The
    /// certificate's validity and issuer are not checked: Rekor doesn't either.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, PubKeyError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| PubKeyError::MalformedCertificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(PubKeyError::MalformedCertificate(
                "trailing data after the certificate".into(),
            ));
        }
        let (algorithm, spki, raw) = check_spki(cert.public_key())?;
        let identities = certificate_identities(&cert)?;
        Ok(Self {
            algorithm,
            spki,
            raw,
            certificate: Some(der.to_vec()),
            identities,
        })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// DER SubjectPublicKeyInfo (also for a key taken from a certificate).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// DER of the certificate the key came from.
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.certificate.as_deref()
    }

    /// The form Rekor stores (its `CanonicalValue`): the PEM "CERTIFICATE" of
    /// the certificate as sent, else the PEM "PUBLIC KEY" of the DER SPKI.
    /// Go's PEM layout: 64-column base64 lines, LF endings, final newline.
    pub fn canonical_pem(&self) -> String {
        match &self.certificate {
            Some(der) => encode_pem("CERTIFICATE", der),
            None => encode_pem("PUBLIC KEY", &self.spki),
        }
    }

    /// Lowercase hex SHA-256 of [`Self::canonical_pem`]: how Rekor files an
    /// entry under its key, and what a search by public key looks up.
    pub fn fingerprint(&self) -> String {
        hex::encode(digest::digest(
            &digest::SHA256,
            self.canonical_pem().as_bytes(),
        ))
    }

    /// The certificate's rfc822Name SANs that look like addresses, lowercased
    /// (Rekor's `EmailAddresses()`). Empty for a bare key.
    pub fn email_addresses(&self) -> &[String] {
        &self.identities.emails
    }

    /// The certificate's URI SANs, as written.
    pub fn uris(&self) -> &[String] {
        &self.identities.uris
    }

    /// Every identity the certificate names, in the order of Rekor's
    /// `Subjects()`: DNS names, emails, IP addresses, URIs, then the Fulcio
    /// username otherName if there is exactly one. Empty for a bare key.
    pub fn subjects(&self) -> &[String] {
        &self.identities.subjects
    }

    /// Verifies `signature` over `message`, hashed with `hash` for ECDSA and
    /// RSA; Ed25519 is pure Ed25519 over the message and ignores `hash`.
    pub fn verify(
        &self,
        hash: HashAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), PubKeyError> {
        let key = UnparsedPublicKey::new(self.algorithm.verification(hash), &self.spki);
        self.check_with(signature, |sig| key.verify(message, sig).is_ok())
    }

    /// Verifies `signature` over a digest computed by the client with `hash`.
    /// Ed25519 keys verify it as Ed25519ph, which exists only over SHA-512.
    pub fn verify_digest(
        &self,
        hash: HashAlgorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), PubKeyError> {
        let length_error = || PubKeyError::DigestLength {
            hash,
            expected: hash.output_len(),
            actual: digest.len(),
        };
        if self.algorithm == KeyAlgorithm::Ed25519 {
            if hash != HashAlgorithm::Sha512 {
                return Err(PubKeyError::Ed25519phHash(hash));
            }
            let digest: &[u8; 64] = digest.try_into().map_err(|_| length_error())?;
            return match (self.raw.as_slice().try_into(), signature.try_into()) {
                (Ok(key), Ok(sig)) if ed25519ph_verify_digest(key, digest, sig) => Ok(()),
                _ => Err(PubKeyError::BadSignature),
            };
        }
        let digest =
            Digest::import_less_safe(digest, hash.algorithm()).map_err(|_| length_error())?;
        let key = UnparsedPublicKey::new(self.algorithm.verification(hash), &self.spki);
        self.check_with(signature, |sig| key.verify_digest(&digest, sig).is_ok())
    }

    /// Runs `verify` on the signature, then, for ECDSA, on its DER form if it
    /// is a raw `r || s`.
    fn check_with(
        &self,
        signature: &[u8],
        verify: impl Fn(&[u8]) -> bool,
    ) -> Result<(), PubKeyError> {
        if verify(signature) {
            return Ok(());
        }
        let fixed = self
            .algorithm
            .ecdsa_scalar_len()
            .and_then(|len| ecdsa_fixed_to_der(signature, len));
        match fixed {
            Some(der) if verify(&der) => Ok(()),
            _ => Err(PubKeyError::BadSignature),
        }
    }
}

/// Verifies an Ed25519ph (RFC 8032 HashEdDSA, empty context) signature over a
/// SHA-512 digest, as Go's `ed25519.VerifyWithOptions` does for sigstore.
fn ed25519ph_verify_digest(public_key: &[u8; 32], digest: &[u8; 64], signature: &[u8; 64]) -> bool {
    let context: [u8; 0] = [];
    // SAFETY: aws-lc reads exactly 64 bytes of `digest`, 64 of `signature`,
    // 32 of `public_key` (each a reference to an array of that size, alive for
    // the call) and `context_len` = 0 bytes of `context`; it keeps no pointer.
    let ok = unsafe {
        aws_lc_sys::ED25519ph_verify_digest(
            digest.as_ptr(),
            signature.as_ptr(),
            public_key.as_ptr(),
            context.as_ptr(),
            0,
        )
    };
    ok == 1
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` of a raw signature of exactly
/// `2 * scalar_len` bytes.
fn ecdsa_fixed_to_der(signature: &[u8], scalar_len: usize) -> Option<Vec<u8>> {
    if signature.len() != 2 * scalar_len {
        return None;
    }
    let (r, s) = signature.split_at(scalar_len);
    let mut body = Vec::with_capacity(signature.len() + 6);
    for scalar in [r, s] {
        let start = scalar.iter().position(|&b| b != 0).unwrap_or(scalar.len());
        let magnitude = scalar.get(start..).unwrap_or_default();
        let pad = magnitude.first().is_none_or(|&b| b & 0x80 != 0);
        body.push(0x02);
        push_der_length(&mut body, magnitude.len() + usize::from(pad));
        if pad {
            body.push(0);
        }
        body.extend_from_slice(magnitude);
    }
    let mut der = vec![0x30];
    push_der_length(&mut der, body.len());
    der.extend(body);
    Some(der)
}

fn push_der_length(out: &mut Vec<u8>, len: usize) {
    // Lengths here never exceed 2 * 67 + 4 bytes, so one length byte suffices.
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x81);
        out.push(len as u8);
    }
}

/// Classifies and validates a SubjectPublicKeyInfo. Returns the key type,
/// the SPKI re-encoded by aws-lc, and the raw key bytes.
fn check_spki(
    spki: &SubjectPublicKeyInfo<'_>,
) -> Result<(KeyAlgorithm, Vec<u8>, Vec<u8>), PubKeyError> {
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
    let parsed = ParsedPublicKey::new(algorithm.verification(HashAlgorithm::Sha256), spki.raw)
        .map_err(|e| PubKeyError::InvalidKey(e.to_string()))?;
    let der = parsed
        .as_der()
        .map_err(|_| PubKeyError::InvalidKey("the key cannot be re-encoded".into()))?;
    Ok((algorithm, der.as_ref().to_vec(), key_bytes.to_vec()))
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

/// The identities Rekor reads from a certificate's SANs (sigstore's
/// `GetSubjectAlternateNames` and Rekor's `EmailAddresses`).
fn certificate_identities(cert: &X509Certificate<'_>) -> Result<Identities, PubKeyError> {
    let san = cert.subject_alternative_name().map_err(|e| {
        PubKeyError::MalformedCertificate(format!("subject alternative names: {e}"))
    })?;
    let names: &[GeneralName<'_>] = match &san {
        Some(ext) => &ext.value.general_names,
        None => &[],
    };
    let mut dns = Vec::new();
    let mut emails = Vec::new();
    let mut ips = Vec::new();
    let mut uris = Vec::new();
    let mut other_names = Vec::new();
    let mut other_names_ok = true;
    for name in names {
        match name {
            GeneralName::DNSName(s) => dns.push(s.to_string()),
            GeneralName::RFC822Name(s) => emails.push(s.to_string()),
            GeneralName::IPAddress(bytes) => ips.extend(ip_string(bytes)),
            GeneralName::URI(s) => uris.push(s.to_string()),
            // Like sigstore, one otherName of another type or form spoils them all.
            GeneralName::OtherName(oid, value) => match fulcio_username(oid, value) {
                Some(username) => other_names.push(username),
                None => other_names_ok = false,
            },
            _ => {}
        }
    }
    let valid_emails = emails
        .iter()
        .filter(|e| looks_like_email(e))
        .map(|e| e.to_lowercase())
        .collect();
    let mut subjects = dns;
    subjects.extend(emails);
    subjects.extend(ips);
    subjects.extend(uris.iter().cloned());
    if other_names_ok && other_names.len() == 1 {
        subjects.extend(other_names);
    }
    Ok(Identities {
        emails: valid_emails,
        uris,
        subjects,
    })
}

/// The UTF8String of a Fulcio username otherName (`[0] EXPLICIT UTF8String`).
fn fulcio_username(oid: &x509_parser::asn1_rs::Oid<'_>, value: &[u8]) -> Option<String> {
    if oid.to_id_string() != OID_FULCIO_USERNAME {
        return None;
    }
    let (_, explicit) = Any::from_der(value).ok()?;
    if explicit.class() != Class::ContextSpecific || explicit.tag() != Tag(0) {
        return None;
    }
    let (_, inner) = Any::from_der(explicit.data).ok()?;
    inner.as_str().ok().map(str::to_string)
}

/// An IP address SAN as Go prints it (IPv4-mapped IPv6 addresses as IPv4).
fn ip_string(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(Ipv4Addr::from(v4).to_string());
    }
    let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    })
}

/// A plain `local@domain` check standing in for Go's govalidator.IsEmail.
fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The PEM blocks a client key may come in.
enum PemBlock {
    PublicKey(Vec<u8>),
    Certificate(Vec<u8>),
}

/// Decodes the PEM block `text` starts with, refusing a second block or
/// trailing data. Lenient like Go's `pem.Decode` about line lengths and
/// line endings.
fn decode_pem(text: &str) -> Result<PemBlock, PubKeyError> {
    let after_begin = text.strip_prefix("-----BEGIN ").unwrap_or(text);
    let (label, rest) = after_begin
        .split_once("-----")
        .ok_or_else(|| PubKeyError::Pem("unterminated BEGIN line".into()))?;
    if label.is_empty() || label.contains(['\n', '\r']) {
        return Err(PubKeyError::Pem("unterminated BEGIN line".into()));
    }
    let end_line = format!("-----END {label}-----");
    let (body, trailing) = rest
        .split_once(&end_line)
        .ok_or_else(|| PubKeyError::Pem(format!("no END line for {}", echo(label))))?;
    if trailing.contains("-----BEGIN ") {
        return Err(PubKeyError::MultiplePemBlocks);
    }
    if !trailing.trim().is_empty() {
        return Err(PubKeyError::Pem(
            "unexpected data after the END line".into(),
        ));
    }
    // Refuse anything else, private keys above all, before decoding it.
    let block: fn(Vec<u8>) -> PemBlock = match label {
        "PUBLIC KEY" => PemBlock::PublicKey,
        "CERTIFICATE" => PemBlock::Certificate,
        other => return Err(label_error(other)),
    };
    if body.contains(':') {
        return Err(PubKeyError::Pem("PEM headers are not accepted".into()));
    }
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| PubKeyError::Pem(format!("invalid base64: {e}")))?;
    Ok(block(der))
}

fn label_error(label: &str) -> PubKeyError {
    if label.contains("PRIVATE KEY") {
        PubKeyError::PrivateKey(echo(label))
    } else {
        PubKeyError::UnexpectedPemLabel(echo(label))
    }
}

/// Client text for an error message, cut short.
fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text.to_string(),
    }
}

/// PEM as Go's `pem.Encode` writes it.
fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    // base64 output is ASCII, so 64-byte chunks are whole lines of text.
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair};

    use super::*;

    fn ecdsa(alg: &'static EcdsaSigningAlgorithm) -> EcdsaKeyPair {
        EcdsaKeyPair::generate(alg).unwrap()
    }

    fn spki_of(
        key: &impl KeyPair<PublicKey: AsDer<aws_lc_rs::encoding::PublicKeyX509Der<'static>>>,
    ) -> Vec<u8> {
        key.public_key().as_der().unwrap().as_ref().to_vec()
    }

    /// RSA generation is slow in debug builds: one key per size, shared.
    fn rsa(size: KeySize) -> &'static sig::RsaKeyPair {
        static KEYS: OnceLock<[sig::RsaKeyPair; 3]> = OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            [KeySize::Rsa2048, KeySize::Rsa3072, KeySize::Rsa4096]
                .map(|size| sig::RsaKeyPair::generate(size).unwrap())
        });
        match size {
            KeySize::Rsa2048 => &keys[0],
            KeySize::Rsa3072 => &keys[1],
            _ => &keys[2],
        }
    }

    fn pem(label: &str, der: &[u8]) -> String {
        encode_pem(label, der)
    }

    /// A DER TLV with a definite length.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
        let mut bits = vec![0];
        bits.extend_from_slice(key);
        tlv(0x30, &[tlv(0x30, algorithm), tlv(0x03, &bits)].concat())
    }

    const OID_RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

    /// An RSA SPKI with a modulus of exactly `bits` bits (not a real key:
    /// size checks come before any arithmetic).
    fn rsa_spki(bits: usize, exponent: &[u8]) -> Vec<u8> {
        let mut modulus = vec![0xffu8; bits.div_ceil(8)];
        modulus[0] = 0xff >> (bits.div_ceil(8) * 8 - bits);
        if modulus[0] & 0x80 != 0 {
            modulus.insert(0, 0);
        }
        let key = tlv(0x30, &[tlv(0x02, &modulus), tlv(0x02, exponent)].concat());
        spki(&[OID_RSA, &[0x05, 0x00]].concat(), &key)
    }

    #[test]
    fn every_accepted_key_type_parses_and_verifies() {
        let rng = SystemRandom::new();
        let message = b"an artifact";
        let ecdsa_cases = [
            (
                &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                KeyAlgorithm::EcdsaP256,
                HashAlgorithm::Sha256,
            ),
            (
                &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                KeyAlgorithm::EcdsaP384,
                HashAlgorithm::Sha384,
            ),
            (
                &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
                KeyAlgorithm::EcdsaP521,
                HashAlgorithm::Sha512,
            ),
            (
                &sig::ECDSA_P521_SHA256_ASN1_SIGNING,
                KeyAlgorithm::EcdsaP521,
                HashAlgorithm::Sha256,
            ),
        ];
        for (signing, algorithm, hash) in ecdsa_cases {
            let pair = ecdsa(signing);
            let key = PublicKey::parse(pem("PUBLIC KEY", &spki_of(&pair)).as_bytes()).unwrap();
            assert_eq!(key.algorithm(), algorithm);
            let signature = pair.sign(&rng, message).unwrap();
            key.verify(hash, message, signature.as_ref()).unwrap();
            key.verify_digest(hash, &hash.digest(message), signature.as_ref())
                .unwrap();
            assert_eq!(
                key.verify(hash, b"another artifact", signature.as_ref()),
                Err(PubKeyError::BadSignature)
            );
        }

        let pair = Ed25519KeyPair::generate().unwrap();
        let key = PublicKey::parse(&spki_of(&pair)).unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
        let signature = pair.sign(message);
        key.verify(HashAlgorithm::Sha256, message, signature.as_ref())
            .unwrap();
        assert_eq!(
            key.verify(HashAlgorithm::Sha256, b"x", signature.as_ref()),
            Err(PubKeyError::BadSignature)
        );

        for (size, bits) in [
            (KeySize::Rsa2048, 2048),
            (KeySize::Rsa3072, 3072),
            (KeySize::Rsa4096, 4096),
        ] {
            let pair = rsa(size);
            let key = PublicKey::parse(pem("PUBLIC KEY", &spki_of(pair)).as_bytes()).unwrap();
            assert_eq!(key.algorithm(), KeyAlgorithm::Rsa(bits));
            for (encoding, hash) in [
                (&sig::RSA_PKCS1_SHA256, HashAlgorithm::Sha256),
                (&sig::RSA_PKCS1_SHA512, HashAlgorithm::Sha512),
            ] {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(encoding, &rng, message, &mut signature).unwrap();
                key.verify(hash, message, &signature).unwrap();
                key.verify_digest(hash, &hash.digest(message), &signature)
                    .unwrap();
                signature[10] ^= 1;
                assert_eq!(
                    key.verify_digest(hash, &hash.digest(message), &signature),
                    Err(PubKeyError::BadSignature)
                );
            }
        }
    }

    #[test]
    fn ecdsa_signatures_may_be_raw_r_s() {
        let rng = SystemRandom::new();
        for (fixed, algorithm) in [
            (
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
            ),
            (
                &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
                &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
            ),
            (
                &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
                &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
            ),
        ] {
            let pkcs8 = ecdsa(algorithm).to_pkcs8v1().unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(fixed, pkcs8.as_ref()).unwrap();
            let key = PublicKey::parse(&spki_of(&pair)).unwrap();
            let hash = match key.algorithm() {
                KeyAlgorithm::EcdsaP256 => HashAlgorithm::Sha256,
                KeyAlgorithm::EcdsaP384 => HashAlgorithm::Sha384,
                _ => HashAlgorithm::Sha512,
            };
            let signature = pair.sign(&rng, b"token subject").unwrap();
            key.verify(hash, b"token subject", signature.as_ref())
                .unwrap();
            let truncated = &signature.as_ref()[1..];
            assert_eq!(
                key.verify(hash, b"token subject", truncated),
                Err(PubKeyError::BadSignature)
            );
        }
    }

    /// Ed25519 SPKI around a raw 32-byte key.
    fn ed25519_spki(raw: &[u8]) -> Vec<u8> {
        spki(&[0x06, 0x03, 0x2b, 0x65, 0x70], raw)
    }

    #[test]
    fn ed25519ph_matches_rfc8032_test_vector() {
        // RFC 8032 section 7.3, "TEST abc".
        let public =
            hex::decode("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
                .unwrap();
        let signature = hex::decode(
            "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
             31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
        )
        .unwrap();
        let key = PublicKey::parse(&ed25519_spki(&public)).unwrap();
        let digest = HashAlgorithm::Sha512.digest(b"abc");
        key.verify_digest(HashAlgorithm::Sha512, &digest, &signature)
            .unwrap();
        let other = HashAlgorithm::Sha512.digest(b"abd");
        assert_eq!(
            key.verify_digest(HashAlgorithm::Sha512, &other, &signature),
            Err(PubKeyError::BadSignature)
        );
        // Pure Ed25519 over the message is a different signature scheme.
        assert_eq!(
            key.verify(HashAlgorithm::Sha512, b"abc", &signature),
            Err(PubKeyError::BadSignature)
        );
        assert_eq!(
            key.verify_digest(HashAlgorithm::Sha256, &digest[..32], &signature),
            Err(PubKeyError::Ed25519phHash(HashAlgorithm::Sha256))
        );
        assert_eq!(
            key.verify_digest(HashAlgorithm::Sha512, &digest[..32], &signature),
            Err(PubKeyError::DigestLength {
                hash: HashAlgorithm::Sha512,
                expected: 64,
                actual: 32
            })
        );
        assert_eq!(
            key.verify_digest(HashAlgorithm::Sha512, &digest, &signature[..63]),
            Err(PubKeyError::BadSignature)
        );
    }

    #[test]
    fn canonical_pem_and_fingerprint_follow_rekor() {
        let pair = ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING);
        let der = spki_of(&pair);
        let canonical = pem("PUBLIC KEY", &der);
        // Go's layout: 64-column lines, LF, final newline.
        let lines: Vec<&str> = canonical.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert!(canonical.ends_with("\n-----END PUBLIC KEY-----\n"));

        // CRLF, other line widths, surrounding blanks and DER all canonicalize alike.
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let (head, tail) = b64.split_at(10);
        let sloppy = format!(
            "\r\n  -----BEGIN PUBLIC KEY-----\r\n{head}\r\n{tail}\r\n-----END PUBLIC KEY-----\r\n\r\n"
        );
        for input in [canonical.as_bytes(), sloppy.as_bytes(), &der] {
            let key = PublicKey::parse(input).unwrap();
            assert_eq!(key.canonical_pem(), canonical);
            assert_eq!(key.spki_der(), der.as_slice());
            assert_eq!(
                key.fingerprint(),
                hex::encode(HashAlgorithm::Sha256.digest(canonical.as_bytes()))
            );
            assert!(key.subjects().is_empty());
        }
    }

    #[test]
    fn certificates_give_their_key_and_identities() {
        use rcgen::{CertificateParams, OtherNameValue, SanType};
        let pair = ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING);
        let signer = rcgen::KeyPair::try_from(pair.to_pkcs8v1().unwrap().as_ref()).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![
            SanType::URI(
                "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main"
                    .try_into()
                    .unwrap(),
            ),
            SanType::Rfc822Name("Alice@Example.COM".try_into().unwrap()),
            SanType::DnsName("build.example.com".try_into().unwrap()),
            SanType::IpAddress("10.0.0.1".parse().unwrap()),
            SanType::IpAddress("2001:db8::1".parse().unwrap()),
            SanType::OtherName((
                vec![1, 3, 6, 1, 4, 1, 57264, 1, 7],
                OtherNameValue::Utf8String("alice!example".into()),
            )),
        ];
        let cert = params.self_signed(&signer).unwrap();
        let key = PublicKey::parse(cert.pem().as_bytes()).unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
        assert_eq!(key.spki_der(), spki_of(&pair).as_slice());
        assert_eq!(key.certificate_der(), Some(cert.der().as_ref()));
        assert_eq!(key.canonical_pem(), pem("CERTIFICATE", cert.der()));
        assert_eq!(key.email_addresses(), ["alice@example.com"]);
        assert_eq!(
            key.uris(),
            ["https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main"]
        );
        assert_eq!(
            key.subjects(),
            [
                "build.example.com",
                "Alice@Example.COM",
                "10.0.0.1",
                "2001:db8::1",
                "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main",
                "alice!example",
            ]
        );
        let der_key = PublicKey::parse(cert.der()).unwrap();
        assert_eq!(der_key, key);

        let signature = pair
            .sign(&SystemRandom::new(), b"alice@example.com")
            .unwrap();
        key.verify(
            HashAlgorithm::Sha256,
            b"alice@example.com",
            signature.as_ref(),
        )
        .unwrap();
    }

    fn parse_err(input: &[u8]) -> String {
        PublicKey::parse(input).unwrap_err().to_string()
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        assert_eq!(
            parse_err(pem("PUBLIC KEY", &rsa_spki(1024, &[1, 0, 1])).as_bytes()),
            "RSA key of 1024 bits is too weak: 2048 to 4096 bits are accepted"
        );
        assert_eq!(
            parse_err(&rsa_spki(2047, &[1, 0, 1])),
            "RSA key of 2047 bits is too weak: 2048 to 4096 bits are accepted"
        );
        assert_eq!(
            parse_err(&rsa_spki(8192, &[1, 0, 1])),
            "RSA key of 8192 bits is an unsupported key size: 2048 to 4096 bits are accepted"
        );
        for (exponent, shown) in [
            (&[1, 0, 0][..], "65536"),
            (&[1], "1"),
            (&[2, 0, 0, 0, 0, 1], "2199023255553"),
            (&[1; 9], "of 65 bits"),
        ] {
            assert_eq!(
                parse_err(&rsa_spki(2048, exponent)),
                format!(
                    "RSA public exponent {shown} is not accepted: it must be odd, at least 3 and below 2^33"
                )
            );
        }
        assert_eq!(
            parse_err(
                b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
            ),
            "PEM block is a CERTIFICATE REQUEST, expected PUBLIC KEY or CERTIFICATE"
        );
        assert_eq!(
            parse_err(b"-----BEGIN EC PRIVATE KEY-----\nMIIB\n-----END EC PRIVATE KEY-----\n"),
            "PEM block is a EC PRIVATE KEY: send the public key or a certificate, never the private key"
        );
        let one = pem(
            "PUBLIC KEY",
            &spki_of(&ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING)),
        );
        assert_eq!(
            parse_err(format!("{one}{one}").as_bytes()),
            PubKeyError::MultiplePemBlocks.to_string()
        );
        assert_eq!(parse_err(b"  \n"), "public key is empty");
        assert_eq!(
            parse_err(b"ssh-ed25519 AAAA"),
            PubKeyError::NotPemOrDer.to_string()
        );
        assert_eq!(
            parse_err(&[0x30, 0x03, 0x02, 0x01, 0x00]),
            PubKeyError::UnrecognizedDer.to_string()
        );
        assert!(
            parse_err(b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n")
                .starts_with("malformed PEM: invalid base64")
        );
        assert_eq!(
            parse_err(b"-----BEGIN PUBLIC KEY-----\nAAAA\n"),
            "malformed PEM: no END line for PUBLIC KEY"
        );

        let secp256k1 = spki(
            &[OID_EC, &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]].concat(),
            &[4; 65],
        );
        assert_eq!(
            parse_err(&secp256k1),
            "unsupported elliptic curve secp256k1: ECDSA keys must use P-256, P-384 or P-521"
        );
        let compressed = spki(&[OID_EC, OID_P256].concat(), &[2; 33]);
        assert_eq!(
            parse_err(&compressed),
            PubKeyError::CompressedPoint.to_string()
        );
        let off_curve = spki(&[OID_EC, OID_P256].concat(), &[4; 65]);
        assert!(parse_err(&off_curve).starts_with("public key rejected: "));
        let ed448 = spki(&[0x06, 0x03, 0x2b, 0x65, 0x71], &[7; 57]);
        assert_eq!(
            parse_err(&ed448),
            "unsupported key type Ed448: ECDSA P-256, P-384, P-521, Ed25519 and RSA 2048 to 4096 bits are accepted"
        );
    }

    #[test]
    fn never_panics_on_mangled_input() {
        let pair = ecdsa(&sig::ECDSA_P384_SHA384_ASN1_SIGNING);
        let der = spki_of(&pair);
        let text = pem("PUBLIC KEY", &der);
        for cut in 0..der.len() {
            let _ = PublicKey::parse(&der[..cut]);
            let mut flipped = der.clone();
            flipped[cut] ^= 0x41;
            let _ = PublicKey::parse(&flipped);
        }
        for cut in 0..text.len() {
            let _ = PublicKey::parse(&text.as_bytes()[..cut]);
        }
        let key = PublicKey::parse(&der).unwrap();
        for len in [0, 1, 2, 95, 96, 97, 200] {
            let junk = vec![0x30; len];
            let _ = key.verify(HashAlgorithm::Sha384, b"m", &junk);
            let _ = key.verify_digest(HashAlgorithm::Sha384, &[0; 48], &junk);
        }
        assert!(ecdsa_fixed_to_der(&[0; 64], 32).is_some());
        assert!(
            key.verify_digest(HashAlgorithm::Sha384, &[0; 48], &[0; 96])
                .is_err()
        );
    }
}
