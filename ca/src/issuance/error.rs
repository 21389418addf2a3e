//! Why a CA chain or key could not be loaded or a certificate not issued.

#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} already exists: refusing to overwrite it")]
    Exists { path: String },
    #[error("CA chain file {path}: {reason}")]
    ChainPem { path: String, reason: String },
    #[error("CA chain certificate chain[{index}] (0 = issuing CA): {problem}")]
    Chain { index: usize, problem: String },
    #[error("CA key file {path}: {reason}")]
    KeyPem { path: String, reason: String },
    #[error("CA key file {path}: cannot decrypt it: wrong password or damaged file")]
    KeyDecrypt { path: String },
    #[error("environment variable {0} is not set or empty")]
    MissingSecret(String),
    #[error("the CA key is not ECDSA P-256 or P-384")]
    UnsupportedCaKey,
    #[error("signer configuration: {0}")]
    Config(String),
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    #[error(
        "the CA key does not match the issuing CA certificate (chain[0]): a test certificate's signature does not verify under the certificate's public key"
    )]
    KeyDoesNotMatchCertificate,
    #[error(
        "issued certificates would not name the issuing CA exactly: the issuer Name written ({written}) differs from the CA certificate's subject bytes ({expected}); re-issue the CA certificate with one attribute per RDN and no repeated attribute types"
    )]
    IssuerNameMismatch { written: String, expected: String },
    #[error("self-check certificate: {0}")]
    SelfCheck(String),
    #[error("identity cannot go into a certificate: {0}")]
    InvalidIdentity(String),
    #[error("the subject public key is not usable: {0}")]
    InvalidSubjectKey(String),
    #[error("signing the certificate: {0}")]
    Signing(rcgen::Error),
    #[error("encoding: {0}")]
    Encoding(String),
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
}
