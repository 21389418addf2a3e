//! Hostile requests to the Rekor v2 log: its one write and its tiles.

use serde_json::json;

use super::cases::*;

const ENTRIES: &str = "/api/v2/log/entries";

pub(super) fn rekor_v2_cases() -> Vec<Case> {
    let mut cases = json_endpoint_cases(&[ENTRIES]);
    cases.extend(protocol_cases());
    let digest = b64(&[7; 32]);
    let verifier = |key: serde_json::Value| json!({"publicKey": {"rawBytes": key}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"});
    let request = |digest: serde_json::Value, content: serde_json::Value, verifier| json!({"hashedRekordRequestV002": {"digest": digest, "signature": {"content": content, "verifier": verifier}}});
    for (name, body) in [
        ("an array", json!([])),
        (
            "the entry a string",
            json!({"hashedRekordRequestV002": "x"}),
        ),
        (
            "both entry types",
            json!({"hashedRekordRequestV002": {}, "dsseRequestV002": {}}),
        ),
        (
            "digest a number",
            request(json!(1), json!("AA=="), verifier(json!("AA=="))),
        ),
        (
            "digest huge",
            request(
                json!(b64(&[1; 60_000])),
                json!("AA=="),
                verifier(json!("AA==")),
            ),
        ),
        (
            "key not DER",
            request(
                json!(digest),
                json!("AA=="),
                verifier(json!(b64(b"0\x82\xff\xff"))),
            ),
        ),
        (
            "key a certificate of garbage",
            request(
                json!(digest),
                json!("AA=="),
                json!({"x509Certificate": {"rawBytes": b64(&[0x30; 300])}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}),
            ),
        ),
        (
            "keyDetails a number",
            request(
                json!(digest),
                json!("AA=="),
                json!({"publicKey": {"rawBytes": "AA=="}, "keyDetails": 5}),
            ),
        ),
        (
            "keyDetails long",
            request(
                json!(digest),
                json!("AA=="),
                json!({"publicKey": {"rawBytes": "AA=="}, "keyDetails": "K".repeat(5000)}),
            ),
        ),
        (
            "signature huge",
            request(
                json!(digest),
                json!(b64(&[9; 50_000])),
                verifier(json!("AA==")),
            ),
        ),
    ] {
        cases.push(post_json(ENTRIES, &body).named(name));
    }
    for path in [
        "/tile/0/x999/x999/x999/x999/x999/x999/999",
        "/tile/entries/999.p/0",
        "/api/v2/tile/99/000",
        "/api/v2/tile/entries/x001/000.p/255",
        "/tile/0/000.p/999999999999999999999",
        "/api/v2/checkpoint?x=%ff",
        "/api/v2/shards/99999999999999999999999/checkpoint",
    ] {
        cases.push(get(path));
    }
    cases
}
