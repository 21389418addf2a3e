//! Hostile requests against real servers: `atesto dev` (CA and log) and
//! `atesto ct`. Malformed JSON, base64, PEM, DER, tokens, proof ranges,
//! ids, huge numbers, wrong content types, deep nesting, while slow
//! clients hold connections open. No answer may be a 5xx or take long, every
//! refusal of the application is in the `{"code","message"}` shape, and the
//! server still answers afterwards (it did not panic).
//!
//! Add a case: one line in the table of the service it targets.

mod support;

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use support::ca::CaStack;
use support::dev::Dev;
use support::raw_http::*;

/// Longest any hostile request may take to be answered.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// One hostile request.
struct Case {
    name: String,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Refused by the HTTP layer itself (malformed HTTP): a 4xx or a closed
    /// connection, not necessarily JSON.
    protocol_level: bool,
}

fn get(path: impl Into<String>) -> Case {
    Case {
        name: String::new(),
        method: "GET",
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
        protocol_level: false,
    }
}

fn post(path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        method: "POST",
        headers: vec![("Content-Type", content_type.to_owned())],
        body: body.into(),
        ..get(path)
    }
}

fn post_json(path: &str, body: &Value) -> Case {
    post(path, "application/json", body.to_string())
}

impl Case {
    fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn protocol_level(mut self) -> Self {
        self.protocol_level = true;
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut request = format!(
            "{} {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
            self.method, self.path
        );
        let declares_length = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
        for (name, value) in &self.headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !declares_length && (self.method != "GET" || !self.body.is_empty()) {
            request.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    fn label(&self) -> String {
        let path: String = self.path.chars().take(80).collect();
        format!("{} {path} {}", self.method, self.name)
    }
}

/// Runs every case against `addr` with slow clients holding connections
/// open alongside, and returns what went wrong (empty when all is well).
fn run_cases(addr: &str, cases: Vec<Case>) -> Vec<String> {
    let mut slow: Vec<_> = (0..8)
        .map(|_| {
            let mut stream = connect(addr, Duration::from_secs(1));
            let _ = stream.write_all(b"POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\n");
            stream
        })
        .collect();
    let mut failures = Vec::new();
    for case in cases {
        let label = case.label();
        let started = std::time::Instant::now();
        let answer = exchange(addr, &case.bytes(), ANSWER_WITHIN);
        let took = started.elapsed();
        if took >= ANSWER_WITHIN {
            failures.push(format!("{label}: no answer within {ANSWER_WITHIN:?}"));
            continue;
        }
        match answer {
            None if case.protocol_level => {}
            None => failures.push(format!("{label}: connection closed without an answer")),
            Some((status, body)) => {
                if status >= 500 {
                    failures.push(format!("{label}: {status} {body}"));
                } else if (400..500).contains(&status) && !case.protocol_level {
                    let shaped = serde_json::from_str::<Value>(&body).is_ok_and(|error| {
                        error["code"] == status
                            && error["message"].as_str().is_some_and(|m| !m.is_empty())
                    });
                    if !shaped {
                        failures.push(format!("{label}: {status} not in the error shape: {body}"));
                    }
                } else if case.protocol_level && (200..400).contains(&status) {
                    failures.push(format!("{label}: malformed HTTP accepted with {status}"));
                }
            }
        }
    }
    for stream in &mut slow {
        let _ = stream.write_all(b"X-Still: here\r\n");
    }
    match exchange(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ANSWER_WITHIN,
    ) {
        Some((200, _)) => {}
        other => failures.push(format!("healthz after the hostile cases: {other:?}")),
    }
    failures
}

fn assert_all_handled(service: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{service}: {} hostile request(s) mishandled:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn nested_arrays(depth: usize) -> String {
    "[".repeat(depth) + &"]".repeat(depth)
}

fn nested_objects(depth: usize) -> String {
    "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth)
}

/// DER whose outer length claims 4 GiB.
const DER_HUGE_LENGTH: &[u8] = &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00];
/// DER nested SEQUENCEs, 2000 deep.
fn der_deep() -> Vec<u8> {
    let mut der = vec![0x05, 0x00];
    for _ in 0..2000 {
        let mut outer = vec![0x30];
        let length = der.len();
        if length < 128 {
            outer.push(length as u8);
        } else {
            outer.extend_from_slice(&[0x82, (length >> 8) as u8, length as u8]);
        }
        outer.extend_from_slice(&der);
        der = outer;
        if der.len() > 60000 {
            break;
        }
    }
    der
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        b64(der)
    )
}

/// Malformed JSON bodies, for every endpoint that takes JSON.
fn bad_json_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", Vec::new()),
        ("truncated", b"{\"kind\":".to_vec()),
        ("null", b"null".to_vec()),
        ("array", b"[]".to_vec()),
        ("string", b"\"x\"".to_vec()),
        ("huge number", b"1e999999".to_vec()),
        ("invalid UTF-8", b"{\"kind\":\"\xff\xfe\"}".to_vec()),
        ("BOM", b"\xef\xbb\xbf{}".to_vec()),
        ("deep arrays", nested_arrays(100_000).into_bytes()),
        ("deep objects", nested_objects(20_000).into_bytes()),
        (
            "duplicate keys",
            b"{\"kind\":\"a\",\"kind\":\"b\"}".to_vec(),
        ),
        (
            "long string",
            format!("{{\"kind\":\"{}\"}}", "a".repeat(60_000)).into_bytes(),
        ),
    ]
}

fn json_endpoint_cases(paths: &[&str]) -> Vec<Case> {
    let mut cases = Vec::new();
    for path in paths {
        for (name, body) in bad_json_bodies() {
            cases.push(post(path, "application/json", body).named(name));
        }
        cases.push(post(path, "text/plain", "{}").named("text/plain"));
        cases.push(post(path, "application/x-www-form-urlencoded", "a=b").named("form"));
        cases.push(
            post(path, "multipart/form-data; boundary=x", "--x\r\n\r\n--x--").named("multipart"),
        );
        cases.push(post(path, "application/json; charset=utf-16", "{}").named("utf-16"));
        cases.push(
            Case {
                method: "POST",
                ..get(*path)
            }
            .header("Content-Length", "10000000000")
            .named("declared 10 GB"),
        );
        for method in ["PUT", "DELETE", "PATCH"] {
            cases.push(
                Case {
                    method,
                    ..get(*path)
                }
                .named("wrong method"),
            );
        }
    }
    cases
}

/// Malformed HTTP: the server must refuse it without hanging.
fn protocol_cases() -> Vec<Case> {
    vec![
        get("/healthz")
            .header("Content-Length", "-1")
            .protocol_level()
            .named("negative length"),
        get("/healthz")
            .header("Content-Length", "1, 2")
            .protocol_level()
            .named("two lengths"),
        get("/healthz")
            .header("Transfer-Encoding", "chunked")
            .header("Content-Length", "5")
            .named("chunked and length (RFC 9112: chunked wins)"),
        get("/healthz")
            .header("X-Big", "a".repeat(200_000))
            .named("200 KB header (within the header buffer)"),
        get(format!("/{}", "a".repeat(100_000)))
            .protocol_level()
            .named("100 KB path"),
        get("/api/v1/log/entries/%zz").named("bad percent escape"),
        get("/api/v1/log/entries/%00").named("NUL"),
    ]
}

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

fn log_cases() -> Vec<Case> {
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

fn ct_cases() -> Vec<Case> {
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

/// JWTs that are broken in every part, each sent as a bearer token.
fn hostile_tokens() -> Vec<(&'static str, String)> {
    let part = |value: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
    let header = part(r#"{"alg":"ES256","kid":"k"}"#);
    let claims = part(r#"{"iss":"https://x.example","aud":"sigstore","exp":99999999999}"#);
    vec![
        ("empty", String::new()),
        ("one part", "abc".into()),
        ("four parts", "a.b.c.d".into()),
        ("not base64", "!!!.!!!.!!!".into()),
        ("header not JSON", format!("{}.{claims}.sig", part("nope"))),
        (
            "header deep",
            format!("{}.{claims}.sig", part(&nested_arrays(5000))),
        ),
        (
            "claims deep",
            format!("{header}.{}.sig", part(&nested_objects(3000))),
        ),
        (
            "alg none",
            format!("{}.{claims}.", part(r#"{"alg":"none"}"#)),
        ),
        (
            "crit",
            format!("{}.{claims}.sig", part(r#"{"alg":"ES256","crit":["x"]}"#)),
        ),
        (
            "iss a number",
            format!("{header}.{}.sig", part(r#"{"iss":1e400}"#)),
        ),
        (
            "iss huge",
            format!(
                "{header}.{}.sig",
                part(&format!(r#"{{"iss":"https://{}"}}"#, "a-".repeat(5000)))
            ),
        ),
        (
            "exp huge",
            format!(
                "{header}.{}.sig",
                part(r#"{"iss":"https://x.example","exp":1e400}"#)
            ),
        ),
        ("over the size cap", "a".repeat(20_000) + ".b.c"),
        ("non-ASCII", "é.é.é".into()),
    ]
}

fn ca_cases() -> Vec<Case> {
    let v2 = "/api/v2/signingCert";
    let v1 = "/api/v1/signingCert";
    let mut cases = json_endpoint_cases(&[v2, v1]);
    cases.extend(protocol_cases());
    let request = |content: &str, proof: &str| json!({"publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": content}, "proofOfPossession": proof}});
    for (name, token) in hostile_tokens() {
        cases.push(
            post_json(v2, &request("x", "AAAA"))
                .header("Authorization", format!("Bearer {token}"))
                .named(format!("token {name}")),
        );
        cases.push(
            post_json(v2, &json!({"credentials": {"oidcIdentityToken": token}, "certificateSigningRequest": "AAAA"}))
                .named(format!("body token {name}")),
        );
    }
    cases.push(
        post_json(v2, &request("x", "AAAA"))
            .header("Authorization", "Bearer")
            .named("bearer without token"),
    );
    cases.push(
        post_json(v2, &request("x", "AAAA"))
            .header("Authorization", "Basic eDp5")
            .named("basic auth"),
    );
    // Key and CSR content: the token check comes first, so these also
    // carry a token; the refusal may name either.
    let token = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln";
    for (name, body) in [
        ("key garbage", request("garbage", "AAAA")),
        (
            "key DER with a 4 GiB length",
            request(&b64(DER_HUGE_LENGTH), "AAAA"),
        ),
        (
            "key PEM deep",
            request(&pem("PUBLIC KEY", &der_deep()), "AAAA"),
        ),
        (
            "proof not base64",
            request(&pem("PUBLIC KEY", &[0x30, 0]), "!!!"),
        ),
        (
            "algorithm odd",
            json!({"publicKeyRequest": {"publicKey": {"algorithm": "ROT13", "content": "x"}}}),
        ),
        (
            "CSR not base64",
            json!({"certificateSigningRequest": "!!!"}),
        ),
        (
            "CSR base64 of garbage",
            json!({"certificateSigningRequest": b64(b"garbage")}),
        ),
        (
            "CSR PEM of deep DER",
            json!({"certificateSigningRequest": b64(pem("CERTIFICATE REQUEST", &der_deep()).as_bytes())}),
        ),
        (
            "CSR PEM with a 4 GiB length",
            json!({"certificateSigningRequest": b64(pem("CERTIFICATE REQUEST", DER_HUGE_LENGTH).as_bytes())}),
        ),
        (
            "both key and CSR",
            json!({"certificateSigningRequest": "AAAA", "publicKeyRequest": {}}),
        ),
    ] {
        cases.push(
            post_json(v2, &body)
                .header("Authorization", format!("Bearer {token}"))
                .named(name),
        );
    }
    cases.push(
        post_json(v1, &json!({"publicKey": {"content": "!!!", "algorithm": "ecdsa"}, "signedEmailAddress": "!!!"}))
            .header("Authorization", format!("Bearer {token}"))
            .named("v1 garbage"),
    );
    for path in [
        "/api/v2/trustBundle?x=%zz",
        "/api/v2/configuration/extra",
        "/api/v1/rootCert/..",
        "/tuf/..%2F..%2Fetc%2Fpasswd",
        "/tuf/%00",
        "/dev-oidc/email/nope",
    ] {
        cases.push(get(path));
    }
    cases
}

#[test]
fn dev_ca_and_log_refuse_hostile_inputs_cleanly() {
    let dev = Dev::start();
    assert_all_handled("atesto dev CA", run_cases(&dev.ca, ca_cases()));
    assert_all_handled("atesto dev log", run_cases(&dev.tlog, log_cases()));
    // The dev log also serves the CT API on its address.
    assert_all_handled("atesto dev CT", run_cases(&dev.tlog, ct_cases()));
}

#[test]
fn ct_log_refuses_hostile_inputs_cleanly() {
    let stack = CaStack::start();
    assert_all_handled("atesto ct", run_cases(&stack.ct.addr, ct_cases()));
}
