//! A Rekor v2 CreateEntryRequest (`POST /api/v2/log/entries`): parsed,
//! checked, verified and canonicalised. Two forms per input:
//!
//! - the input as the body: any bytes give an entry or an error, never a panic;
//! - a request built around the input, signed by a fixed P-256 key over the
//!   input's SHA-256, its field names, base64 alphabet, keyDetails and digest
//!   chosen by the first byte: the checks past the JSON run too, and a request
//!   that is right in every field must be accepted with the canonical body.
#![no_main]

use std::sync::OnceLock;

use atesto_rekor_v2::entry::prepare;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const KEY_DETAILS: [&str; 4] = [
    "PKIX_ECDSA_P256_SHA_256",
    "PKIX_ECDSA_P384_SHA_384",
    "PKIX_ED25519_PH",
    "PKIX_ED25519",
];

fn key() -> &'static (EcdsaKeyPair, Vec<u8>) {
    static KEY: OnceLock<(EcdsaKeyPair, Vec<u8>)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("a key");
        let spki = key.public_key().as_der().expect("SPKI").as_ref().to_vec();
        (key, spki)
    })
}

/// Prepares `body`; an accepted entry's body is RFC 8785 JSON of a hashedrekord 0.0.2.
fn check(body: &[u8]) -> bool {
    let Ok(entry) = prepare(body) else {
        return false;
    };
    let stored: Value = serde_json::from_slice(&entry.body).expect("the stored body is JSON");
    assert_eq!(stored["kind"], "hashedrekord");
    assert_eq!(stored["apiVersion"], "0.0.2");
    assert_eq!(
        serde_json_canonicalizer::to_vec(&stored).expect("canonical"),
        entry.body
    );
    assert!(entry.body.len() <= usize::from(u16::MAX));
    true
}

fuzz_target!(|input: &[u8]| {
    check(input);

    let Some((&choice, artifact)) = input.split_first() else {
        return;
    };
    let (key, spki) = key();
    let signature = key.sign(&SystemRandom::new(), artifact).expect("signing");
    let mut digest = digest(&SHA256, artifact).as_ref().to_vec();
    let details = KEY_DETAILS[usize::from(choice & 0b11)];
    let url_safe = choice & 0b100 != 0;
    let snake_case = choice & 0b1000 != 0;
    let short_digest = choice & 0b1_0000 != 0;
    if short_digest {
        digest.pop();
    }
    let encode = |bytes: &[u8]| {
        if url_safe {
            URL_SAFE_NO_PAD.encode(bytes)
        } else {
            STANDARD.encode(bytes)
        }
    };
    let (request, public_key, raw_bytes, key_details) = if snake_case {
        (
            "hashed_rekord_request_v002",
            "public_key",
            "raw_bytes",
            "key_details",
        )
    } else {
        (
            "hashedRekordRequestV002",
            "publicKey",
            "rawBytes",
            "keyDetails",
        )
    };
    let body = json!({request: {
        "digest": encode(&digest),
        "signature": {
            "content": encode(signature.as_ref()),
            "verifier": {public_key: {raw_bytes: encode(spki)}, key_details: details},
        },
    }});
    let accepted = check(&serde_json::to_vec(&body).expect("JSON"));
    let right = details == "PKIX_ECDSA_P256_SHA_256" && !short_digest;
    assert_eq!(accepted, right, "{body}");
});
