//! Why a proposed entry was refused: every variant is the client's doing
//! (HTTP 400), and its Display text is the message the client is shown.

use atesto_common::pubkey::{HashAlgorithm, KeyAlgorithm, PubKeyError};

#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("the request is not a CreateEntryRequest: {0}")]
    Malformed(String),
    #[error(
        "dsseRequestV002 is not accepted: Rekor v2 logs DSSE envelopes as hashedRekordRequestV002 \
         over the envelope's PAE (rekor-tiles v2.3 removed the dsse type); upgrade the client"
    )]
    Dsse,
    #[error("missing hashedRekordRequestV002: the only entry type of this log")]
    NoEntry,
    #[error("missing required field {0}")]
    Missing(&'static str),
    #[error("{0} is not valid base64")]
    Base64(&'static str),
    #[error("give exactly one of verifier.publicKey and verifier.x509Certificate")]
    VerifierChoice,
    #[error(
        "unsupported keyDetails {0:?}: expected PKIX_ECDSA_P256_SHA_256, PKIX_ECDSA_P384_SHA_384, \
         PKIX_ECDSA_P521_SHA_512, PKIX_ED25519_PH or PKIX_RSA_PKCS1V15_{{2048,3072,4096}}_SHA256"
    )]
    KeyDetails(String),
    #[error("keyDetails {details} names a {expected} key, but the verifier holds a {actual} key")]
    KeyMismatch {
        details: &'static str,
        expected: KeyAlgorithm,
        actual: KeyAlgorithm,
    },
    #[error(
        "digest is {actual} bytes, but keyDetails {details} signs a {hash} digest of {expected} bytes"
    )]
    DigestLength {
        details: &'static str,
        hash: HashAlgorithm,
        expected: usize,
        actual: usize,
    },
    #[error("{field}: {source}")]
    Key {
        field: &'static str,
        #[source]
        source: PubKeyError,
    },
    #[error(
        "signature.content is not an ASN.1 DER ECDSA signature: like Rekor, this log accepts ECDSA signatures only DER-encoded (not raw r || s)"
    )]
    EcdsaNotDer,
    #[error("signature.content does not verify over digest with the verifier's key: {0}")]
    Signature(PubKeyError),
    #[error("the canonical entry is {0} bytes; entries are limited to {max} bytes", max = u16::MAX)]
    TooLarge(usize),
}
