//! Search-index keys, and the queries of `POST /api/v1/index/retrieve`.
//!
//! An entry is filed under keys of three kinds, and a query looks up exactly
//! the strings an entry is filed under:
//!
//! - `<algorithm>:<hex>` for a digest: a hashedrekord's artifact hash, a DSSE
//!   envelope's payload and envelope hashes, and the sha1/sha256/sha384/sha512
//!   subject and material digests of an in-toto statement. As in Rekor.
//! - `key:<hex>` for a public key or certificate: the SHA-256 of its canonical
//!   PEM ([`PublicKey::fingerprint`]). Rekor uses the bare hex for hashedrekord
//!   and `sha256:<hex>` for dsse; the `key:` prefix keeps fingerprints apart
//!   from digests (the latter could otherwise match an artifact hash) and makes
//!   dsse entries findable by key too.
//! - `spki:<hex>` for the key alone, however the entry carries it: the
//!   SHA-256 of its DER SubjectPublicKeyInfo, taken from the certificate when
//!   there is one (what `openssl pkey -pubin -outform DER | sha256sum`
//!   prints). Not in Rekor, which has no key-only search: a search by this
//!   fingerprint (`keyFingerprint` in the query) finds the entries of a key
//!   and of every certificate for it. Logs written before this kind existed
//!   are filed by `crate::reindex`.
//! - `id:<identity>` for each identity a certificate names (emails, URIs, DNS
//!   names, IP addresses, the Fulcio username): Rekor files the raw SAN and
//!   searches the lowercased query, so mixed-case SANs were unfindable; here
//!   both sides are lowercased. The prefix keeps a SAN that looks like a digest
//!   or a fingerprint from colliding with one. Email and subject queries share
//!   this namespace, as in Rekor: an email query finds email SANs.
//!
//! All keys are lowercase.

use atesto_common::pubkey::PublicKey;
use base64::Engine;
use serde_json::Value;

use super::error::EntryError;
use super::fields::{Fields, echo, parse_key};

/// How the lookups of a query combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    And,
    Or,
}

/// A parsed search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexQuery {
    /// Each key is a lookup; `And` intersects the results of all keys, `Or` unites them.
    pub keys: Vec<String>,
    pub operator: Operator,
}

/// Digest algorithms a hash key may name, with their hex lengths.
const DIGESTS: [(&str, usize); 4] = [
    ("sha1", 40),
    ("sha256", 64),
    ("sha384", 96),
    ("sha512", 128),
];

/// The key of a digest, or `None` unless `algorithm` is one of sha1, sha256,
/// sha384, sha512 and `hex` a hex string of its length.
pub(super) fn digest_key(algorithm: &str, hex: &str) -> Option<String> {
    let algorithm = algorithm.to_ascii_lowercase();
    let (_, len) = DIGESTS.iter().find(|(name, _)| *name == algorithm)?;
    (hex.len() == *len && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("{algorithm}:{}", hex.to_ascii_lowercase()))
}

/// The keys of a verifier: its fingerprints and the identities it names.
pub(super) fn key_keys(key: &PublicKey) -> Vec<String> {
    let mut keys = vec![fingerprint_key(key), spki_key(key)];
    keys.extend(key.subjects().iter().map(|s| identity_key(s)));
    keys
}

/// The prefix of the keys that file an entry under its key alone.
pub const SPKI_PREFIX: &str = "spki:";

fn spki_key(key: &PublicKey) -> String {
    let digest = atesto_common::pubkey::HashAlgorithm::Sha256.digest(key.spki_der());
    format!("{SPKI_PREFIX}{}", hex::encode(digest))
}

/// The `spki:` keys of an entry as it is stored (its canonical body), from
/// the keys and certificates at the places each kind keeps them: what a
/// re-index files for an entry written before the key kind existed. The
/// same keys `prepare` derives (tested), none for a helm entry (PGP keys).
pub fn stored_spki_keys(body: &[u8]) -> Vec<String> {
    let Ok(entry) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let spec = &entry["spec"];
    let encoded: Vec<&Value> = match entry["kind"].as_str() {
        Some("hashedrekord" | "rekord") => vec![&spec["signature"]["publicKey"]["content"]],
        Some("intoto") => vec![&spec["publicKey"]],
        Some("dsse") => spec["signatures"]
            .as_array()
            .map(|signatures| signatures.iter().map(|s| &s["verifier"]).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut keys: Vec<String> = encoded
        .into_iter()
        .filter_map(Value::as_str)
        .filter_map(|text| base64::engine::general_purpose::STANDARD.decode(text).ok())
        .filter_map(|pem| PublicKey::parse(&pem).ok())
        .map(|key| spki_key(&key))
        .collect();
    keys.dedup();
    keys
}

fn fingerprint_key(key: &PublicKey) -> String {
    format!("key:{}", key.fingerprint())
}

fn identity_key(identity: &str) -> String {
    format!("id:{}", identity.to_lowercase())
}

/// Parses Rekor's SearchIndex JSON: `{"hash", "email", "publicKey": {"format",
/// "content"}, "subject", "operator"}`. Empty strings count as absent, as in
/// Rekor; the operator defaults to "or".
pub fn parse_index_query(request_body: &[u8]) -> Result<IndexQuery, EntryError> {
    let value: Value =
        serde_json::from_slice(request_body).map_err(|e| EntryError::NotJson(e.to_string()))?;
    let query = Fields::root(&value)?;
    let present = |name| non_empty(&query, name);
    let operator = match present("operator")? {
        None | Some("or") => Operator::Or,
        Some("and") => Operator::And,
        Some(other) => return Err(EntryError::Operator(echo(other))),
    };
    let mut keys = Vec::new();
    if let Some(hash) = present("hash")? {
        keys.push(hash_query_key(hash)?);
    }
    if query.get("publicKey").is_some() {
        keys.push(public_key_query_key(&query.object("publicKey")?)?);
    }
    if let Some(email) = present("email")? {
        let valid = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace)
        });
        if !valid {
            return Err(EntryError::QueryEmail(echo(email)));
        }
        keys.push(identity_key(email));
    }
    if let Some(subject) = present("subject")? {
        keys.push(identity_key(subject));
    }
    if let Some(fingerprint) = present("keyFingerprint")? {
        keys.push(fingerprint_query_key(fingerprint)?);
    }
    if keys.is_empty() {
        return Err(EntryError::EmptyQuery);
    }
    Ok(IndexQuery { keys, operator })
}

fn non_empty<'a>(fields: &Fields<'a>, name: &str) -> Result<Option<&'a str>, EntryError> {
    Ok(fields.opt_string(name)?.filter(|s| !s.is_empty()))
}

/// `<algorithm>:<hex>`, or bare hex whose length names the algorithm.
fn hash_query_key(hash: &str) -> Result<String, EntryError> {
    let key = match hash.split_once(':') {
        Some((algorithm, hex)) => digest_key(algorithm, hex),
        None => DIGESTS
            .iter()
            .find(|(_, len)| *len == hash.len())
            .and_then(|(algorithm, _)| digest_key(algorithm, hash)),
    };
    key.ok_or_else(|| EntryError::QueryHash(echo(hash)))
}

/// `sha256:<hex>` or bare hex of a SHA-256 over a DER SubjectPublicKeyInfo.
fn fingerprint_query_key(fingerprint: &str) -> Result<String, EntryError> {
    let hex = match fingerprint.split_once(':') {
        Some((algorithm, hex)) if algorithm.eq_ignore_ascii_case("sha256") => hex,
        Some(_) => "",
        None => fingerprint,
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EntryError::QueryFingerprint(echo(fingerprint)));
    }
    Ok(format!("{SPKI_PREFIX}{}", hex.to_ascii_lowercase()))
}

fn public_key_query_key(public_key: &Fields<'_>) -> Result<String, EntryError> {
    match public_key.opt_string("format")? {
        None | Some("x509") => {}
        Some(other) => return Err(EntryError::KeyFormat(echo(other))),
    }
    if non_empty(public_key, "content")?.is_none() && non_empty(public_key, "url")?.is_some() {
        return Err(EntryError::KeyUrl);
    }
    let bytes = public_key.base64("content")?;
    Ok(fingerprint_key(&parse_key(&bytes, "publicKey.content")?))
}

#[cfg(test)]
mod tests {
    use atesto_common::pubkey::PublicKey;
    use serde_json::json;

    use super::super::testkit::{self, b64};
    use super::*;

    fn query(value: serde_json::Value) -> Result<IndexQuery, EntryError> {
        parse_index_query(&serde_json::to_vec(&value).unwrap())
    }

    fn keys(value: serde_json::Value) -> Vec<String> {
        query(value).unwrap().keys
    }

    #[test]
    fn hashes_are_prefixed_and_lowercased() {
        let hex = "AB".repeat(32);
        let expected = vec![format!("sha256:{}", "ab".repeat(32))];
        assert_eq!(keys(json!({"hash": hex})), expected);
        assert_eq!(keys(json!({"hash": format!("sha256:{hex}")})), expected);
        assert_eq!(
            keys(json!({"hash": "cd".repeat(48)})),
            [format!("sha384:{}", "cd".repeat(48))]
        );
        assert_eq!(
            keys(json!({"hash": "ef".repeat(64)})),
            [format!("sha512:{}", "ef".repeat(64))]
        );
        assert_eq!(
            keys(json!({"hash": "01".repeat(20)})),
            [format!("sha1:{}", "01".repeat(20))]
        );
        for bad in ["abc", &format!("sha512:{hex}"), &"zz".repeat(32), "md5:00"] {
            assert!(
                matches!(query(json!({"hash": bad})), Err(EntryError::QueryHash(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_emails_and_subjects() {
        let signer = testkit::p256();
        let fingerprint = PublicKey::parse(signer.pem().as_bytes())
            .unwrap()
            .fingerprint();
        let content = b64(signer.pem().as_bytes());
        let q = query(json!({
            "publicKey": {"format": "x509", "content": content},
            "email": "Alice@Example.COM",
            "subject": "https://GitHub.com/acme",
            "operator": "and",
        }))
        .unwrap();
        assert_eq!(q.operator, Operator::And);
        assert_eq!(
            q.keys,
            [
                format!("key:{fingerprint}"),
                "id:alice@example.com".to_string(),
                "id:https://github.com/acme".to_string(),
            ]
        );
        assert_eq!(
            keys(json!({"publicKey": {"content": content}})),
            [format!("key:{fingerprint}")]
        );
        assert_eq!(
            query(json!({"subject": "x", "operator": "or"}))
                .unwrap()
                .operator,
            Operator::Or
        );
        assert_eq!(
            query(json!({"subject": "x"})).unwrap().operator,
            Operator::Or
        );
    }

    #[test]
    fn key_fingerprints_take_a_prefix_or_bare_hex() {
        let hex = "Ab".repeat(32);
        let expected = vec![format!("spki:{}", "ab".repeat(32))];
        assert_eq!(keys(json!({"keyFingerprint": hex})), expected);
        assert_eq!(
            keys(json!({"keyFingerprint": format!("SHA256:{hex}")})),
            expected
        );
        for bad in [
            "ab",
            &format!("sha512:{hex}"),
            &"zz".repeat(32),
            &"ab".repeat(48),
        ] {
            assert!(
                matches!(
                    query(json!({"keyFingerprint": bad})),
                    Err(EntryError::QueryFingerprint(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let message = |value| query(value).unwrap_err().to_string();
        assert_eq!(
            message(json!({})),
            "the search query is empty: give at least one of hash, email, publicKey, subject or keyFingerprint"
        );
        assert_eq!(
            message(json!({"hash": "", "email": ""})),
            EntryError::EmptyQuery.to_string()
        );
        assert_eq!(
            message(json!({"subject": "x", "operator": "xor"})),
            "unsupported operator \"xor\": expected \"and\" or \"or\""
        );
        assert_eq!(
            message(json!({"email": "nobody"})),
            "email \"nobody\" is not an email address"
        );
        assert_eq!(
            message(json!({"publicKey": {"format": "ssh", "content": "AAAA"}})),
            "publicKey.format \"ssh\" is not supported: only x509 (PEM keys and certificates) is"
        );
        assert_eq!(
            message(json!({"publicKey": {"format": "x509", "url": "https://example.com/key.pem"}})),
            "publicKey.url is not supported: send the key inline in publicKey.content"
        );
        assert_eq!(
            message(json!({"publicKey": {"format": "x509"}})),
            "missing required field publicKey.content"
        );
        assert_eq!(
            message(
                json!({"publicKey": {"content": b64(b"-----BEGIN RSA PUBLIC KEY-----\nAA==\n-----END RSA PUBLIC KEY-----\n")}})
            ),
            "publicKey.content: PEM block is a RSA PUBLIC KEY, expected PUBLIC KEY or CERTIFICATE"
        );
        assert!(
            message(json!({"keyFingerprint": "md5:00"}))
                .starts_with("keyFingerprint \"md5:00\" is not a key fingerprint")
        );
        assert!(
            parse_index_query(b"hash=abc")
                .unwrap_err()
                .to_string()
                .starts_with("request body is not valid JSON")
        );
    }
}
