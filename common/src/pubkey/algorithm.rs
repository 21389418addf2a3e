//! The hash functions a client may sign with and the key types accepted.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::signature as sig;
use aws_lc_rs::signature::VerificationAlgorithm;

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

    pub(super) fn algorithm(self) -> &'static digest::Algorithm {
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
    /// The hash this key type signs with by default (and the only one its
    /// hashedrekord 0.0.2 key details allow): keys are parsed for it once.
    pub(super) fn usual_hash(self) -> HashAlgorithm {
        match self {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Rsa(_) => HashAlgorithm::Sha256,
            KeyAlgorithm::EcdsaP384 => HashAlgorithm::Sha384,
            KeyAlgorithm::EcdsaP521 | KeyAlgorithm::Ed25519 => HashAlgorithm::Sha512,
        }
    }

    /// Bytes of one ECDSA scalar (half a raw `r || s` signature).
    pub(super) fn ecdsa_scalar_len(self) -> Option<usize> {
        match self {
            KeyAlgorithm::EcdsaP256 => Some(32),
            KeyAlgorithm::EcdsaP384 => Some(48),
            KeyAlgorithm::EcdsaP521 => Some(66),
            KeyAlgorithm::Ed25519 | KeyAlgorithm::Rsa(_) => None,
        }
    }

    /// The aws-lc-rs algorithm verifying this key type's signatures over `hash`.
    pub(super) fn verification(self, hash: HashAlgorithm) -> &'static dyn VerificationAlgorithm {
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
