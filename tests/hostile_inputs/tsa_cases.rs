//! Hostile requests to the timestamp authority's API.

use serde_json::json;

use super::cases::*;

const TIMESTAMP: &str = "/api/v1/timestamp";
const QUERY: &str = "application/timestamp-query";

pub(super) fn tsa_cases() -> Vec<Case> {
    let mut cases = json_endpoint_cases(&[TIMESTAMP]);
    cases.extend(protocol_cases());
    for (name, body) in [
        ("empty DER", Vec::new()),
        ("garbage DER", b"\x30\x03\x02\x01".to_vec()),
        ("DER with a 4 GiB length", DER_HUGE_LENGTH.to_vec()),
        ("DER nested deep", der_deep()),
        (
            "JSON sent as a query",
            br#"{"artifactHash":"AA=="}"#.to_vec(),
        ),
        ("over the body limit", vec![0x30; 9 << 10]),
    ] {
        cases.push(post(TIMESTAMP, QUERY, body).named(name));
    }
    let sha256 = b64(&[0; 32]);
    for (name, body) in [
        (
            "hash not base64",
            json!({"artifactHash": "!!!", "hashAlgorithm": "sha256"}),
        ),
        (
            "hash algorithm unknown",
            json!({"artifactHash": sha256, "hashAlgorithm": "md4"}),
        ),
        (
            "hash algorithm a number",
            json!({"artifactHash": sha256, "hashAlgorithm": 256}),
        ),
        (
            "nonce huge",
            json!({"artifactHash": sha256, "hashAlgorithm": "sha256", "nonce": 1e300}),
        ),
        (
            "nonce negative",
            json!({"artifactHash": sha256, "hashAlgorithm": "sha256", "nonce": -1}),
        ),
        (
            "certificates a string",
            json!({"artifactHash": sha256, "hashAlgorithm": "sha256", "certificates": "yes"}),
        ),
        (
            "policy not an OID",
            json!({"artifactHash": sha256, "hashAlgorithm": "sha256", "tsaPolicyOID": "1..2"}),
        ),
        (
            "policy OID huge arc",
            json!({"artifactHash": sha256, "hashAlgorithm": "sha256", "tsaPolicyOID": "1.2.99999999999999999999999"}),
        ),
        (
            "policy OID with a five-byte arc",
            json!({"artifactHash": sha256, "hashAlgorithm": "sha256", "tsaPolicyOID": "1.3.6.1.4.1.572699994.2"}),
        ),
        ("no hash", json!({"hashAlgorithm": "sha256"})),
    ] {
        cases.push(post_json(TIMESTAMP, &body).named(name));
    }
    cases.push(get(format!("{TIMESTAMP}/certchain?x=%ff")));
    cases.push(get("/api/v1/timestamp/nope"));
    cases
}
