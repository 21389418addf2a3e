//! dsse 0.0.1: a DSSE envelope with the keys or certificates that verify it.
//!
//! Follows Rekor's dsse v0.0.1 entry. The client proposes the envelope (as a
//! JSON string) and its verifiers; the log stores only the SHA-256 of the
//! envelope and of its payload, and each signature with the canonical PEM of
//! the verifier that verified it, sorted by signature.
//!
//! Verification is Rekor's: the verifiers are tried in order until every
//! signature is verified; each one tried must verify a signature (the first,
//! in envelope order, that it verifies), and every signature must end up
//! verified. A verifier checks the signature over the DSSE PAE: pure Ed25519,
//! or ECDSA / RSA PKCS#1 v1.5 with SHA-256 whatever the key size.

use std::collections::{BTreeMap, BTreeSet};

use atesto_common::pubkey::{HashAlgorithm, PublicKey};
use serde_json::{Value, json};

use super::error::EntryError;
use super::fields::{Fields, GO_STD, GO_URL, decode_base64, encode_base64, go_decode, parse_key};
use super::index::{digest_key, key_keys};
use super::limits::{MAX_SIGNATURE_CHECKS, MAX_SIGNATURES, MAX_VERIFIERS};

pub(super) const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The parts of a DSSE envelope the log uses.
pub(super) struct Envelope {
    pub(super) payload_type: String,
    pub(super) payload: Vec<u8>,
    /// Each signature as sent (base64 text) and decoded.
    pub(super) signatures: Vec<(String, Vec<u8>)>,
}

/// Validates a dsse spec and verifies the envelope; returns the canonical
/// spec and the index keys.
pub(super) fn prepare(spec: &Fields<'_>) -> Result<(Value, Vec<String>), EntryError> {
    if ["envelopeHash", "payloadHash", "signatures"]
        .iter()
        .any(|name| spec.get(name).is_some())
    {
        return Err(EntryError::DsseComputedFields);
    }
    let proposed = spec.object("proposedContent")?;
    let envelope_text = proposed.string("envelope")?;
    if envelope_text.is_empty() {
        return Err(EntryError::MissingField(proposed.path("envelope")));
    }
    let verifiers = decode_verifiers(&proposed)?;
    let envelope = parse_envelope(envelope_text)?;
    if verifiers.len() * envelope.signatures.len() > MAX_SIGNATURE_CHECKS {
        return Err(EntryError::TooManySignatureChecks {
            signatures: envelope.signatures.len(),
            verifiers: verifiers.len(),
        });
    }

    let pae = pae(&envelope.payload_type, &envelope.payload);
    let mut unverified: BTreeSet<&str> = envelope
        .signatures
        .iter()
        .map(|(text, _)| text.as_str())
        .collect();
    // Keyed by signature text: iterates in Rekor's (byte-wise) sort order.
    let mut verified: BTreeMap<&str, PublicKey> = BTreeMap::new();
    for (index, bytes) in verifiers {
        if unverified.is_empty() {
            break;
        }
        let field = format!("{}[{index}]", proposed.path("verifiers"));
        let key = parse_key(&bytes, &field)?;
        let accepted = envelope
            .signatures
            .iter()
            .find(|(_, signature)| {
                key.signature_encoding_ok(signature)
                    && key.verify(HashAlgorithm::Sha256, &pae, signature).is_ok()
            })
            .ok_or(EntryError::UnusedVerifier(index))?;
        unverified.remove(accepted.0.as_str());
        verified.insert(&accepted.0, key);
    }
    if let Some(index) = envelope
        .signatures
        .iter()
        .position(|(text, _)| unverified.contains(text.as_str()))
    {
        return Err(EntryError::UnverifiedSignature(index));
    }

    let envelope_hash = HashAlgorithm::Sha256.digest(envelope_text.as_bytes());
    let payload_hash = HashAlgorithm::Sha256.digest(&envelope.payload);
    let signatures: Vec<Value> = verified
        .iter()
        .map(|(signature, key)| {
            json!({
                "signature": signature,
                "verifier": encode_base64(key.canonical_pem().as_bytes()),
            })
        })
        .collect();
    let canonical = json!({
        "envelopeHash": {"algorithm": "sha256", "value": hex::encode(&envelope_hash)},
        "payloadHash": {"algorithm": "sha256", "value": hex::encode(&payload_hash)},
        "signatures": signatures,
    });

    let mut keys: Vec<String> = verified.values().flat_map(key_keys).collect();
    keys.extend(digest_key("sha256", &hex::encode(&payload_hash)));
    keys.extend(digest_key("sha256", &hex::encode(&envelope_hash)));
    if envelope.payload_type == IN_TOTO_PAYLOAD_TYPE {
        keys.extend(in_toto_keys(&envelope.payload));
    }
    Ok((canonical, keys))
}

/// The decoded verifiers with their positions in the request. Empty strings
/// are skipped, as Rekor does.
fn decode_verifiers(proposed: &Fields<'_>) -> Result<Vec<(usize, Vec<u8>)>, EntryError> {
    let items = proposed.array("verifiers")?;
    let mut verifiers = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let field = format!("{}[{index}]", proposed.path("verifiers"));
        match item {
            Value::String(text) if text.is_empty() => {}
            Value::String(text) => verifiers.push((index, decode_base64(text, &field)?)),
            _ => {
                return Err(EntryError::WrongType {
                    field,
                    expected: "a base64 string",
                });
            }
        }
    }
    if verifiers.is_empty() {
        return Err(EntryError::MissingField(proposed.path("verifiers")));
    }
    if verifiers.len() > MAX_VERIFIERS {
        return Err(EntryError::TooManyVerifiers(verifiers.len()));
    }
    Ok(verifiers)
}

/// Parses the envelope JSON. Missing `payloadType` and `payload` read as
/// empty, like Go's zero values.
pub(super) fn parse_envelope(text: &str) -> Result<Envelope, EntryError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| EntryError::Envelope(e.to_string()))?;
    let Value::Object(envelope) = &value else {
        return Err(EntryError::Envelope("it is not a JSON object".into()));
    };
    let string = |name: &str| match envelope.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(EntryError::Envelope(format!("{name} is not a string"))),
    };
    let payload_type = string("payloadType")?.to_string();
    let payload = dsse_base64(string("payload")?)
        .ok_or_else(|| EntryError::Envelope("payload is not base64".into()))?;
    let items = match envelope.get("signatures") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(EntryError::Envelope("signatures is not an array".into())),
    };
    if items.is_empty() {
        return Err(EntryError::Envelope("it has no signatures".into()));
    }
    if items.len() > MAX_SIGNATURES {
        return Err(EntryError::TooManySignatures(items.len()));
    }
    let mut signatures = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let text = match item.get("sig") {
            None | Some(Value::Null) if item.is_object() => "",
            Some(Value::String(s)) => s.as_str(),
            _ => {
                return Err(EntryError::Envelope(format!(
                    "signatures[{index}] has no string sig"
                )));
            }
        };
        let bytes = dsse_base64(text).ok_or_else(|| {
            EntryError::Envelope(format!("signatures[{index}].sig is not base64"))
        })?;
        signatures.push((text.to_string(), bytes));
    }
    Ok(Envelope {
        payload_type,
        payload,
        signatures,
    })
}

/// DSSE allows standard or URL-safe base64.
fn dsse_base64(text: &str) -> Option<Vec<u8>> {
    go_decode(&GO_STD, text)
        .or_else(|_| go_decode(&GO_URL, text))
        .ok()
}

/// The DSSE pre-authentication encoding of a payload.
pub(super) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The digests an in-toto statement names: its subjects' and, as Rekor also
/// indexes them, the SLSA provenance materials'. Only digests a hash query can
/// name are kept. A payload that is not such a statement gives none.
pub(super) fn in_toto_keys(payload: &[u8]) -> Vec<String> {
    let Ok(statement) = serde_json::from_slice::<Value>(payload) else {
        return Vec::new();
    };
    let subjects = statement.get("subject");
    let materials = statement.get("predicate").and_then(|p| p.get("materials"));
    [subjects, materials]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|item| item.get("digest")?.as_object())
        .flatten()
        .filter_map(|(algorithm, value)| digest_key(algorithm, value.as_str()?))
        .collect()
}

#[cfg(test)]
mod tests {
    use atesto_common::pubkey::{HashAlgorithm, PublicKey};
    use base64::Engine;
    use serde_json::json;

    use super::super::testkit::{self, Signer, b64};
    use super::super::{EntryKind, prepare};
    use super::pae;

    const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

    fn statement() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "app", "digest": {"sha256": "AB".repeat(32), "gitCommit": "cd".repeat(20)}}],
            "predicate": {"materials": [{"uri": "git+https://x", "digest": {"sha1": "ef".repeat(20)}}]},
        }))
        .unwrap()
    }

    fn envelope(payload: &[u8], signatures: &[Vec<u8>]) -> String {
        let signatures: Vec<_> = signatures
            .iter()
            .map(|s| json!({"keyid": "", "sig": b64(s)}))
            .collect();
        json!({"payloadType": PAYLOAD_TYPE, "payload": b64(payload), "signatures": signatures})
            .to_string()
    }

    fn sign(signer: &Signer, payload: &[u8]) -> Vec<u8> {
        signer.sign(&pae(PAYLOAD_TYPE, payload))
    }

    fn request(envelope: &str, verifiers: &[&[u8]]) -> Vec<u8> {
        let verifiers: Vec<String> = verifiers.iter().map(|v| b64(v)).collect();
        serde_json::to_vec(&json!({
            "kind": "dsse",
            "apiVersion": "0.0.1",
            "spec": {"proposedContent": {"envelope": envelope, "verifiers": verifiers}},
        }))
        .unwrap()
    }

    fn sha256_hex(data: &[u8]) -> String {
        hex::encode(HashAlgorithm::Sha256.digest(data))
    }

    fn fingerprint(signer: &Signer) -> String {
        PublicKey::parse(signer.pem().as_bytes())
            .unwrap()
            .fingerprint()
    }

    fn error(body: &[u8]) -> String {
        prepare(body).unwrap_err().to_string()
    }

    #[test]
    fn stores_hashes_and_verified_signatures_exactly() {
        let signer = testkit::p256();
        let payload = statement();
        let signature = sign(&signer, &payload);
        let envelope = envelope(&payload, std::slice::from_ref(&signature));
        let pem = signer.pem();
        let entry = prepare(&request(&envelope, &[pem.as_bytes()])).unwrap();
        assert_eq!(entry.kind, EntryKind::Dsse);
        let expected = format!(
            r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256","value":"{}"}},"payloadHash":{{"algorithm":"sha256","value":"{}"}},"signatures":[{{"signature":"{}","verifier":"{}"}}]}}}}"#,
            sha256_hex(envelope.as_bytes()),
            sha256_hex(&payload),
            b64(&signature),
            b64(pem.as_bytes()),
        );
        assert_eq!(String::from_utf8(entry.body).unwrap(), expected);
        assert_eq!(
            entry.index_keys,
            [
                format!("key:{}", fingerprint(&signer)),
                format!("spki:{}", sha256_hex(&signer.spki_der())),
                format!("sha256:{}", sha256_hex(&payload)),
                format!("sha256:{}", sha256_hex(envelope.as_bytes())),
                format!("sha256:{}", "ab".repeat(32)),
                format!("sha1:{}", "ef".repeat(20)),
            ]
        );
    }

    #[test]
    fn several_signatures_are_sorted_with_their_verifiers() {
        let ed = testkit::ed25519();
        let rsa = testkit::rsa(2048);
        let payload = b"{}".to_vec();
        let signatures = [sign(&ed, &payload), sign(&rsa, &payload)];
        let envelope = envelope(&payload, &signatures);
        let body = request(&envelope, &[rsa.pem().as_bytes(), ed.spki_der().as_slice()]);
        let entry = prepare(&body).unwrap();
        let stored: serde_json::Value = serde_json::from_slice(&entry.body).unwrap();
        let stored = stored["spec"]["signatures"].as_array().unwrap().clone();
        let mut expected = vec![
            json!({"signature": b64(&signatures[0]), "verifier": b64(ed.pem().as_bytes())}),
            json!({"signature": b64(&signatures[1]), "verifier": b64(rsa.pem().as_bytes())}),
        ];
        expected.sort_by(|a, b| a["signature"].as_str().cmp(&b["signature"].as_str()));
        assert_eq!(stored, expected);
        // Verifier order does not matter to the stored body.
        let swapped = request(&envelope, &[ed.pem().as_bytes(), rsa.pem().as_bytes()]);
        assert_eq!(prepare(&swapped).unwrap().body, entry.body);
        // Not an in-toto statement payload type? Still in-toto here, but {} names no digests.
        assert_eq!(entry.index_keys.len(), 6);
        // A re-index finds both keys in the stored body, as `prepare` filed them.
        let mut stored_spki = super::super::index::stored_spki_keys(&entry.body);
        let mut filed_spki: Vec<String> = entry
            .index_keys
            .iter()
            .filter(|key| key.starts_with("spki:"))
            .cloned()
            .collect();
        stored_spki.sort();
        filed_spki.sort();
        assert_eq!(stored_spki.len(), 2);
        assert_eq!(stored_spki, filed_spki);
    }

    #[test]
    fn verifier_rules_follow_rekor() {
        let a = testkit::p256();
        let b = testkit::p256();
        let payload = statement();
        let sig_a = sign(&a, &payload);
        let one = envelope(&payload, std::slice::from_ref(&sig_a));
        let (pem_a, pem_b) = (a.pem(), b.pem());

        // Once every signature is verified, later verifiers are not even read.
        prepare(&request(&one, &[pem_a.as_bytes(), b"garbage"])).unwrap();
        assert_eq!(
            error(&request(&one, &[pem_b.as_bytes(), pem_a.as_bytes()])),
            "spec.proposedContent.verifiers[0] verifies none of the envelope's signatures"
        );
        assert_eq!(
            error(&request(&one, &[b"garbage"])),
            "spec.proposedContent.verifiers[0]: public key is neither PEM nor DER: expected a PEM PUBLIC KEY or CERTIFICATE"
        );

        // A verifier accounts for one signature, the first it verifies, so two
        // signatures by one key never pass, even with the key sent twice.
        let sig_a2 = sign(&a, &payload);
        let two = envelope(&payload, &[sig_a.clone(), sig_a2]);
        for verifiers in [
            &[pem_a.as_bytes()][..],
            &[pem_a.as_bytes(), pem_a.as_bytes()],
        ] {
            assert_eq!(
                error(&request(&two, verifiers)),
                "envelope signatures[1] is not verified by any of spec.proposedContent.verifiers"
            );
        }

        // A signature over something else is not verified.
        let wrong = envelope(b"other", std::slice::from_ref(&sig_a));
        assert_eq!(
            error(&request(&wrong, &[pem_a.as_bytes()])),
            "spec.proposedContent.verifiers[0] verifies none of the envelope's signatures"
        );
    }

    #[test]
    fn certificate_verifiers_index_their_identities() {
        use rcgen::{CertificateParams, SanType};
        let signer = testkit::p256();
        let key_pair = rcgen::KeyPair::try_from(signer.pkcs8().as_slice()).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::Rfc822Name("Bob@Example.com".try_into().unwrap())];
        let cert = params.self_signed(&key_pair).unwrap();
        let payload = statement();
        let envelope = envelope(&payload, &[sign(&signer, &payload)]);
        let entry = prepare(&request(&envelope, &[cert.pem().as_bytes()])).unwrap();
        assert!(entry.index_keys.contains(&"id:bob@example.com".to_string()));
        let cert_key = PublicKey::parse(cert.der()).unwrap();
        assert_eq!(
            entry.index_keys[0],
            format!("key:{}", cert_key.fingerprint())
        );
    }

    #[test]
    fn url_safe_payload_and_missing_fields_read_like_go() {
        let signer = testkit::ed25519();
        let payload = vec![0xfb, 0xff, 0xfe];
        let signature = signer.sign(&pae("", &payload));
        let url_payload = base64::engine::general_purpose::URL_SAFE.encode(&payload);
        let envelope =
            json!({"payload": url_payload, "signatures": [{"sig": b64(&signature)}]}).to_string();
        let entry = prepare(&request(&envelope, &[signer.pem().as_bytes()])).unwrap();
        // Not in-toto: key fingerprints, payload hash and envelope hash only.
        assert_eq!(entry.index_keys.len(), 4);
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let signer = testkit::p256();
        let pem = signer.pem();
        let payload = statement();
        let good = envelope(&payload, &[sign(&signer, &payload)]);
        let with_spec = |spec: serde_json::Value| {
            error(
                &serde_json::to_vec(&json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": spec}))
                    .unwrap(),
            )
        };
        assert_eq!(
            with_spec(json!({
                "proposedContent": {"envelope": good, "verifiers": [b64(pem.as_bytes())]},
                "payloadHash": {"algorithm": "sha256", "value": "00"},
            })),
            "spec.envelopeHash, spec.payloadHash and spec.signatures are computed by the log: send only spec.proposedContent"
        );
        assert_eq!(
            with_spec(json!({})),
            "missing required field spec.proposedContent"
        );
        assert_eq!(
            with_spec(json!({"proposedContent": {"envelope": good}})),
            "missing required field spec.proposedContent.verifiers"
        );
        assert_eq!(
            with_spec(json!({"proposedContent": {"envelope": good, "verifiers": [""]}})),
            "missing required field spec.proposedContent.verifiers"
        );
        assert_eq!(
            with_spec(json!({"proposedContent": {"envelope": good, "verifiers": [7]}})),
            "field spec.proposedContent.verifiers[0] must be a base64 string"
        );
        assert!(
            with_spec(json!({"proposedContent": {"envelope": good, "verifiers": ["%%%"]}}))
                .starts_with("field spec.proposedContent.verifiers[0] is not valid base64: ")
        );
        let bad_envelope = |envelope: &str| error(&request(envelope, &[pem.as_bytes()]));
        assert!(
            bad_envelope("{not json")
                .starts_with("spec.proposedContent.envelope is not a valid DSSE envelope: ")
        );
        assert_eq!(
            bad_envelope(r#"{"payload":"","signatures":[]}"#),
            "spec.proposedContent.envelope is not a valid DSSE envelope: it has no signatures"
        );
        assert_eq!(
            bad_envelope(r#"{"payload":"@@","signatures":[{"sig":""}]}"#),
            "spec.proposedContent.envelope is not a valid DSSE envelope: payload is not base64"
        );
        assert_eq!(
            bad_envelope(r#"{"payload":"","signatures":[{"sig":"!"}]}"#),
            "spec.proposedContent.envelope is not a valid DSSE envelope: signatures[0].sig is not base64"
        );
        let many: Vec<_> = (0..33).map(|_| json!({"sig": ""})).collect();
        assert_eq!(
            bad_envelope(&json!({"payload": "", "signatures": many}).to_string()),
            "the DSSE envelope has 33 signatures: at most 32 are accepted"
        );
        // Each cap alone would allow 32 x 32 checks; their product is capped too.
        let six: Vec<_> = (0..6).map(|_| json!({"sig": ""})).collect();
        let envelope = json!({"payload": "", "signatures": six}).to_string();
        assert_eq!(
            with_spec(
                json!({"proposedContent": {"envelope": envelope, "verifiers": vec![b64(pem.as_bytes()); 6]}})
            ),
            "6 signatures and 6 verifiers make 36 signature checks: at most 32 are accepted per entry"
        );
    }
}
