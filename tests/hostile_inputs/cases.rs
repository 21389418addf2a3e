//! The framework of the hostile-input tables: a case, how cases are sent
//! (with slow clients holding connections open) and judged, and the
//! malformed inputs every table draws on.

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::support::raw_http::*;

/// Longest any hostile request may take to be answered.
pub(super) const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// One hostile request.
pub(super) struct Case {
    pub(super) name: String,
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: Vec<u8>,
    /// Refused by the HTTP layer itself (malformed HTTP): a 4xx or a closed
    /// connection, not necessarily JSON.
    pub(super) protocol_level: bool,
}

pub(super) fn get(path: impl Into<String>) -> Case {
    Case {
        name: String::new(),
        method: "GET",
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
        protocol_level: false,
    }
}

pub(super) fn post(path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        method: "POST",
        headers: vec![("Content-Type", content_type.to_owned())],
        body: body.into(),
        ..get(path)
    }
}

pub(super) fn post_json(path: &str, body: &Value) -> Case {
    post(path, "application/json", body.to_string())
}

impl Case {
    pub(super) fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub(super) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(super) fn protocol_level(mut self) -> Self {
        self.protocol_level = true;
        self
    }

    pub(super) fn bytes(&self) -> Vec<u8> {
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

    pub(super) fn label(&self) -> String {
        let path: String = self.path.chars().take(80).collect();
        format!("{} {path} {}", self.method, self.name)
    }
}

/// Runs every case against `addr` with slow clients holding connections
/// open alongside, and returns what went wrong (empty when all is well).
pub(super) fn run_cases(addr: &str, cases: Vec<Case>) -> Vec<String> {
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

pub(super) fn assert_all_handled(service: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{service}: {} hostile request(s) mishandled:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

pub(super) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub(super) fn nested_arrays(depth: usize) -> String {
    "[".repeat(depth) + &"]".repeat(depth)
}

pub(super) fn nested_objects(depth: usize) -> String {
    "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth)
}

/// DER whose outer length claims 4 GiB.
pub(super) const DER_HUGE_LENGTH: &[u8] = &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00];

/// DER nested SEQUENCEs, 2000 deep.
pub(super) fn der_deep() -> Vec<u8> {
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

pub(super) fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        b64(der)
    )
}

/// Malformed JSON bodies, for every endpoint that takes JSON.
pub(super) fn bad_json_bodies() -> Vec<(&'static str, Vec<u8>)> {
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

pub(super) fn json_endpoint_cases(paths: &[&str]) -> Vec<Case> {
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
pub(super) fn protocol_cases() -> Vec<Case> {
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
