//! Hostile requests to the RFC 6962 CT API.

use serde_json::json;

use super::cases::*;

pub(super) fn ct_cases() -> Vec<Case> {
    let mut cases = json_endpoint_cases(&["/ct/v1/add-chain", "/ct/v1/add-pre-chain"]);
    cases.extend(protocol_cases());
    let garbage_der = b64(b"\x30\x03\x02\x01");
    for (name, body) in [
        ("empty chain", json!({"chain": []})),
        ("chain not base64", json!({"chain": ["!!!"]})),
        ("chain of garbage DER", json!({"chain": [garbage_der]})),
        (
            "chain DER with a 4 GiB length",
            json!({"chain": [b64(DER_HUGE_LENGTH)]}),
        ),
        (
            "chain DER nested deep",
            json!({"chain": [b64(&der_deep())]}),
        ),
        ("chain of 10000", json!({"chain": vec!["MAA="; 10_000]})),
        ("chain is a string", json!({"chain": "MAA="})),
        ("chain entries are numbers", json!({"chain": [1, 2]})),
    ] {
        cases.push(post_json("/ct/v1/add-chain", &body).named(name));
        cases.push(post_json("/ct/v1/add-pre-chain", &body).named(name));
    }
    for query in [
        "start=5&end=2",
        "start=-1&end=2",
        "start=0&end=18446744073709551615",
        "start=18446744073709551615&end=18446744073709551615",
        "start=a&end=b",
        "",
    ] {
        cases.push(get(format!("/ct/v1/get-entries?{query}")));
    }
    for query in [
        "first=5&second=2",
        "first=0&second=0",
        "first=1&second=99999999999999999999",
        "first=-1&second=1",
        "",
    ] {
        cases.push(get(format!("/ct/v1/get-sth-consistency?{query}")));
    }
    let zero_hash = b64(&[0; 32]);
    for query in [
        "hash=!!!&tree_size=1".to_owned(),
        "hash=AAAA&tree_size=1".to_owned(),
        format!("hash={zero_hash}&tree_size=-1"),
        format!("hash={zero_hash}&tree_size=99999999999999999999"),
        String::new(),
    ] {
        cases.push(get(format!("/ct/v1/get-proof-by-hash?{query}")));
    }
    cases.push(get("/ct/v1/get-entry-and-proof?leaf_index=-1&tree_size=1"));
    cases
}
