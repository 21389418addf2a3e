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
//!
//! `algorithm.rs` the hash and key types, `spki.rs` the key policy,
//! `pem_block.rs` the PEM forms, `identities.rs` a certificate's identities,
//! `signature.rs` the signature forms aws-lc-rs does not take directly,
//! `error.rs` the refusals.

mod algorithm;
mod error;
mod identities;
mod pem_block;
mod signature;
mod spki;

pub use algorithm::{HashAlgorithm, KeyAlgorithm};
pub use error::PubKeyError;

use aws_lc_rs::digest;
use aws_lc_rs::digest::Digest;
use aws_lc_rs::signature::{ParsedPublicKey, UnparsedPublicKey};
use x509_parser::asn1_rs::FromDer as _;
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::SubjectPublicKeyInfo;

use self::identities::{Identities, certificate_identities};
use self::pem_block::{PemBlock, decode_pem, encode_pem, find};
use self::signature::{ecdsa_fixed_to_der, ed25519ph_verify_digest, is_der_ecdsa_signature};
use self::spki::{CheckedKey, check_spki};

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
    /// The key as aws-lc parsed it when it was checked.
    parsed: ParsedKey,
}

/// A key parsed by aws-lc for its type's usual hash: a verification with
/// that hash (every hashedrekord 0.0.2 entry's) parses nothing again.
#[derive(Debug, Clone)]
struct ParsedKey(ParsedPublicKey);

/// The parsed key is `spki` in another form, and `spki` is compared beside it.
impl PartialEq for ParsedKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ParsedKey {}

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
        let checked = check_spki(&spki)?;
        Ok(Self::checked(checked, None, Identities::default()))
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
        let checked = check_spki(cert.public_key())?;
        let identities = certificate_identities(&cert)?;
        Ok(Self::checked(checked, Some(der.to_vec()), identities))
    }

    fn checked(key: CheckedKey, certificate: Option<Vec<u8>>, identities: Identities) -> Self {
        Self {
            algorithm: key.algorithm,
            spki: key.spki,
            raw: key.raw,
            certificate,
            identities,
            parsed: ParsedKey(key.parsed),
        }
    }

    /// The parsed key if it was parsed for `hash` (Ed25519 has no hash).
    fn parsed_for(&self, hash: HashAlgorithm) -> Option<&ParsedPublicKey> {
        (self.algorithm == KeyAlgorithm::Ed25519 || hash == self.algorithm.usual_hash())
            .then_some(&self.parsed.0)
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

    /// Whether this key may check `signature` at all when the log must take
    /// only what Rekor's verifiers take: ECDSA signatures must be ASN.1 DER
    /// (Go's `ecdsa.VerifyASN1`). Raw `r || s` is refused, so one signature
    /// has one encoding in a log. High-S DER signatures verify, as in Go,
    /// and are a distinct entry there too.
    pub fn signature_encoding_ok(&self, signature: &[u8]) -> bool {
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
                is_der_ecdsa_signature(signature)
            }
            KeyAlgorithm::Ed25519 | KeyAlgorithm::Rsa(_) => true,
        }
    }

    /// The subjectPublicKey bits: the 32-byte key of an Ed25519 key, the
    /// SEC1 point of an ECDSA key, the RSAPublicKey DER of an RSA key.
    pub fn raw_key(&self) -> &[u8] {
        &self.raw
    }

    /// Verifies `signature` over `message`, hashed with `hash` for ECDSA and
    /// RSA; Ed25519 is pure Ed25519 over the message and ignores `hash`.
    pub fn verify(
        &self,
        hash: HashAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), PubKeyError> {
        if let Some(key) = self.parsed_for(hash) {
            return self.check_with(signature, |sig| key.verify_sig(message, sig).is_ok());
        }
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
        if let Some(key) = self.parsed_for(hash) {
            return self.check_with(signature, |sig| key.verify_digest_sig(&digest, sig).is_ok());
        }
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

#[cfg(test)]
mod tests;
