//! Identity watch: which log entries were signed by an identity someone
//! cares about. An identity is a set of conditions that must all hold for one
//! signer (certificate or key) of an entry: SAN (exact or regex), OIDC issuer,
//! public key fingerprint, Fulcio extension values.

use std::collections::BTreeMap;
use std::path::Path;

use atesto_common::pubkey::{HashAlgorithm, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use regex::Regex;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Fulcio's OID arc: 1.3.6.1.4.1.57264.1.N.
const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1.";
/// Issuer (v1, raw UTF-8) and issuer (v2, DER UTF8String).
const ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("reading watch file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("watch file {path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// One identity as written in the watch file (YAML or JSON).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentitySpec {
    /// A label for matches; defaults to the identity's position.
    name: Option<String>,
    /// A SAN (email, URI, DNS name...) exactly as in the certificate.
    san: Option<String>,
    /// A regex that must match a whole SAN.
    san_regex: Option<String>,
    /// The OIDC issuer (Fulcio extension .1.8, else .1.1).
    issuer: Option<String>,
    /// Hex SHA-256 of the signer's DER SubjectPublicKeyInfo.
    fingerprint: Option<String>,
    /// Fulcio extension values by OID (e.g. 1.3.6.1.4.1.57264.1.9: workflow ref).
    #[serde(default)]
    extensions: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchFile {
    identities: Vec<IdentitySpec>,
}

#[derive(Debug)]
struct Identity {
    name: String,
    san: Option<String>,
    san_regex: Option<Regex>,
    issuer: Option<String>,
    fingerprint: Option<String>,
    extensions: BTreeMap<String, String>,
}

/// The identities to look for.
#[derive(Debug)]
pub struct WatchList {
    identities: Vec<Identity>,
    /// Only a fingerprint identity can match a bare key: without one, entries
    /// signed by keys (no certificate) are skipped unparsed.
    wants_keys: bool,
}

/// A signer of an entry that matched an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// Index of the entry in the tree.
    pub index: u64,
    pub identity: String,
    /// hashedrekord or dsse.
    pub entry_kind: String,
    pub sans: Vec<String>,
    pub issuer: Option<String>,
    pub fingerprint: String,
}

impl WatchList {
    pub fn load(path: &Path) -> Result<Self, WatchError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| WatchError::Read {
            path: display.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|reason| WatchError::Invalid {
            path: display,
            reason,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: WatchFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if file.identities.is_empty() {
            return Err("no identities".into());
        }
        let mut identities = Vec::new();
        for (i, spec) in file.identities.into_iter().enumerate() {
            let name = spec.name.unwrap_or_else(|| format!("identity {i}"));
            if spec.san.is_none()
                && spec.san_regex.is_none()
                && spec.issuer.is_none()
                && spec.fingerprint.is_none()
                && spec.extensions.is_empty()
            {
                return Err(format!("{name}: no condition (it would match every entry)"));
            }
            let san_regex = spec
                .san_regex
                .map(|r| Regex::new(&format!("^(?:{r})$")))
                .transpose()
                .map_err(|e| format!("{name}: san_regex: {e}"))?;
            for oid in spec.extensions.keys() {
                if !oid.starts_with(FULCIO_ARC) {
                    return Err(format!(
                        "{name}: {oid} is not a Fulcio extension ({FULCIO_ARC}N)"
                    ));
                }
            }
            identities.push(Identity {
                name,
                san: spec.san,
                san_regex,
                issuer: spec.issuer,
                fingerprint: spec.fingerprint.map(|f| f.to_ascii_lowercase()),
                extensions: spec.extensions,
            });
        }
        let wants_keys = identities.iter().any(|i| {
            i.fingerprint.is_some()
                && i.san.is_none()
                && i.san_regex.is_none()
                && i.issuer.is_none()
                && i.extensions.is_empty()
        });
        Ok(Self {
            identities,
            wants_keys,
        })
    }

    /// The matches among the signers of one entry body (canonical JSON of a
    /// hashedrekord 0.0.1 or 0.0.2 or a dsse entry). Bodies of other kinds, or that do not
    /// parse, have no signers to match: the log accepted them, so a body the
    /// monitor cannot read is not evidence of anything.
    pub fn scan(&self, index: u64, body: &[u8]) -> Vec<Match> {
        let Ok(entry) = serde_json::from_slice::<EntryBody>(body) else {
            return Vec::new();
        };
        // Each verifier's base64, and whether it is known to be a certificate.
        let verifiers: Vec<(&str, bool)> = match (&entry.kind[..], &entry.spec) {
            // Rekor v2 (hashedrekord 0.0.2): the DER of a certificate or a key.
            ("hashedrekord", spec) if spec.get("hashedRekordV002").is_some() => {
                [("x509Certificate", true), ("publicKey", false)]
                    .into_iter()
                    .filter_map(|(form, certificate)| {
                        spec.pointer(&format!(
                            "/hashedRekordV002/signature/verifier/{form}/rawBytes"
                        ))
                        .and_then(|v| v.as_str())
                        .map(|v| (v, certificate))
                    })
                    .collect()
            }
            // Rekor v1: a PEM key or certificate.
            ("hashedrekord", spec) => spec
                .pointer("/signature/publicKey/content")
                .and_then(|v| v.as_str())
                .map(|v| (v, false))
                .into_iter()
                .collect(),
            ("dsse", spec) => spec
                .get("signatures")
                .and_then(|s| s.as_array())
                .map(|sigs| {
                    sigs.iter()
                        .filter_map(|s| s.get("verifier").and_then(|v| v.as_str()))
                        .map(|v| (v, false))
                        .collect()
                })
                .unwrap_or_default(),
            _ => return Vec::new(),
        };
        let mut matches = Vec::new();
        for (verifier, certificate) in verifiers {
            let Ok(pem) = STANDARD.decode(verifier) else {
                continue;
            };
            // Skip parsing a bare key nobody can match (the common case in
            // bulk scans of key-signed logs).
            if !self.wants_keys && !certificate && !contains(&pem, b"CERTIFICATE") {
                continue;
            }
            if let Ok(key) = PublicKey::parse(&pem) {
                self.match_signer(index, &entry.kind, &key, &mut matches);
            }
        }
        matches
    }

    /// The matches for one certificate of a CT entry (`entry_kind`:
    /// `x509` or `precert`).
    pub fn scan_certificate(&self, index: u64, entry_kind: &str, der: &[u8]) -> Vec<Match> {
        let mut matches = Vec::new();
        if let Ok(key) = PublicKey::from_certificate_der(der) {
            self.match_signer(index, entry_kind, &key, &mut matches);
        }
        matches
    }

    fn match_signer(&self, index: u64, entry_kind: &str, key: &PublicKey, out: &mut Vec<Match>) {
        let signer = Signer::new(key);
        for identity in &self.identities {
            if identity.matches(&signer) {
                out.push(Match {
                    index,
                    identity: identity.name.clone(),
                    entry_kind: entry_kind.to_owned(),
                    sans: key.subjects().to_vec(),
                    issuer: signer.issuer().map(str::to_owned),
                    fingerprint: signer.fingerprint.clone(),
                });
            }
        }
    }
}

#[derive(Deserialize)]
struct EntryBody {
    kind: String,
    spec: serde_json::Value,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What an identity is matched against.
struct Signer<'a> {
    key: &'a PublicKey,
    fingerprint: String,
    /// Fulcio extensions by OID, values decoded to text.
    extensions: BTreeMap<String, String>,
}

impl<'a> Signer<'a> {
    fn new(key: &'a PublicKey) -> Self {
        let fingerprint = hex::encode(HashAlgorithm::Sha256.digest(key.spki_der()));
        let extensions = key
            .certificate_der()
            .map(fulcio_extensions)
            .unwrap_or_default();
        Self {
            key,
            fingerprint,
            extensions,
        }
    }

    fn issuer(&self) -> Option<&str> {
        self.extensions
            .get(ISSUER_V2)
            .or_else(|| self.extensions.get(ISSUER_V1))
            .map(String::as_str)
    }
}

impl Identity {
    fn matches(&self, signer: &Signer<'_>) -> bool {
        let sans = signer.key.subjects();
        self.san.as_ref().is_none_or(|want| sans.contains(want))
            && self
                .san_regex
                .as_ref()
                .is_none_or(|re| sans.iter().any(|s| re.is_match(s)))
            && self
                .issuer
                .as_deref()
                .is_none_or(|want| signer.issuer() == Some(want))
            && self
                .fingerprint
                .as_ref()
                .is_none_or(|want| *want == signer.fingerprint)
            && self
                .extensions
                .iter()
                .all(|(oid, want)| signer.extensions.get(oid) == Some(want))
    }
}

/// The Fulcio extensions of a certificate: .1.1 to .1.6 hold raw UTF-8,
/// later ones a DER UTF8String (see docs/wire-compat.md).
fn fulcio_extensions(der: &[u8]) -> BTreeMap<String, String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        let Some(arc) = oid.strip_prefix(FULCIO_ARC) else {
            continue;
        };
        let raw = arc.parse::<u32>().is_ok_and(|n| n <= 6);
        let value = if raw {
            std::str::from_utf8(ext.value).ok()
        } else {
            der_utf8_string(ext.value)
        };
        if let Some(value) = value {
            out.insert(oid, value.to_owned());
        }
    }
    out
}

/// The text of a DER UTF8String (tag 12), short or long form length.
fn der_utf8_string(der: &[u8]) -> Option<&str> {
    let (&tag, rest) = der.split_first()?;
    if tag != 12 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        (
            bytes.iter().fold(0usize, |n, b| n << 8 | usize::from(*b)),
            rest,
        )
    };
    (rest.len() == len)
        .then(|| std::str::from_utf8(rest).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_files_are_checked_when_loaded() {
        assert!(WatchList::parse("identities: []").is_err());
        // An identity without a condition would match everything.
        let err = WatchList::parse("identities:\n  - name: all\n").unwrap_err();
        assert!(err.contains("no condition"), "{err}");
        let err = WatchList::parse("identities:\n  - san_regex: '('\n").unwrap_err();
        assert!(err.contains("san_regex"), "{err}");
        let err = WatchList::parse("identities:\n  - extensions: {1.2.3: x}\n").unwrap_err();
        assert!(err.contains("not a Fulcio extension"), "{err}");
        assert!(WatchList::parse("identities:\n  - sans: typo\n").is_err());
        let list =
            WatchList::parse(r#"{"identities": [{"san_regex": "a.*", "fingerprint": "AB"}]}"#)
                .unwrap();
        // A fingerprint with another condition cannot match a bare key.
        assert!(!list.wants_keys);
        assert_eq!(list.identities[0].fingerprint.as_deref(), Some("ab"));
        // The regex must match a whole SAN.
        let re = list.identities[0].san_regex.as_ref().unwrap();
        assert!(re.is_match("abc") && !re.is_match("xabc"));
    }

    #[test]
    fn der_utf8_strings_decode_in_short_and_long_form() {
        assert_eq!(der_utf8_string(b"\x0c\x03abc"), Some("abc"));
        let long = "x".repeat(200);
        let mut der = vec![0x0c, 0x81, 200];
        der.extend_from_slice(long.as_bytes());
        assert_eq!(der_utf8_string(&der), Some(long.as_str()));
        assert_eq!(der_utf8_string(b"\x0c\x04abc"), None);
        assert_eq!(der_utf8_string(b"\x13\x03abc"), None);
        assert_eq!(der_utf8_string(b""), None);
    }

    #[test]
    fn unreadable_bodies_have_no_matches() {
        let list = WatchList::parse("identities:\n  - fingerprint: ab\n").unwrap();
        assert!(list.scan(0, b"not json").is_empty());
        assert!(list.scan(0, br#"{"kind":"rekord","spec":{}}"#).is_empty());
        let body =
            br#"{"kind":"hashedrekord","spec":{"signature":{"publicKey":{"content":"!!"}}}}"#;
        assert!(list.scan(0, body).is_empty());
    }
}
