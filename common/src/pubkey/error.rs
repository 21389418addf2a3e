//! Why a client key or signature was refused, in words a client can act on.

use super::algorithm::HashAlgorithm;

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

/// Client text for an error message, cut short.
pub(super) fn echo(text: &str) -> String {
    crate::error::echo_at_most(text, ECHO_LIMIT)
}
