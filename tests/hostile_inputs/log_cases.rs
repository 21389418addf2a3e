//! Hostile requests to the transparency log's Rekor v1 and tiles APIs.

use serde_json::{Value, json};

use super::cases::*;

fn hashedrekord(signature: &str, key: &str, hash: &str) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {"content": signature, "publicKey": {"content": key}},
            "data": {"hash": {"algorithm": "sha256", "value": hash}},
        }
    })
}

pub(super) fn log_cases() -> Vec<Case> {
    let entries = "/api/v1/log/entries";
    let hash = "a".repeat(64);
    let key = b64(pem("PUBLIC KEY", &[0x30, 0x03, 0x02, 0x01, 0x00]).as_bytes());
    let mut cases = json_endpoint_cases(&[
        entries,
        "/api/v1/log/entries/retrieve",
        "/api/v1/index/retrieve",
    ]);
    cases.extend(protocol_cases());
    let proposals = [
        ("signature not base64", hashedrekord("!!!", &key, &hash)),
        ("key not base64", hashedrekord("AAAA", "!!!", &hash)),
        (
            "key is base64 of garbage",
            hashedrekord("AAAA", &b64(b"garbage"), &hash),
        ),
        (
            "key PEM with wrong label",
            hashedrekord(
                "AAAA",
                &b64(pem("CERTIFICATE REQUEST", b"x").as_bytes()),
                &hash,
            ),
        ),
        (
            "key PEM truncated",
            hashedrekord("AAAA", &b64(b"-----BEGIN PUBLIC KEY-----\nMFkw"), &hash),
        ),
        (
            "key DER with a 4 GiB length",
            hashedrekord("AAAA", &b64(DER_HUGE_LENGTH), &hash),
        ),
        (
            "key DER nested deep",
            hashedrekord("AAAA", &b64(&der_deep()), &hash),
        ),
        (
            "certificate DER nested deep",
            hashedrekord(
                "AAAA",
                &b64(pem("CERTIFICATE", &der_deep()).as_bytes()),
                &hash,
            ),
        ),
        ("hash not hex", hashedrekord("AAAA", &key, &"z".repeat(64))),
        (
            "hash too long",
            hashedrekord("AAAA", &key, &"a".repeat(10_000)),
        ),
        ("hash algorithm unknown", {
            let mut entry = hashedrekord("AAAA", &key, &hash);
            entry["spec"]["data"]["hash"]["algorithm"] = json!("md5");
            entry
        }),
        (
            "kind unknown",
            json!({"apiVersion": "0.0.1", "kind": "nope", "spec": {}}),
        ),
        (
            "apiVersion huge",
            json!({"apiVersion": "9".repeat(5000), "kind": "hashedrekord", "spec": {}}),
        ),
        (
            "spec is a number",
            json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": 1e300}),
        ),
        (
            "dsse envelope garbage",
            json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {"envelope": "{{{", "verifiers": ["!!!"]}}}),
        ),
        (
            "dsse envelope deep",
            json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {"envelope": nested_arrays(50_000), "verifiers": [key]}}}),
        ),
    ];
    for (name, body) in proposals {
        cases.push(post_json(entries, &body).named(name));
    }
    for (name, body) in [
        ("uuids not hex", json!({"entryUUIDs": ["zz", "../../etc"]})),
        (
            "many uuids",
            json!({"entryUUIDs": vec![hash.clone(); 20_000]}),
        ),
        ("negative index", json!({"logIndexes": [-1]})),
        (
            "huge index",
            json!({"logIndexes": [1e20, 18446744073709551615u64]}),
        ),
        (
            "many indexes",
            json!({"logIndexes": (0..20_000).collect::<Vec<_>>()}),
        ),
        ("entries of garbage", json!({"entries": [{}, 1, "x"]})),
    ] {
        cases.push(post_json("/api/v1/log/entries/retrieve", &body).named(name));
    }
    for (name, body) in [
        ("hash not hex", json!({"hash": "sha256:zz"})),
        ("hash without algorithm", json!({"hash": hash})),
        (
            "long email",
            json!({"email": format!("{}@x.y", "a".repeat(100_000))}),
        ),
        (
            "key garbage",
            json!({"publicKey": {"format": "x509", "content": "!!!"}}),
        ),
        (
            "key format unknown",
            json!({"publicKey": {"format": "nope", "content": key}}),
        ),
        (
            "operator unknown",
            json!({"hash": format!("sha256:{hash}"), "operator": "xor"}),
        ),
    ] {
        cases.push(post_json("/api/v1/index/retrieve", &body).named(name));
    }
    for query in [
        "firstSize=5&lastSize=2",
        "firstSize=-1&lastSize=2",
        "firstSize=0&lastSize=0",
        "firstSize=1&lastSize=18446744073709551616",
        "firstSize=1&lastSize=99999999999999999999999999",
        "firstSize=a&lastSize=b",
        "lastSize=1&treeID=abc",
        "lastSize=1&treeID=99999999999999999999",
        "",
    ] {
        cases.push(get(format!("/api/v1/log/proof?{query}")));
    }
    for query in [
        "logIndex=-1",
        "logIndex=99999999999999999999",
        "logIndex=abc",
        "logIndex=1e3",
        "",
    ] {
        cases.push(get(format!("{entries}?{query}")));
    }
    for id in [
        "zz".to_owned(),
        "a".repeat(63),
        "a".repeat(64),
        "a".repeat(80),
        "a".repeat(1000),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        "%C3%A9".to_owned(),
        format!("{}{}", "f".repeat(16), "a".repeat(64)),
    ] {
        cases.push(get(format!("{entries}/{id}")));
    }
    for path in [
        "/tile/0/000",
        "/tile/99/000",
        "/tile/0/x999/999",
        "/tile/0/000.p/300",
        "/tile/entries/x",
        "/tile/0/..%2F..%2F",
        "/shards/abc/checkpoint",
        "/shards/99999999999999999999999/checkpoint",
        "/shards/1/tile/0/000",
        "/api/v1/log?treeID=-5",
        "/api/v1/log/publicKey?treeID=abc",
    ] {
        cases.push(get(path));
    }
    cases.push(
        post("/admin/v1/rotate", "application/json", "{}")
            .header("Authorization", "Bearer wrong")
            .named("admin with a wrong token"),
    );
    cases
}
