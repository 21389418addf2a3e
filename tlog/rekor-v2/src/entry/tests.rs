use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{KEY_DETAILS, Verifier, canonical_body, prepare};

const ARTIFACT: &[u8] = b"release tarball";

/// A P-256 client key and its signature over the artifact's SHA-256.
struct Signed {
    spki: Vec<u8>,
    digest: Vec<u8>,
    signature: Vec<u8>,
    pkcs8: Vec<u8>,
}

fn signed() -> Signed {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
    // ECDSA over a digest the client computed: the key hashes the message,
    // so signing the artifact signs its SHA-256.
    let signature = key.sign(&rng, ARTIFACT).unwrap().as_ref().to_vec();
    Signed {
        spki: key.public_key().as_der().unwrap().as_ref().to_vec(),
        digest: digest(&SHA256, ARTIFACT).as_ref().to_vec(),
        signature,
        pkcs8: pkcs8.as_ref().to_vec(),
    }
}

fn request(signed: &Signed, verifier: Value) -> Value {
    json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(&signed.digest),
        "signature": {"content": STANDARD.encode(&signed.signature), "verifier": verifier},
    }})
}

fn key_verifier(signed: &Signed) -> Value {
    json!({"publicKey": {"rawBytes": STANDARD.encode(&signed.spki)}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"})
}

fn refusal(body: &Value) -> String {
    prepare(&serde_json::to_vec(body).unwrap())
        .unwrap_err()
        .to_string()
}

#[test]
fn the_canonical_body_is_rekor_tiles_entry_in_rfc_8785_form() {
    let signed = signed();
    let entry =
        prepare(&serde_json::to_vec(&request(&signed, key_verifier(&signed))).unwrap()).unwrap();
    let expected = format!(
        r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"SHA2_256","digest":"{}"}},"signature":{{"content":"{}","verifier":{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{{"rawBytes":"{}"}}}}}}}}}}}}"#,
        STANDARD.encode(&signed.digest),
        STANDARD.encode(&signed.signature),
        STANDARD.encode(&signed.spki),
    );
    assert_eq!(String::from_utf8(entry.body.clone()).unwrap(), expected);

    // snake_case names, URL-safe unpadded base64 and nulls: the same entry.
    let snake = json!({"hashed_rekord_request_v002": {
        "digest": URL_SAFE_NO_PAD.encode(&signed.digest),
        "signature": {"content": STANDARD.encode(&signed.signature), "verifier": {
            "public_key": {"raw_bytes": STANDARD.encode(&signed.spki)},
            "x509_certificate": null,
            "key_details": "PKIX_ECDSA_P256_SHA_256",
        }},
    }, "dsse_request_v002": null});
    assert_eq!(
        prepare(&serde_json::to_vec(&snake).unwrap()).unwrap(),
        entry
    );
}

/// The body as RFC 8785 writes it: parsed, then canonicalized.
fn canonicalized(body: &[u8]) -> Vec<u8> {
    let value: Value = serde_json::from_slice(body).unwrap();
    serde_json_canonicalizer::to_vec(&value).unwrap()
}

#[test]
fn the_written_body_is_what_rfc_8785_makes_of_it() {
    // Every key details name and both verifiers, with byte strings of
    // every length modulo 3 (base64 with two, one and no padding).
    for details in KEY_DETAILS {
        for len in [1, 2, 3, 32, 64, 71, 91] {
            let bytes: Vec<u8> = (0..len).map(|n| (n * 37 % 256) as u8).collect();
            for verifier in [
                Verifier::PublicKey(bytes.clone()),
                Verifier::Certificate(bytes.clone()),
            ] {
                let body = canonical_body(&details, &bytes, &bytes[..len / 2 + 1], &verifier);
                assert_eq!(
                    String::from_utf8(canonicalized(&body)).unwrap(),
                    String::from_utf8(body).unwrap(),
                );
            }
        }
    }
}

#[test]
fn a_certificate_verifier_is_kept_as_sent() {
    let signed = signed();
    let key_pair = rcgen::KeyPair::try_from(signed.pkcs8.as_slice()).unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["signer.example".to_owned()])
        .unwrap()
        .self_signed(&key_pair)
        .unwrap();
    let verifier = json!({"x509Certificate": {"rawBytes": STANDARD.encode(certificate.der())}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"});
    let entry = prepare(&serde_json::to_vec(&request(&signed, verifier)).unwrap()).unwrap();
    let body: Value = serde_json::from_slice(&entry.body).unwrap();
    assert_eq!(
        body["spec"]["hashedRekordV002"]["signature"]["verifier"]["x509Certificate"]["rawBytes"],
        STANDARD.encode(certificate.der())
    );
    assert_eq!(canonicalized(&entry.body), entry.body);
}

#[test]
fn each_refusal_says_what_is_wrong() {
    let signed = signed();
    let good = request(&signed, key_verifier(&signed));
    assert!(prepare(&serde_json::to_vec(&good).unwrap()).is_ok());

    let mut unknown = good.clone();
    unknown["hashedRekordRequestV002"]["extra"] = json!(1);
    assert!(
        refusal(&unknown).contains("unknown field `extra`"),
        "{}",
        refusal(&unknown)
    );

    let dsse = json!({"dsseRequestV002": {"envelope": {}, "verifiers": []}});
    assert!(refusal(&dsse).starts_with("dsseRequestV002 is not accepted"));
    assert_eq!(
        refusal(&json!({})),
        "missing hashedRekordRequestV002: the only entry type of this log"
    );

    let mut details = good.clone();
    details["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] =
        json!("PKIX_ECDSA_P384_SHA_384");
    assert_eq!(
        refusal(&details),
        "keyDetails PKIX_ECDSA_P384_SHA_384 names a ECDSA P-384 key, but the verifier holds a ECDSA P-256 key"
    );
    details["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] =
        json!("PKIX_ED25519");
    assert!(refusal(&details).starts_with("unsupported keyDetails \"PKIX_ED25519\""));

    let mut short = good.clone();
    short["hashedRekordRequestV002"]["digest"] = json!(STANDARD.encode(&signed.digest[..20]));
    assert_eq!(
        refusal(&short),
        "digest is 20 bytes, but keyDetails PKIX_ECDSA_P256_SHA_256 signs a sha256 digest of 32 bytes"
    );

    let mut other = good.clone();
    other["hashedRekordRequestV002"]["digest"] =
        json!(STANDARD.encode(digest(&SHA256, b"another artifact")));
    assert!(refusal(&other).starts_with("signature.content does not verify"));

    // r || s of the same key: verifiable, but Rekor takes DER only.
    let fixed = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &signed.pkcs8).unwrap();
    let raw = fixed.sign(&SystemRandom::new(), ARTIFACT).unwrap();
    let mut raw_request = good.clone();
    raw_request["hashedRekordRequestV002"]["signature"]["content"] = json!(STANDARD.encode(raw));
    assert!(refusal(&raw_request).starts_with("signature.content is not an ASN.1 DER"));

    let mut both = good.clone();
    both["hashedRekordRequestV002"]["signature"]["verifier"]["x509Certificate"] =
        json!({"rawBytes": STANDARD.encode(&signed.spki)});
    assert_eq!(
        refusal(&both),
        "give exactly one of verifier.publicKey and verifier.x509Certificate"
    );

    let mut not_base64 = good.clone();
    not_base64["hashedRekordRequestV002"]["digest"] = json!("not base64!");
    assert_eq!(refusal(&not_base64), "digest is not valid base64");

    let mut no_key = good.clone();
    no_key["hashedRekordRequestV002"]["signature"]["verifier"]["publicKey"]["rawBytes"] = json!("");
    assert_eq!(
        refusal(&no_key),
        "missing required field signature.verifier.publicKey.rawBytes"
    );
    let mut bad_key = good;
    bad_key["hashedRekordRequestV002"]["signature"]["verifier"]["publicKey"]["rawBytes"] =
        json!(STANDARD.encode(b"0 not a key"));
    assert!(refusal(&bad_key).starts_with("signature.verifier.publicKey.rawBytes: "));
    assert!(refusal(&json!([])).starts_with("the request is not a CreateEntryRequest"));
}
