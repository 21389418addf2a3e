//! The entry types of the log, as Rekor v1 clients propose them.
//!
//! `prepare` takes the body of `POST /api/v1/log/entries` (a ProposedEntry
//! `{"kind","apiVersion","spec"}`), validates it, verifies every signature and
//! returns the canonical body to store: RFC 8785 JSON with exactly the fields
//! Rekor's `Canonicalize` keeps, so clients that rebuild the body find the
//! same bytes. Unknown fields are ignored, as Rekor's decoders do.
//!
//! - `hashedrekord`: a signature over an artifact digest (kind hashedrekord 0.0.1).
//! - `dsse`: a DSSE envelope and the keys that verify it (kind dsse 0.0.1).
//! - `intoto`: a DSSE envelope and the one key that verifies it (kind intoto
//!   0.0.1, what cosign 2.x `attest` uploads).
//! - `rekord`: a signature over an artifact sent whole (kind rekord 0.0.1,
//!   rekor-cli's default type), x509 keys only.
//! - `helm`: a Helm chart's PGP-signed provenance and its key (kind helm 0.0.1).
//! - `index`: search-index keys and `/api/v1/index/retrieve` queries.

mod dsse;
mod hashedrekord;
mod helm;
pub mod index;
mod intoto;
mod rekord;
#[cfg(test)]
mod testkit;

use atesto_common::pubkey::{KeyAlgorithm, PubKeyError, PublicKey};
use atesto_tlog_engine::submission::Submission;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

/// The apiVersion of every kind this log accepts (Rekor's for new
/// hashedrekord, dsse, rekord entries; intoto 0.0.1 is what cosign 2.x sends).
const API_VERSION: &str = "0.0.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    HashedRekord,
    Dsse,
    Intoto,
    Rekord,
    Helm,
}

impl EntryKind {
    /// The `kind` string of the wire format.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::HashedRekord => "hashedrekord",
            EntryKind::Dsse => "dsse",
            EntryKind::Intoto => "intoto",
            EntryKind::Rekord => "rekord",
            EntryKind::Helm => "helm",
        }
    }
}

/// A validated entry, ready for the sequencer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedEntry {
    pub kind: EntryKind,
    /// RFC 8785 canonical JSON of the body to store (kind, apiVersion, spec with exactly the schema's fields)
    pub body: Vec<u8>,
    /// search index keys, see index.rs
    pub index_keys: Vec<String>,
}

impl PreparedEntry {
    /// What the engine integrates: the canonical body is the leaf, and
    /// duplicates are found by it alone.
    pub fn into_submission(self) -> Submission {
        Submission {
            leaf: self.body,
            extra: Vec::new(),
            index_keys: self.index_keys,
            dedup_key: None,
        }
    }
}

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
    #[error("the DSSE envelope has {0} signatures: at most {max} are accepted", max = dsse::MAX_SIGNATURES)]
    TooManySignatures(usize),
    #[error("{0} verifiers were sent: at most {max} are accepted", max = dsse::MAX_VERIFIERS)]
    TooManyVerifiers(usize),
    #[error(
        "{signatures} signatures and {verifiers} verifiers make {pairs} signature checks: at most {max} are accepted per entry",
        pairs = .signatures * .verifiers,
        max = dsse::MAX_SIGNATURE_CHECKS
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
    #[error("the search query is empty: give at least one of hash, email, publicKey or subject")]
    EmptyQuery,
    #[error("unsupported operator {0:?}: expected \"and\" or \"or\"")]
    Operator(String),
    #[error(
        "hash {0:?} is not a digest: expected hex of a sha1, sha256, sha384 or sha512 digest, optionally prefixed with \"<algorithm>:\""
    )]
    QueryHash(String),
    #[error("email {0:?} is not an email address")]
    QueryEmail(String),
    #[error("publicKey.format {0:?} is not supported: only x509 (PEM keys and certificates) is")]
    KeyFormat(String),
    #[error("publicKey.url is not supported: send the key inline in publicKey.content")]
    KeyUrl,
    #[error("the entry could not be encoded as canonical JSON: {0}")]
    Encoding(String),
    #[error(transparent)]
    Helm(#[from] helm::HelmError),
}

/// Parses a POST /api/v1/log/entries request body (a ProposedEntry JSON), validates it,
/// verifies every signature, and returns the canonical body to store.
pub fn prepare(request_body: &[u8]) -> Result<PreparedEntry, EntryError> {
    let value: Value =
        serde_json::from_slice(request_body).map_err(|e| EntryError::NotJson(e.to_string()))?;
    let entry = Fields::root(&value)?;
    let kind = entry.string("kind")?;
    type PrepareSpec = fn(&Fields<'_>) -> Result<(Value, Vec<String>), EntryError>;
    let (kind, prepare_spec): (EntryKind, PrepareSpec) = match kind {
        "hashedrekord" => (EntryKind::HashedRekord, hashedrekord::prepare),
        "dsse" => (EntryKind::Dsse, dsse::prepare),
        "intoto" => (EntryKind::Intoto, intoto::prepare),
        "rekord" => (EntryKind::Rekord, rekord::prepare),
        "helm" => (EntryKind::Helm, helm::prepare),
        other => return Err(EntryError::UnsupportedKind(echo(other))),
    };
    let version = entry.string("apiVersion")?;
    if version != API_VERSION {
        return Err(EntryError::UnsupportedApiVersion {
            kind: kind.as_str(),
            version: echo(version),
        });
    }
    let spec = entry.object("spec")?;
    let (spec, index_keys) = prepare_spec(&spec)?;
    let body = serde_json::json!({
        "apiVersion": API_VERSION,
        "kind": kind.as_str(),
        "spec": spec,
    });
    let body =
        serde_json_canonicalizer::to_vec(&body).map_err(|e| EntryError::Encoding(e.to_string()))?;
    Ok(PreparedEntry {
        kind,
        body,
        index_keys: dedup(index_keys),
    })
}

/// Removes repeated keys, keeping the first of each.
fn dedup(keys: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|key| seen.insert(key.clone()))
        .collect()
}

/// A JSON object being read, with its dotted path for error messages.
/// A null member counts as missing, as in Rekor's decoders.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn root(value: &'a Value) -> Result<Self, EntryError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: String::new(),
            }),
            _ => Err(EntryError::WrongType {
                field: "(the request body)".into(),
                expected: "a JSON object",
            }),
        }
    }

    /// The dotted path of member `name`.
    fn path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn require(&self, name: &str) -> Result<&'a Value, EntryError> {
        self.get(name)
            .ok_or_else(|| EntryError::MissingField(self.path(name)))
    }

    fn object(&self, name: &str) -> Result<Fields<'a>, EntryError> {
        let path = self.path(name);
        match self.require(name)? {
            Value::Object(map) => Ok(Fields { map, path }),
            _ => Err(EntryError::WrongType {
                field: path,
                expected: "an object",
            }),
        }
    }

    fn string(&self, name: &str) -> Result<&'a str, EntryError> {
        self.opt_string(name)?
            .ok_or_else(|| EntryError::MissingField(self.path(name)))
    }

    fn opt_string(&self, name: &str) -> Result<Option<&'a str>, EntryError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(EntryError::WrongType {
                field: self.path(name),
                expected: "a string",
            }),
        }
    }

    fn array(&self, name: &str) -> Result<&'a [Value], EntryError> {
        match self.require(name)? {
            Value::Array(items) => Ok(items),
            _ => Err(EntryError::WrongType {
                field: self.path(name),
                expected: "an array",
            }),
        }
    }

    /// A non-empty base64 string member, decoded.
    fn base64(&self, name: &str) -> Result<Vec<u8>, EntryError> {
        let path = self.path(name);
        let text = self.string(name)?;
        if text.is_empty() {
            return Err(EntryError::MissingField(path));
        }
        decode_base64(text, &path)
    }
}

/// Go's `StdEncoding` and `URLEncoding` decoders: padding required, stray
/// bits in the last character tolerated.
const GO_STD: GeneralPurpose = go_engine(&base64::alphabet::STANDARD);
const GO_URL: GeneralPurpose = go_engine(&base64::alphabet::URL_SAFE);

const fn go_engine(alphabet: &base64::alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    )
}

/// Decodes base64 with `engine`, skipping line breaks as Go does.
fn go_decode(engine: &GeneralPurpose, text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.contains(['\r', '\n']) {
        let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        engine.decode(compact)
    } else {
        engine.decode(text)
    }
}

/// Decodes the standard base64 of `field`.
fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, EntryError> {
    go_decode(&GO_STD, text).map_err(|e| EntryError::Base64 {
        field: field.to_string(),
        reason: e.to_string(),
    })
}

fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Parses the key or certificate in `bytes`, naming `field` on failure.
fn parse_key(bytes: &[u8], field: &str) -> Result<PublicKey, EntryError> {
    PublicKey::parse(bytes).map_err(|source| EntryError::Key {
        field: field.to_string(),
        source,
    })
}

/// Whether `key` may check `signature` at all: ECDSA signatures must be
/// ASN.1 DER, as Rekor's verifier (Go's `ecdsa.VerifyASN1`) requires. Raw
/// `r || s` is refused, so one signature has one encoding in the log. High-S
/// DER signatures verify, as in Go, and are a distinct entry there too.
fn signature_encoding_ok(key: &PublicKey, signature: &[u8]) -> bool {
    match key.algorithm() {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
            is_der_ecdsa_signature(signature)
        }
        KeyAlgorithm::Ed25519 | KeyAlgorithm::Rsa(_) => true,
    }
}

/// `SEQUENCE { INTEGER r, INTEGER s }` in DER: definite minimal lengths,
/// positive minimal integers, nothing after.
fn is_der_ecdsa_signature(der: &[u8]) -> bool {
    /// Splits one DER length off `bytes`: short form, or `0x81` then a byte >= 0x80.
    fn length(bytes: &[u8]) -> Option<(usize, &[u8])> {
        match bytes {
            [short, rest @ ..] if *short < 0x80 => Some((usize::from(*short), rest)),
            [0x81, long, rest @ ..] if *long >= 0x80 => Some((usize::from(*long), rest)),
            _ => None,
        }
    }
    fn integer(bytes: &[u8]) -> Option<&[u8]> {
        let [0x02, rest @ ..] = bytes else {
            return None;
        };
        let (len, rest) = length(rest)?;
        let (value, rest) = (rest.get(..len)?, rest.get(len..)?);
        let minimal_positive = match value {
            [] => false,
            [0x00] => true,
            [0x00, next, ..] => *next >= 0x80,
            [first, ..] => *first < 0x80,
        };
        minimal_positive.then_some(rest)
    }
    let [0x30, rest @ ..] = der else {
        return false;
    };
    let Some((len, content)) = length(rest) else {
        return false;
    };
    content.len() == len
        && integer(content)
            .and_then(integer)
            .is_some_and(<[u8]>::is_empty)
}

/// Client text for an error message, cut short.
fn echo(text: &str) -> String {
    const LIMIT: usize = 80;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(body: &str) -> String {
        prepare(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn dispatch_rejections_say_what_is_wrong() {
        assert!(error("{").starts_with("request body is not valid JSON: "));
        assert_eq!(
            error("[]"),
            "field (the request body) must be a JSON object"
        );
        assert_eq!(error("{}"), "missing required field kind");
        assert_eq!(
            error(r#"{"kind":"jar","apiVersion":"0.0.1","spec":{}}"#),
            "unsupported kind \"jar\": this log accepts hashedrekord, dsse, intoto, rekord and helm entries"
        );
        assert_eq!(
            error(r#"{"kind":"hashedrekord","apiVersion":"0.0.2","spec":{}}"#),
            "unsupported apiVersion \"0.0.2\" for kind hashedrekord: only 0.0.1 is accepted"
        );
        assert_eq!(
            error(r#"{"kind":"dsse","apiVersion":1,"spec":{}}"#),
            "field apiVersion must be a string"
        );
        assert_eq!(
            error(r#"{"kind":"dsse","apiVersion":"0.0.1"}"#),
            "missing required field spec"
        );
        assert_eq!(
            error(r#"{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{}}"#),
            "missing required field spec.data"
        );
    }

    #[test]
    fn long_client_text_is_cut_in_messages() {
        let kind = "k".repeat(500);
        let message = error(&format!(
            r#"{{"kind":"{kind}","apiVersion":"0.0.1","spec":{{}}}}"#
        ));
        assert!(message.len() < 200, "{message}");
    }
}
