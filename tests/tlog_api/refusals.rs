//! Hostile submissions and reads, and a stalled request: refused in the
//! Rekor `{code, message}` shape, never a server error.

use super::*;

#[test]
fn hostile_submissions_are_refused_in_the_rekor_shape() {
    let (_dir, tlog, key) = fresh_log("body_limit: 2048\n", &[]);
    let signer = Signer::new();
    let artifact = b"hostile";
    let digest = hex::encode(Sha256::digest(artifact));
    let sig = STANDARD.encode(signer.sign(artifact));
    let pem = STANDARD.encode(signer.public_key_pem());
    let submit = |body: Vec<u8>| tlog.post_raw("/api/v1/log/entries", body);
    let submit_json = |body: Value| tlog.post("/api/v1/log/entries", &body);

    // Over the configured limit.
    let mut big = signer.hashedrekord(artifact);
    big["padding"] = json!("x".repeat(4096));
    submit_json(big).expect_error(413);

    for raw in [&b""[..], b"not json", b"[]", b"{\"kind\":", b"\xff\xfe"] {
        submit(raw.to_vec()).expect_error(400);
    }
    let mut cases: Vec<(&str, Value)> = vec![
        (
            "unknown kind",
            json!({"kind": "nope", "apiVersion": "0.0.1", "spec": {}}),
        ),
        (
            "no spec",
            json!({"kind": "hashedrekord", "apiVersion": "0.0.1"}),
        ),
        (
            "bad signature base64",
            hashedrekord("sha256", &digest, "!!!not base64!!!", &pem),
        ),
        (
            "bad key base64",
            hashedrekord("sha256", &digest, &sig, "%%%"),
        ),
        (
            "not a PEM",
            hashedrekord("sha256", &digest, &sig, &STANDARD.encode("hello")),
        ),
        (
            "garbled PEM",
            hashedrekord(
                "sha256",
                &digest,
                &sig,
                &STANDARD.encode("-----BEGIN PUBLIC KEY-----\nAAAA!!\n-----END PUBLIC KEY-----\n"),
            ),
        ),
        (
            "sha512 with a sha256 digest",
            hashedrekord("sha512", &digest, &sig, &pem),
        ),
        (
            "sha256 with a longer digest",
            hashedrekord("sha256", &format!("{digest}{digest}"), &sig, &pem),
        ),
        (
            "sha384 with a sha256 digest",
            hashedrekord("sha384", &digest, &sig, &pem),
        ),
        (
            "unknown algorithm",
            hashedrekord("md5", &digest[..32], &sig, &pem),
        ),
        (
            "non-hex digest",
            hashedrekord("sha256", &"zz".repeat(32), &sig, &pem),
        ),
        (
            "signature of another artifact",
            hashedrekord("sha256", &hex::encode(Sha256::digest(b"other")), &sig, &pem),
        ),
        (
            "RSA-1024 key",
            hashedrekord(
                "sha256",
                &hex::encode(Sha256::digest(WEAK_ARTIFACT)),
                WEAK_SIGNATURE_B64,
                &STANDARD.encode(WEAK_RSA_PEM),
            ),
        ),
    ];
    let mut future = signer.hashedrekord(artifact);
    future["apiVersion"] = json!("9.9.9");
    cases.push(("unsupported apiVersion", future));
    cases.push(("unparsable envelope", signer.dsse("not an envelope")));
    for (what, body) in cases {
        let reply = submit_json(body);
        assert_eq!(reply.status, 400, "{what}: {}", reply.text);
        reply.expect_error(400);
    }

    assert_eq!(tlog.log_info()["treeSize"], 0, "nothing hostile was logged");
    // The log still takes a good entry.
    tlog.submit(&signer.hashedrekord(artifact), &key);
    assert_no_server_errors(&tlog);
}

#[test]
fn hostile_reads_are_refused_in_the_rekor_shape() {
    let (_dir, tlog, key) = fresh_log("", &[]);
    let entries = submit_artifacts(&tlog, &key, &Signer::new(), 2);
    let info = tlog.log_info();
    let other_tree = format!("{:016x}", tree_id(&info) ^ 1);

    let cases: Vec<(String, u16)> = [
        // logIndex
        ("/api/v1/log/entries?logIndex=-1", 400),
        ("/api/v1/log/entries?logIndex=2", 404),
        ("/api/v1/log/entries?logIndex=18446744073709551615", 404),
        ("/api/v1/log/entries?logIndex=18446744073709551616", 400),
        (
            "/api/v1/log/entries?logIndex=99999999999999999999999999",
            400,
        ),
        ("/api/v1/log/entries?logIndex=abc", 400),
        ("/api/v1/log/entries?logIndex=", 400),
        ("/api/v1/log/entries?logIndex=1.5", 400),
        ("/api/v1/log/entries", 400),
        // consistency proofs
        ("/api/v1/log/proof?firstSize=2&lastSize=1", 400),
        ("/api/v1/log/proof?firstSize=1&lastSize=3", 400),
        ("/api/v1/log/proof?firstSize=0&lastSize=2", 400),
        ("/api/v1/log/proof?firstSize=a&lastSize=2", 400),
        ("/api/v1/log/proof?firstSize=1&lastSize=-2", 400),
        (
            "/api/v1/log/proof?firstSize=1&lastSize=18446744073709551616",
            400,
        ),
        (
            "/api/v1/log/proof?firstSize=1&lastSize=18446744073709551615",
            400,
        ),
        ("/api/v1/log/proof?firstSize=1", 400),
        ("/api/v1/log/proof?firstSize=1&lastSize=1&treeID=x", 400),
        // unknown path, methods
        ("/api/v1/nothing", 404),
        // `/` is the explorer page (tests/explorer.rs); beside its assets, nothing.
        ("/explorer/nothing.js", 404),
        ("/api/v2/log/entries/0", 404),
        // tiles
        ("/tile/0", 400),
        ("/tile/0/1", 400),
        ("/tile/a/000", 400),
        ("/tile/99/000", 400),
        ("/tile/0/0000", 400),
        ("/tile/0/000.p/0", 400),
        ("/tile/0/000.p/256", 400),
        ("/tile/0/000.p/", 400),
        ("/tile/0/000.p/x", 400),
        ("/tile/0/x000/000", 400),
        ("/tile/0/x001/x002/x003/x004/x005/x006/x007/000", 400),
        ("/tile/entries/00a", 400),
        ("/tile/entries/000.p/-1", 400),
        ("/tile/0/001", 404),
        ("/tile/0/000.p/3", 404),
        ("/tile/0/x001/000", 404),
        ("/tile/entries/000", 404),
        ("/tile/entries/999.p/1", 404),
        ("/tile/5/000.p/1", 404),
        // percent-encoded bytes that are not UTF-8
        ("/api/v1/log/entries/%FF", 400),
        ("/api/v1/log/entries?logIndex=%FF", 400),
        ("/tile/%FF/000", 400),
        ("/shards/%FF/checkpoint", 400),
    ]
    .into_iter()
    .map(|(path, status)| (path.to_owned(), status))
    .chain([
        // entry ids
        (format!("/api/v1/log/entries/{}", "a".repeat(63)), 400),
        (format!("/api/v1/log/entries/{}", "a".repeat(65)), 400),
        (format!("/api/v1/log/entries/{}", "g".repeat(64)), 400),
        (format!("/api/v1/log/entries/{}", "\u{e9}".repeat(32)), 400),
        (format!("/api/v1/log/entries/{}", "0".repeat(64)), 404),
        (
            format!("/api/v1/log/entries/{other_tree}{}", &entries[0].id[16..]),
            404,
        ),
        (
            format!(
                "/api/v1/log/proof?firstSize=1&lastSize=1&treeID={}",
                tree_id(&info) ^ 1
            ),
            404,
        ),
    ])
    .collect();
    for (path, status) in &cases {
        let reply = tlog.get(path);
        assert_eq!(reply.status, *status, "GET {path}: {}", reply.text);
        reply.expect_error(*status);
    }

    for (method, path) in [
        (Method::DELETE, "/api/v1/log"),
        (Method::PUT, "/api/v1/log/entries"),
        (Method::GET, "/api/v1/index/retrieve"),
        (Method::GET, "/api/v1/log/entries/retrieve/"),
        (Method::POST, "/checkpoint"),
        (Method::POST, "/tile/0/000"),
        (Method::GET, "/admin/v1/rotate"),
    ] {
        let reply = tlog.request(method.clone(), path);
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.text);
        reply.expect_error(405);
    }
    assert_no_server_errors(&tlog);
}

/// Sends raw bytes and reads one HTTP/1.1 answer: (status, body).
fn raw_exchange(addr: &str, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, body[..length].to_owned());
            }
        }
        let n = stream
            .read(&mut buffer)
            .expect("an answer before the read timeout");
        assert!(n > 0, "connection closed without a full answer: {text:?}");
        received.extend_from_slice(&buffer[..n]);
    }
}

#[test]
fn a_stalled_request_times_out_in_the_rekor_shape() {
    let (_dir, tlog, _key) = fresh_log("request_timeout_secs: 1\n", &[]);
    // Promise a body and never send it.
    let (status, body) = raw_exchange(
        &tlog.addr,
        b"POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    assert_eq!(status, 408);
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    assert_eq!(body["code"], 408);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    // The 408 is counted under its route, like every other answer.
    let metrics = tlog.get("/metrics").text;
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("atesto_tlog_http_responses_total{")
                && line.contains("route=\"/api/v1/log/entries\"")
                && line.contains("status=\"408\"")
                && line.ends_with(" 1")),
        "{metrics}"
    );
}
