//! Hardening of `atesto tlog` as a client meets it over HTTP: signature
//! checks run in a bounded pool (health stays fast under load, a full pool
//! answers 503 + Retry-After), the verification work of one entry is capped,
//! and one signature has one spelling in the log.

mod support;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::*;

const PAYLOAD_TYPE: &str = "text/plain";

/// A dsse proposal signed by every signer, its signatures in reverse order
/// of its verifiers: verifier i is tried against signatures until the one by
/// its key, so `n` signers cost n(n+1)/2 signature checks.
fn dsse_by_all(signers: &[Signer], payload: &[u8]) -> Value {
    let pae = pae(PAYLOAD_TYPE, payload);
    let signatures: Vec<Value> = signers
        .iter()
        .rev()
        .map(|s| json!({"keyid": "", "sig": STANDARD.encode(s.sign(&pae))}))
        .collect();
    let envelope = json!({
        "payload": STANDARD.encode(payload),
        "payloadType": PAYLOAD_TYPE,
        "signatures": signatures,
    })
    .to_string();
    let verifiers: Vec<String> = signers
        .iter()
        .map(|s| STANDARD.encode(s.public_key_pem()))
        .collect();
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope, "verifiers": verifiers}},
    })
}

/// A retrieve request naming 10 proposed entries (Rekor's most), each
/// verified in full before the log can look it up.
fn heavy_retrieve() -> Value {
    let signers: Vec<Signer> = (0..5).map(|_| Signer::new()).collect();
    let proposals: Vec<Value> = (0..10u8)
        .map(|i| dsse_by_all(&signers, &[b'p', i]))
        .collect();
    json!({ "entries": proposals })
}

const RETRIEVE: &str = "/api/v1/log/entries/retrieve";

#[test]
fn healthz_stays_fast_while_heavy_verification_is_in_flight() {
    let (_dir, tlog, _key) = fresh_log("cpu_pool: {workers: 1, queue: 1000}\n", &[]);
    let request = heavy_retrieve();
    let reply = tlog.post(RETRIEVE, &request);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([]), "none of the proposals is logged");

    let load_until = Instant::now() + Duration::from_secs(4);
    let (served, probes) = std::thread::scope(|scope| {
        let loaders: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let mut served = 0;
                    while Instant::now() < load_until {
                        let reply = tlog.post(RETRIEVE, &request);
                        assert_eq!(reply.status, 200, "{}", reply.text);
                        served += 1;
                    }
                    served
                })
            })
            .collect();
        // Let the load build up, then time health checks through it.
        std::thread::sleep(Duration::from_millis(500));
        let mut probes = Vec::new();
        while Instant::now() + Duration::from_millis(500) < load_until {
            let started = Instant::now();
            let reply = tlog.get("/healthz");
            assert_eq!(reply.status, 200, "{}", reply.text);
            probes.push(started.elapsed());
            std::thread::sleep(Duration::from_millis(50));
        }
        let served: u32 = loaders.into_iter().map(|l| l.join().unwrap()).sum();
        (served, probes)
    });
    assert!(
        served >= 8,
        "the load did not run: {served} requests served"
    );
    let slowest = probes.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_millis(200),
        "/healthz took {slowest:?} under load (probes: {probes:?})"
    );
}

#[test]
fn a_full_verification_pool_answers_503_with_retry_after() {
    let (_dir, tlog, _key) = fresh_log("cpu_pool: {workers: 1, queue: 0}\n", &[]);
    let request = heavy_retrieve();
    let start = Barrier::new(16);
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    tlog.post(RETRIEVE, &request)
                })
            })
            .collect();
        senders.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    let served = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        busy.len() + served,
        replies.len(),
        "only 200 or 503 expected"
    );
    assert!(served >= 1, "no request was served");
    assert!(!busy.is_empty(), "16 at once never filled a pool of 1");
    for reply in busy {
        let message = reply.expect_error(503);
        assert!(message.contains("retry"), "{message}");
        assert_eq!(reply.header("Retry-After"), Some("1"));
    }
    // Once the burst is over the same request is served again.
    let reply = tlog.post(RETRIEVE, &request);
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[test]
fn one_dsse_entry_may_cost_at_most_32_signature_checks() {
    let (_dir, tlog, _key) = fresh_log("", &[]);
    let five: Vec<Signer> = (0..5).map(|_| Signer::new()).collect();
    let reply = tlog.post("/api/v1/log/entries", &dsse_by_all(&five, b"five keys"));
    assert_eq!(reply.status, 201, "{}", reply.text);

    let six: Vec<Signer> = (0..6).map(|_| Signer::new()).collect();
    let message = tlog
        .post("/api/v1/log/entries", &dsse_by_all(&six, b"six keys"))
        .expect_error(400);
    assert_eq!(
        message,
        "6 signatures and 6 verifiers make 36 signature checks: at most 32 are accepted per entry"
    );
    let message = tlog
        .post(
            RETRIEVE,
            &json!({"entries": [dsse_by_all(&six, b"six keys")]}),
        )
        .expect_error(400);
    assert!(message.contains("36 signature checks"), "{message}");
}

/// The order of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// (r, s) of a DER ECDSA signature, each left-padded to 32 bytes.
fn der_scalars(der: &[u8]) -> ([u8; 32], [u8; 32]) {
    let mut rest = &der[2..];
    let mut scalars = [[0u8; 32]; 2];
    for scalar in &mut scalars {
        let len = rest[1] as usize;
        let value = &rest[2..2 + len];
        let value = &value[value.len().saturating_sub(32)..];
        scalar[32 - value.len()..].copy_from_slice(value);
        rest = &rest[2 + len..];
    }
    (scalars[0], scalars[1])
}

fn der_integer(scalar: &[u8; 32]) -> Vec<u8> {
    let start = scalar.iter().position(|&b| b != 0).unwrap_or(31);
    let mut value = scalar[start..].to_vec();
    if value[0] & 0x80 != 0 {
        value.insert(0, 0);
    }
    let mut out = vec![0x02, value.len() as u8];
    out.extend(value);
    out
}

/// The same signature with s replaced by n - s: just as valid (ECDSA is
/// malleable), different bytes.
fn other_s(der: &[u8]) -> Vec<u8> {
    let (r, s) = der_scalars(der);
    let mut negated = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = P256_ORDER[i] as i16 - s[i] as i16 - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        negated[i] = digit as u8;
    }
    let mut body = der_integer(&r);
    body.extend(der_integer(&negated));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// Issue finding 9: lowercase hex, uppercase hex, raw r || s and the other-S
/// DER of one signature each got 201. Now uppercase is the same entry (409),
/// raw r || s is refused as Rekor refuses it, and the other-S DER form is a
/// distinct valid signature that Rekor (Go's ecdsa.VerifyASN1, no low-S rule)
/// also logs: refusing it would refuse about half of Go signers' signatures.
#[test]
fn one_signature_has_one_spelling_in_the_log() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let signer = Signer::new();
    let artifact = b"one artifact, one signature";
    let digest = hex::encode(Sha256::digest(artifact));
    let der = signer.sign(artifact);
    let pem = STANDARD.encode(signer.public_key_pem());
    let proposal = |digest: &str, signature: &[u8]| {
        hashedrekord("sha256", digest, &STANDARD.encode(signature), &pem)
    };

    let logged = tlog.submit(&proposal(&digest, &der), &key);
    assert_eq!(
        logged.body_json()["spec"]["data"]["hash"]["value"],
        digest.as_str()
    );

    let upper = tlog.post(
        "/api/v1/log/entries",
        &proposal(&digest.to_uppercase(), &der),
    );
    let message = upper.expect_error(409);
    assert!(message.contains(&logged.id), "{message}");
    assert_eq!(
        upper.header("Location"),
        Some(format!("/api/v1/log/entries/{}", logged.id).as_str())
    );

    let (r, s) = der_scalars(&der);
    let raw: Vec<u8> = r.iter().chain(&s).copied().collect();
    let message = tlog
        .post("/api/v1/log/entries", &proposal(&digest, &raw))
        .expect_error(400);
    assert!(
        message.contains("not an ASN.1 DER ECDSA signature"),
        "{message}"
    );

    let malleated = tlog.submit(&proposal(&digest, &other_s(&der)), &key);
    assert_ne!(malleated.id, logged.id);
    assert_eq!(malleated.log_index, logged.log_index + 1);
}

/// A search used to answer every match, one store read each: a key under
/// millions of entries made one request do millions of reads. It answers
/// at most 1000 ids now, the most recent.
#[test]
fn an_index_search_answers_at_most_1000_ids_the_most_recent() {
    let (_dir, tlog, _key) = fresh_log("", &[]);
    let signer = Signer::new();
    let total = 1003;
    let ids: Vec<(u64, String)> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..8)
            .map(|worker| {
                let (tlog, signer) = (&tlog, &signer);
                scope.spawn(move || {
                    (worker..total)
                        .step_by(8)
                        .map(|i| {
                            let artifact = format!("artifact {i}");
                            let reply = tlog.post(
                                "/api/v1/log/entries",
                                &signer.hashedrekord(artifact.as_bytes()),
                            );
                            assert_eq!(reply.status, 201, "{}", reply.text);
                            let entry = LogEntry::from_reply(&reply.text);
                            (entry.log_index, entry.id)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        senders
            .into_iter()
            .flat_map(|s| s.join().unwrap())
            .collect()
    });
    let mut ids = ids;
    ids.sort();
    let query = json!({"publicKey": {
        "format": "x509",
        "content": STANDARD.encode(signer.public_key_pem()),
    }});
    let reply = tlog.post("/api/v1/index/retrieve", &query);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let answered: Vec<String> = serde_json::from_value(reply.json()).unwrap();
    let newest: Vec<String> = ids[ids.len() - 1000..]
        .iter()
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(answered, newest);
}
