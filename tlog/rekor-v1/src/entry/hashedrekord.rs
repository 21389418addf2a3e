//! hashedrekord 0.0.1: a signature over the digest of an artifact.
//!
//! Validation and canonical form follow Rekor's hashedrekord v0.0.1 entry:
//! the stored spec keeps the hash in lowercase hex, the signature bytes
//! re-encoded as standard base64 and the key as its canonical PEM. ECDSA
//! signatures must be DER, as Rekor's verifier requires.

use atesto_common::pubkey::HashAlgorithm;
use serde_json::{Value, json};

use super::error::EntryError;
use super::fields::{Fields, echo, encode_base64, parse_key};
use super::index::{digest_key, key_keys};

const HASH_VALUE: &str = "spec.data.hash.value";

/// Validates a hashedrekord spec and verifies its signature; returns the
/// canonical spec and the index keys.
pub(super) fn prepare(spec: &Fields<'_>) -> Result<(Value, Vec<String>), EntryError> {
    let hash = spec.object("data")?.object("hash")?;
    // Rekor's schema requires the algorithm, spelled exactly.
    let algorithm_name = hash.string("algorithm")?;
    let algorithm = HashAlgorithm::from_name(algorithm_name)
        .ok_or_else(|| EntryError::HashAlgorithm(echo(algorithm_name)))?;
    let value = hash.string("value")?;
    let expected = 2 * algorithm.output_len();
    if value.len() != expected {
        return Err(EntryError::HashLength {
            field: HASH_VALUE,
            algorithm: algorithm.name(),
            expected,
            actual: value.chars().count(),
        });
    }
    let digest = hex::decode(value).map_err(|_| EntryError::HashHex(HASH_VALUE))?;
    // One digest, one spelling: upper- and lowercase hex are the same entry.
    let value = hex::encode(&digest);
    let value = value.as_str();

    let signature = spec.object("signature")?;
    let key_content = signature.object("publicKey")?.base64("content")?;
    let key = parse_key(&key_content, "spec.signature.publicKey.content")?;
    let signature = signature.base64("content")?;
    if !key.signature_encoding_ok(&signature) {
        return Err(EntryError::EcdsaNotDer("spec.signature.content".into()));
    }
    key.verify_digest(algorithm, &digest, &signature)
        .map_err(|source| EntryError::Key {
            field: "spec.signature.content".into(),
            source,
        })?;

    let canonical = json!({
        "data": {"hash": {"algorithm": algorithm.name(), "value": value}},
        "signature": {
            "content": encode_base64(&signature),
            "publicKey": {"content": encode_base64(key.canonical_pem().as_bytes())},
        },
    });
    let mut keys = key_keys(&key);
    keys.extend(digest_key(algorithm.name(), value));
    Ok((canonical, keys))
}

#[cfg(test)]
mod tests {
    use atesto_common::pubkey::{HashAlgorithm, PublicKey};
    use serde_json::json;

    use super::super::testkit::{self, RSA_1024_PEM, Signer, b64, hashedrekord};
    use super::super::{EntryKind, index, prepare};

    const ARTIFACT: &[u8] = b"release tarball";

    /// A valid request signed by `signer` over `hash` of the artifact.
    fn request(signer: &Signer, hash: HashAlgorithm) -> (Vec<u8>, String) {
        let digest = hash.digest(ARTIFACT);
        let value = hex::encode(&digest);
        let signature = signer.sign_digest(hash, &digest);
        (
            hashedrekord(hash.name(), &value, &signature, signer.pem().as_bytes()),
            value,
        )
    }

    fn error(body: &[u8]) -> String {
        prepare(body).unwrap_err().to_string()
    }

    #[test]
    fn accepts_every_key_type() {
        let cases = [
            (testkit::p256(), HashAlgorithm::Sha256),
            (testkit::p384(), HashAlgorithm::Sha384),
            (testkit::p521(), HashAlgorithm::Sha512),
            (testkit::ed25519(), HashAlgorithm::Sha512),
            (testkit::rsa(2048), HashAlgorithm::Sha256),
            (testkit::rsa(3072), HashAlgorithm::Sha384),
            (testkit::rsa(4096), HashAlgorithm::Sha512),
        ];
        for (signer, hash) in cases {
            let (body, value) = request(&signer, hash);
            let entry = prepare(&body).unwrap();
            assert_eq!(entry.kind, EntryKind::HashedRekord);
            let key = PublicKey::parse(signer.pem().as_bytes()).unwrap();
            assert_eq!(
                entry.index_keys,
                [
                    format!("key:{}", key.fingerprint()),
                    format!(
                        "spki:{}",
                        hex::encode(HashAlgorithm::Sha256.digest(key.spki_der()))
                    ),
                    format!("{}:{value}", hash.name())
                ]
            );
        }
    }

    #[test]
    fn canonical_body_is_exact_and_stable() {
        let signer = testkit::p256();
        let digest = HashAlgorithm::Sha256.digest(ARTIFACT);
        let value = hex::encode(&digest);
        let signature = signer.sign_digest(HashAlgorithm::Sha256, &digest);
        let pem = signer.pem();
        let entry = prepare(&hashedrekord("sha256", &value, &signature, pem.as_bytes())).unwrap();
        let expected = format!(
            r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{value}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}}"#,
            b64(&signature),
            b64(pem.as_bytes())
        );
        assert_eq!(String::from_utf8(entry.body.clone()).unwrap(), expected);

        // Other member order, unknown members, data content, CRLF PEM, DER key.
        let crlf = pem.replace('\n', "\r\n");
        for key in [crlf.as_bytes().to_vec(), signer.spki_der()] {
            let reordered = json!({
                "spec": {
                    "signature": {"publicKey": {"content": b64(&key)}, "content": b64(&signature)},
                    "data": {"content": "aGVsbG8=", "hash": {"value": value, "algorithm": "sha256"}},
                    "extra": 1,
                },
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "ignored": true,
            });
            let again = prepare(&serde_json::to_vec_pretty(&reordered).unwrap()).unwrap();
            assert_eq!(again, entry);
        }
    }

    #[test]
    fn ecdsa_verifies_with_the_entry_hash_and_refuses_raw_signatures() {
        // ECDSA signs the digest truncated to the curve's size, so a P-256
        // signature over the first 32 bytes of a SHA-384 digest is one over it.
        let signer = testkit::p256();
        let digest = HashAlgorithm::Sha384.digest(ARTIFACT);
        let der = signer.sign_digest(HashAlgorithm::Sha256, &digest[..32]);
        let pem = signer.pem();
        prepare(&hashedrekord(
            "sha384",
            &hex::encode(&digest),
            &der,
            pem.as_bytes(),
        ))
        .unwrap();
        // IEEE P1363 r || s: Rekor's verifier (Go's ecdsa.VerifyASN1) refuses it.
        let raw = der_to_raw(&der, 32);
        let refused = prepare(&hashedrekord(
            "sha384",
            &hex::encode(&digest),
            &raw,
            pem.as_bytes(),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            refused.starts_with("spec.signature.content is not an ASN.1 DER ECDSA signature"),
            "{refused}"
        );
    }

    #[test]
    fn an_uppercase_digest_is_stored_in_lowercase() {
        let signer = testkit::p256();
        let digest = HashAlgorithm::Sha256.digest(ARTIFACT);
        let der = signer.sign_digest(HashAlgorithm::Sha256, &digest);
        let pem = signer.pem();
        let lower = hex::encode(&digest);
        let entry =
            |value: &str| prepare(&hashedrekord("sha256", value, &der, pem.as_bytes())).unwrap();
        let stored = entry(&lower);
        let upper = entry(&lower.to_uppercase());
        assert_eq!(upper.body, stored.body);
        assert_eq!(upper.index_keys, stored.index_keys);
    }

    /// r || s of a DER ECDSA signature.
    fn der_to_raw(der: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = &der[2..];
        for _ in 0..2 {
            let n = rest[1] as usize;
            let int = &rest[2..2 + n];
            let int = &int[int.len().saturating_sub(len)..];
            out.extend(std::iter::repeat_n(0, len - int.len()));
            out.extend_from_slice(int);
            rest = &rest[2 + n..];
        }
        out
    }

    #[test]
    fn certificate_identities_are_indexed_and_found() {
        use rcgen::{CertificateParams, SanType};
        let signer = testkit::p256();
        let key_pair = rcgen::KeyPair::try_from(signer.pkcs8().as_slice()).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![
            SanType::Rfc822Name("Alice@Example.com".try_into().unwrap()),
            SanType::URI(
                "https://github.com/Acme/app/.github/workflows/release.yml@refs/tags/v1"
                    .try_into()
                    .unwrap(),
            ),
        ];
        let cert = params.self_signed(&key_pair).unwrap();
        let digest = HashAlgorithm::Sha256.digest(ARTIFACT);
        let value = hex::encode(&digest);
        let signature = signer.sign_digest(HashAlgorithm::Sha256, &digest);
        let body = hashedrekord(
            "sha256",
            &value.to_uppercase(),
            &signature,
            cert.pem().as_bytes(),
        );
        let entry = prepare(&body).unwrap();

        // The hash is stored and indexed in lowercase, whatever case was sent:
        // one digest is one entry.
        let stored: serde_json::Value = serde_json::from_slice(&entry.body).unwrap();
        assert_eq!(stored["spec"]["data"]["hash"]["value"], value);
        let stored_key = stored["spec"]["signature"]["publicKey"]["content"]
            .as_str()
            .unwrap();
        let canonical = PublicKey::parse(cert.der()).unwrap().canonical_pem();
        assert_eq!(stored_key, b64(canonical.as_bytes()));

        let queries = [
            json!({"hash": value}),
            json!({"hash": format!("SHA256:{}", value.to_uppercase())}),
            json!({"email": "ALICE@example.COM"}),
            json!({"subject": "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1"}),
            json!({"publicKey": {"format": "x509", "content": b64(cert.pem().as_bytes())}}),
            // The bare key's fingerprint finds the entry of its certificate.
            json!({"keyFingerprint": format!("sha256:{}", hex::encode(HashAlgorithm::Sha256.digest(&signer.spki_der())))}),
        ];
        for query in queries {
            let query = index::parse_index_query(&serde_json::to_vec(&query).unwrap()).unwrap();
            for key in &query.keys {
                assert!(
                    entry.index_keys.contains(key),
                    "{key} not in {:?}",
                    entry.index_keys
                );
            }
        }
        assert_eq!(entry.index_keys.len(), 5);
        assert_eq!(
            index::stored_spki_keys(&entry.body),
            [format!(
                "spki:{}",
                hex::encode(HashAlgorithm::Sha256.digest(&signer.spki_der()))
            )]
        );
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let signer = testkit::p256();
        let digest = HashAlgorithm::Sha256.digest(ARTIFACT);
        let value = hex::encode(&digest);
        let signature = signer.sign_digest(HashAlgorithm::Sha256, &digest);
        let pem = signer.pem();
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut body: serde_json::Value =
                serde_json::from_slice(&hashedrekord("sha256", &value, &signature, pem.as_bytes()))
                    .unwrap();
            f(&mut body);
            error(&serde_json::to_vec(&body).unwrap())
        };
        assert_eq!(
            with(&|b| b["spec"]["data"]["hash"]["algorithm"] = json!(null)),
            "missing required field spec.data.hash.algorithm"
        );
        assert_eq!(
            with(&|b| b["spec"]["data"]["hash"]["algorithm"] = json!("md5")),
            "unsupported hash algorithm \"md5\": expected sha256, sha384 or sha512"
        );
        assert_eq!(
            with(&|b| b["spec"]["data"]["hash"]["algorithm"] = json!("sha384")),
            "spec.data.hash.value has 64 characters but a sha384 digest is 96 hex digits"
        );
        assert_eq!(
            with(&|b| b["spec"]["data"]["hash"]["value"] = json!("z".repeat(64))),
            "spec.data.hash.value is not a hexadecimal string"
        );
        assert_eq!(
            with(&|b| b["spec"]["data"] = json!("x")),
            "field spec.data must be an object"
        );
        assert_eq!(
            with(&|b| b["spec"]
                .as_object_mut()
                .unwrap()
                .remove("signature")
                .map(drop)
                .unwrap()),
            "missing required field spec.signature"
        );
        assert_eq!(
            with(&|b| b["spec"]["signature"]["content"] = json!("")),
            "missing required field spec.signature.content"
        );
        assert!(
            with(&|b| b["spec"]["signature"]["content"] = json!("not base64!"))
                .starts_with("field spec.signature.content is not valid base64: ")
        );
        let csr =
            b64(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
        assert_eq!(
            with(&|b| b["spec"]["signature"]["publicKey"]["content"] = json!(csr)),
            "spec.signature.publicKey.content: PEM block is a CERTIFICATE REQUEST, expected PUBLIC KEY or CERTIFICATE"
        );
        assert_eq!(
            with(&|b| b["spec"]["signature"]["publicKey"]["content"] =
                json!(b64(RSA_1024_PEM.as_bytes()))),
            "spec.signature.publicKey.content: RSA key of 1024 bits is too weak: 2048 to 4096 bits are accepted"
        );
        assert_eq!(
            with(&|b| b["spec"]["data"]["hash"]["value"] =
                json!(hex::encode(HashAlgorithm::Sha256.digest(b"other")))),
            "spec.signature.content: signature does not verify against the public key"
        );

        let ed = testkit::ed25519();
        let sig = ed.sign_digest(
            HashAlgorithm::Sha512,
            &HashAlgorithm::Sha512.digest(ARTIFACT),
        );
        assert_eq!(
            error(&hashedrekord("sha256", &value, &sig, ed.pem().as_bytes())),
            "spec.signature.content: Ed25519 keys verify a pre-computed digest only as Ed25519ph over SHA-512, not over sha256"
        );
    }
}
