//! rekord 0.0.1: a signature over an artifact sent whole (rekor-cli's
//! default type).
//!
//! Follows Rekor's rekord v0.0.1 entry for the `x509` signature format (PEM
//! or DER public keys and certificates): the signature is verified over the
//! artifact's bytes (ECDSA / RSA PKCS#1 v1.5 with SHA-256, or pure Ed25519),
//! the artifact's SHA-256 is computed here and must equal the hash the client
//! sent, if any. The log stores the hash, the format, the signature and the
//! key's canonical PEM; not the artifact. Rekor's other formats (pgp,
//! minisign, ssh) are refused with a message that says so.

use atesto_common::pubkey::HashAlgorithm;
use serde_json::{Value, json};

use super::error::EntryError;
use super::fields::{Fields, echo, encode_base64, parse_key};
use super::index::{digest_key, key_keys};

const FORMAT_X509: &str = "x509";

/// Validates a rekord spec and verifies its signature; returns the canonical
/// spec and the index keys.
pub(super) fn prepare(spec: &Fields<'_>) -> Result<(Value, Vec<String>), EntryError> {
    let signature = spec.object("signature")?;
    let format = signature.string("format")?;
    if format != FORMAT_X509 {
        return Err(EntryError::RekordFormat(echo(format)));
    }
    let data = spec.object("data")?;
    let content = data.base64("content")?;
    let computed = hex::encode(HashAlgorithm::Sha256.digest(&content));
    if data.get("hash").is_some() {
        let hash = data.object("hash")?;
        let algorithm = hash.string("algorithm")?;
        if algorithm != "sha256" {
            return Err(EntryError::HashAlgorithm(echo(algorithm)));
        }
        let sent = hash.string("value")?;
        // Rekor compares the hex strings as they are.
        if sent != computed {
            return Err(EntryError::RekordHashMismatch {
                sent: echo(sent),
                computed,
            });
        }
    }
    let key_bytes = signature.object("publicKey")?.base64("content")?;
    let key = parse_key(&key_bytes, "spec.signature.publicKey.content")?;
    let signature_bytes = signature.base64("content")?;
    key.verify(HashAlgorithm::Sha256, &content, &signature_bytes)
        .map_err(|source| EntryError::Key {
            field: "spec.signature.content".into(),
            source,
        })?;

    let canonical = json!({
        "data": {"hash": {"algorithm": "sha256", "value": computed}},
        "signature": {
            "content": encode_base64(&signature_bytes),
            "format": FORMAT_X509,
            "publicKey": {"content": encode_base64(key.canonical_pem().as_bytes())},
        },
    });
    let mut keys = key_keys(&key);
    keys.extend(digest_key("sha256", &computed));
    Ok((canonical, keys))
}

#[cfg(test)]
mod tests {
    use atesto_common::pubkey::{HashAlgorithm, PublicKey};
    use serde_json::json;

    use super::super::testkit::{self, Signer, b64};
    use super::super::{EntryKind, prepare};

    const ARTIFACT: &[u8] = b"rekor-cli uploaded this";

    /// A rekord ProposedEntry as rekor-cli builds it.
    fn request(signer: &Signer, artifact: &[u8], key: &[u8]) -> serde_json::Value {
        json!({
            "kind": "rekord",
            "apiVersion": "0.0.1",
            "spec": {
                "signature": {
                    "format": "x509",
                    "content": b64(&signer.sign(artifact)),
                    "publicKey": {"content": b64(key)},
                },
                "data": {"content": b64(artifact)},
            },
        })
    }

    fn prepare_value(value: &serde_json::Value) -> Result<super::super::PreparedEntry, String> {
        prepare(&serde_json::to_vec(value).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn stores_the_hash_not_the_artifact() {
        for signer in [testkit::p256(), testkit::ed25519(), testkit::rsa(2048)] {
            let pem = signer.pem();
            let body = request(&signer, ARTIFACT, pem.as_bytes());
            let entry = prepare_value(&body).unwrap();
            assert_eq!(entry.kind, EntryKind::Rekord);
            let digest = hex::encode(HashAlgorithm::Sha256.digest(ARTIFACT));
            let stored: serde_json::Value = serde_json::from_slice(&entry.body).unwrap();
            assert_eq!(
                stored["spec"],
                json!({
                    "data": {"hash": {"algorithm": "sha256", "value": digest}},
                    "signature": {
                        "content": body["spec"]["signature"]["content"],
                        "format": "x509",
                        "publicKey": {"content": b64(pem.as_bytes())},
                    },
                })
            );
            let key = PublicKey::parse(pem.as_bytes()).unwrap();
            let spki = hex::encode(HashAlgorithm::Sha256.digest(key.spki_der()));
            assert_eq!(
                entry.index_keys,
                [
                    format!("key:{}", key.fingerprint()),
                    format!("spki:{spki}"),
                    format!("sha256:{digest}")
                ]
            );

            // The right hash sent along, or a DER key: the same entry.
            let mut with_hash = body.clone();
            with_hash["spec"]["signature"]["publicKey"]["content"] = json!(b64(&signer.spki_der()));
            with_hash["spec"]["data"]["hash"] = json!({"algorithm": "sha256", "value": digest});
            let again = prepare_value(&with_hash).unwrap();
            assert_eq!(again.body, entry.body);
        }
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let signer = testkit::p256();
        let pem = signer.pem();
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut body = request(&signer, ARTIFACT, pem.as_bytes());
            f(&mut body);
            prepare_value(&body).unwrap_err()
        };
        assert_eq!(
            with(&|b| b["spec"]["signature"]["format"] = json!("pgp")),
            "spec.signature.format \"pgp\" is not supported: this log verifies x509 (PEM or DER keys and certificates) rekord entries only"
        );
        assert_eq!(
            with(&|b| b["spec"]["data"]["content"] = json!(b64(b"other bytes"))),
            "spec.signature.content: signature does not verify against the public key"
        );
        assert_eq!(
            with(&|b| b["spec"]["data"]["hash"] =
                json!({"algorithm": "sha256", "value": "00".repeat(32)})),
            format!(
                "spec.data.hash.value {} is not the SHA-256 of spec.data.content ({})",
                "00".repeat(32),
                hex::encode(HashAlgorithm::Sha256.digest(ARTIFACT))
            )
        );
        assert_eq!(
            with(&|b| b["spec"]["data"]["hash"] = json!({"algorithm": "sha1", "value": "00"})),
            "unsupported hash algorithm \"sha1\": expected sha256, sha384 or sha512"
        );
        assert_eq!(
            with(&|b| b["spec"]["data"] =
                json!({"hash": {"algorithm": "sha256", "value": "00".repeat(32)}})),
            "missing required field spec.data.content"
        );
        assert_eq!(
            with(&|b| b["spec"]["signature"]["publicKey"]["content"] = json!("")),
            "missing required field spec.signature.publicKey.content"
        );
    }
}
