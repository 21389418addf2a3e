//! intoto 0.0.1: a DSSE envelope signed by one public key or certificate, as
//! cosign 2.x `attest` uploads its attestations.
//!
//! Follows Rekor's intoto v0.0.1 entry. The client sends the envelope (a JSON
//! string) and the key; an entry is accepted when one of the envelope's
//! signatures verifies over the DSSE PAE with that key (ECDSA / RSA PKCS#1
//! v1.5 with SHA-256, or pure Ed25519). The log stores the SHA-256 of the
//! envelope and of its payload, both computed here whatever the client sent,
//! and the key's canonical PEM; not the envelope itself.

use atesto_common::pubkey::HashAlgorithm;
use serde_json::{Value, json};

use super::dsse::{IN_TOTO_PAYLOAD_TYPE, in_toto_keys, pae, parse_envelope};
use super::error::EntryError;
use super::fields::{Fields, encode_base64, parse_key};
use super::index::{digest_key, key_keys};

const ENVELOPE: &str = "spec.content.envelope";

/// Validates an intoto spec and verifies the envelope; returns the canonical
/// spec and the index keys.
pub(super) fn prepare(spec: &Fields<'_>) -> Result<(Value, Vec<String>), EntryError> {
    let content = spec.object("content")?;
    // Rekor inserts an intoto entry only with its envelope: hashes alone
    // would log a signature nobody checked.
    let envelope_text = content.string("envelope")?;
    if envelope_text.is_empty() {
        return Err(EntryError::MissingField(ENVELOPE.into()));
    }
    let key_bytes = spec.base64("publicKey")?;
    let key = parse_key(&key_bytes, "spec.publicKey")?;
    let envelope = parse_envelope(envelope_text).map_err(|error| match error {
        EntryError::Envelope(reason) => EntryError::IntotoEnvelope(reason),
        other => other,
    })?;
    let message = pae(&envelope.payload_type, &envelope.payload);
    if !envelope.signatures.iter().any(|(_, signature)| {
        key.verify(HashAlgorithm::Sha256, &message, signature)
            .is_ok()
    }) {
        return Err(EntryError::EnvelopeNotVerified);
    }

    let envelope_hash = hex::encode(HashAlgorithm::Sha256.digest(envelope_text.as_bytes()));
    let payload_hash = hex::encode(HashAlgorithm::Sha256.digest(&envelope.payload));
    let canonical = json!({
        "content": {
            "hash": {"algorithm": "sha256", "value": envelope_hash},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
        },
        "publicKey": encode_base64(key.canonical_pem().as_bytes()),
    });
    let mut keys: Vec<String> = digest_key("sha256", &envelope_hash).into_iter().collect();
    keys.extend(key_keys(&key));
    keys.extend(digest_key("sha256", &payload_hash));
    if envelope.payload_type == IN_TOTO_PAYLOAD_TYPE {
        keys.extend(in_toto_keys(&envelope.payload));
    }
    Ok((canonical, keys))
}

#[cfg(test)]
mod tests {
    use atesto_common::pubkey::{HashAlgorithm, PublicKey};
    use serde_json::json;

    use super::super::dsse::pae;
    use super::super::testkit::{self, Signer, b64};
    use super::super::{EntryKind, prepare};

    const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

    fn statement() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "image", "digest": {"sha256": "ab".repeat(32)}}],
            "predicate": {},
        }))
        .unwrap()
    }

    fn envelope(signer: &Signer, payload: &[u8]) -> String {
        let signature = signer.sign(&pae(PAYLOAD_TYPE, payload));
        json!({"payloadType": PAYLOAD_TYPE, "payload": b64(payload),
               "signatures": [{"keyid": "", "sig": b64(&signature)}]})
        .to_string()
    }

    /// An intoto ProposedEntry as cosign 2.x builds it (envelope and its hash).
    fn request(envelope: &str, key: &[u8]) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "kind": "intoto",
            "apiVersion": "0.0.1",
            "spec": {
                "content": {
                    "envelope": envelope,
                    "hash": {"algorithm": "sha256", "value": sha256_hex(envelope.as_bytes())},
                },
                "publicKey": b64(key),
            },
        }))
        .unwrap()
    }

    fn sha256_hex(data: &[u8]) -> String {
        hex::encode(HashAlgorithm::Sha256.digest(data))
    }

    #[test]
    fn stores_rekors_canonical_body_and_index_keys() {
        let signer = testkit::p256();
        let payload = statement();
        let envelope = envelope(&signer, &payload);
        let pem = signer.pem();
        let entry = prepare(&request(&envelope, pem.as_bytes())).unwrap();
        assert_eq!(entry.kind, EntryKind::Intoto);
        let expected = format!(
            r#"{{"apiVersion":"0.0.1","kind":"intoto","spec":{{"content":{{"hash":{{"algorithm":"sha256","value":"{}"}},"payloadHash":{{"algorithm":"sha256","value":"{}"}}}},"publicKey":"{}"}}}}"#,
            sha256_hex(envelope.as_bytes()),
            sha256_hex(&payload),
            b64(pem.as_bytes()),
        );
        assert_eq!(String::from_utf8(entry.body.clone()).unwrap(), expected);
        let fingerprint = PublicKey::parse(pem.as_bytes()).unwrap().fingerprint();
        assert_eq!(
            entry.index_keys,
            [
                format!("sha256:{}", sha256_hex(envelope.as_bytes())),
                format!("key:{fingerprint}"),
                format!("spki:{}", sha256_hex(&signer.spki_der())),
                format!("sha256:{}", sha256_hex(&payload)),
                format!("sha256:{}", "ab".repeat(32)),
            ]
        );
        assert_eq!(
            super::super::index::stored_spki_keys(&entry.body),
            [format!("spki:{}", sha256_hex(&signer.spki_der()))]
        );

        // Hashes sent by the client are recomputed, not trusted; a DER key
        // is stored as its canonical PEM.
        let mut body: serde_json::Value =
            serde_json::from_slice(&request(&envelope, &signer.spki_der())).unwrap();
        body["spec"]["content"]["hash"]["value"] = json!("00".repeat(32));
        body["spec"]["content"]["payloadHash"] =
            json!({"algorithm": "sha256", "value": "11".repeat(32)});
        let again = prepare(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(again.body, entry.body);
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let signer = testkit::p256();
        let payload = statement();
        let envelope = envelope(&signer, &payload);
        let error = |body: Vec<u8>| prepare(&body).unwrap_err().to_string();
        assert_eq!(
            error(request(&envelope, testkit::p256().pem().as_bytes())),
            "no signature of the DSSE envelope verifies with spec.publicKey"
        );
        let mut no_envelope: serde_json::Value =
            serde_json::from_slice(&request(&envelope, signer.pem().as_bytes())).unwrap();
        no_envelope["spec"]["content"]["envelope"] = json!("");
        assert_eq!(
            error(serde_json::to_vec(&no_envelope).unwrap()),
            "missing required field spec.content.envelope"
        );
        no_envelope["spec"]["content"]
            .as_object_mut()
            .unwrap()
            .remove("envelope");
        assert_eq!(
            error(serde_json::to_vec(&no_envelope).unwrap()),
            "missing required field spec.content.envelope"
        );
        assert!(
            error(request("{not json", signer.pem().as_bytes()))
                .starts_with("spec.content.envelope is not a valid DSSE envelope: "),
        );
        let mut no_key: serde_json::Value =
            serde_json::from_slice(&request(&envelope, signer.pem().as_bytes())).unwrap();
        no_key["spec"].as_object_mut().unwrap().remove("publicKey");
        assert_eq!(
            error(serde_json::to_vec(&no_key).unwrap()),
            "missing required field spec.publicKey"
        );
    }
}
