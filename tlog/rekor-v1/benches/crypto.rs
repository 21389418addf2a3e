//! The CPU floor of an entry: the server verifies one ECDSA P-256 signature
//! (hashedrekord, over a SHA-256 digest) and signs one SignedEntryTimestamp,
//! plus one checkpoint signature per batch. Throughput per core cannot beat
//! 1 / (verify + sign), whatever the HTTP and storage layers do.

use std::hint::black_box;

use atesto_common::keys::{KeyType, PrivateKey};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};

/// A SET payload is the canonical JSON of the base64 entry body, the log id,
/// index and time: about 1 KiB for a hashedrekord.
const SET_PAYLOAD_BYTES: usize = 1024;

fn ecdsa(c: &mut Criterion) {
    let client = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
    let public_der = client.public_key().as_der().expect("der").as_ref().to_vec();
    let artifact_digest = digest(&SHA256, b"an artifact");
    let signature = client.sign_digest(&artifact_digest).expect("sign");

    c.bench_function("ecdsa_p256_verify_digest", |b| {
        b.iter(|| {
            // Parsed per call: the server meets a different key in every entry.
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, black_box(&public_der))
                .verify_digest(black_box(&artifact_digest), black_box(signature.as_ref()))
                .expect("valid")
        })
    });

    let log_key = PrivateKey::generate(KeyType::EcdsaP256).expect("log key");
    let payload = vec![b'x'; SET_PAYLOAD_BYTES];
    c.bench_function("ecdsa_p256_sign_set_1KiB", |b| {
        b.iter(|| log_key.sign(black_box(&payload)).expect("sign"))
    });
    c.bench_function("ecdsa_p256_sign_digest", |b| {
        b.iter(|| {
            client
                .sign_digest(black_box(&artifact_digest))
                .expect("sign")
        })
    });
}

/// A hashedrekord ProposedEntry as a client sends it.
fn hashedrekord(key: &EcdsaKeyPair, artifact: &[u8]) -> Vec<u8> {
    let hash = digest(&SHA256, artifact);
    let signature = key.sign_digest(&hash).expect("sign");
    let der = key.public_key().as_der().expect("der");
    let pem = pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, der.as_ref())
        .expect("pem");
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(hash.as_ref())}},
            "signature": {
                "content": STANDARD.encode(signature.as_ref()),
                "publicKey": {"content": STANDARD.encode(pem)}
            }
        }
    }))
    .expect("json")
}

fn prepare(c: &mut Criterion) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
    let body = hashedrekord(&key, b"an artifact");
    c.bench_function("entry_prepare_hashedrekord", |b| {
        b.iter(|| atesto_rekor_v1::entry::prepare(black_box(&body)).expect("valid entry"))
    });
}

criterion_group!(benches, ecdsa, prepare);
criterion_main!(benches);
