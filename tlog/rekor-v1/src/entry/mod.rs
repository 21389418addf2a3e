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
mod error;
mod fields;
mod hashedrekord;
mod helm;
pub mod index;
mod intoto;
mod limits;
mod rekord;
#[cfg(test)]
pub(crate) mod testkit;

use atesto_tlog_engine::submission::Submission;
use serde_json::Value;

pub use error::{EntryError, HelmError};
use fields::{Fields, echo};

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
