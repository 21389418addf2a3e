//! Why a proposed entry or a search query was refused.

use atesto_common::pubkey::PubKeyError;

use super::limits;

/// Why a proposed entry or a search query was refused. Every variant is the
/// client's doing (HTTP 400); the Display text is the message it is shown.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("request body is not valid JSON: {0}")]
    NotJson(String),
    #[error(
        "unsupported kind {0:?}: this log accepts hashedrekord, dsse, intoto, rekord and helm entries"
    )]
    UnsupportedKind(String),
    #[error("unsupported apiVersion {version:?} for kind {kind}: only 0.0.1 is accepted")]
    UnsupportedApiVersion { kind: &'static str, version: String },
    #[error("missing required field {0}")]
    MissingField(String),
    #[error("field {field} must be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("field {field} is not valid base64: {reason}")]
    Base64 { field: String, reason: String },
    #[error("{field}: {source}")]
    Key {
        field: String,
        #[source]
        source: PubKeyError,
    },
    #[error("unsupported hash algorithm {0:?}: expected sha256, sha384 or sha512")]
    HashAlgorithm(String),
    #[error("{field} has {actual} characters but a {algorithm} digest is {expected} hex digits")]
    HashLength {
        field: &'static str,
        algorithm: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("{0} is not a hexadecimal string")]
    HashHex(&'static str),
    #[error("spec.proposedContent.envelope is not a valid DSSE envelope: {0}")]
    Envelope(String),
    #[error("spec.content.envelope is not a valid DSSE envelope: {0}")]
    IntotoEnvelope(String),
    #[error("no signature of the DSSE envelope verifies with spec.publicKey")]
    EnvelopeNotVerified,
    #[error(
        "spec.signature.format {0:?} is not supported: this log verifies x509 (PEM or DER keys and certificates) rekord entries only"
    )]
    RekordFormat(String),
    #[error("spec.data.hash.value {sent} is not the SHA-256 of spec.data.content ({computed})")]
    RekordHashMismatch { sent: String, computed: String },
    #[error(
        "spec.envelopeHash, spec.payloadHash and spec.signatures are computed by the log: send only spec.proposedContent"
    )]
    DsseComputedFields,
    #[error("the DSSE envelope has {0} signatures: at most {max} are accepted", max = limits::MAX_SIGNATURES)]
    TooManySignatures(usize),
    #[error("{0} verifiers were sent: at most {max} are accepted", max = limits::MAX_VERIFIERS)]
    TooManyVerifiers(usize),
    #[error(
        "{signatures} signatures and {verifiers} verifiers make {pairs} signature checks: at most {max} are accepted per entry",
        pairs = .signatures * .verifiers,
        max = limits::MAX_SIGNATURE_CHECKS
    )]
    TooManySignatureChecks { signatures: usize, verifiers: usize },
    #[error(
        "{0} is not an ASN.1 DER ECDSA signature: like Rekor, this log accepts ECDSA signatures only DER-encoded (not raw r || s)"
    )]
    EcdsaNotDer(String),
    #[error("spec.proposedContent.verifiers[{0}] verifies none of the envelope's signatures")]
    UnusedVerifier(usize),
    #[error("envelope signatures[{0}] is not verified by any of spec.proposedContent.verifiers")]
    UnverifiedSignature(usize),
    #[error(
        "the search query is empty: give at least one of hash, email, publicKey, subject or keyFingerprint"
    )]
    EmptyQuery,
    #[error("unsupported operator {0:?}: expected \"and\" or \"or\"")]
    Operator(String),
    #[error(
        "hash {0:?} is not a digest: expected hex of a sha1, sha256, sha384 or sha512 digest, optionally prefixed with \"<algorithm>:\""
    )]
    QueryHash(String),
    #[error(
        "keyFingerprint {0:?} is not a key fingerprint: expected the hex SHA-256 of a DER SubjectPublicKeyInfo, optionally prefixed with \"sha256:\""
    )]
    QueryFingerprint(String),
    #[error("email {0:?} is not an email address")]
    QueryEmail(String),
    #[error("publicKey.format {0:?} is not supported: only x509 (PEM keys and certificates) is")]
    KeyFormat(String),
    #[error("publicKey.url is not supported: send the key inline in publicKey.content")]
    KeyUrl,
    #[error("the entry could not be encoded as canonical JSON: {0}")]
    Encoding(String),
    #[error(transparent)]
    Helm(#[from] HelmError),
}

const KEY_FIELD: &str = "spec.publicKey.content";
const PROVENANCE_FIELD: &str = "spec.chart.provenance.content";

/// Why a helm entry was refused; shown to the client as is.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("{KEY_FIELD} is not an OpenPGP public key: {0}")]
    Key(String),
    #[error("{KEY_FIELD} holds no OpenPGP public key")]
    NoKey,
    #[error("{PROVENANCE_FIELD} is not a PGP clearsigned provenance file: {0}")]
    Provenance(String),
    #[error(
        "{PROVENANCE_FIELD} lists no chart digest: expected a `files:` map of `<chart>.tgz: sha256:<hex>` after the `...` line"
    )]
    NoChartDigest,
    #[error("{PROVENANCE_FIELD}: the chart digest {0:?} is not sha256:<64 hex digits>")]
    ChartDigest(String),
    #[error("the provenance signature does not verify with {KEY_FIELD}")]
    Signature,
    #[error(
        "spec.chart.provenance.signature is computed by the log: send spec.chart.provenance.content"
    )]
    SignatureOnly,
}
