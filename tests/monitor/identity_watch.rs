//! The identity watch: every new match reported once, read through tiles
//! or through retrieve, counted by the daemon, resumed after an interruption.

use super::*;

#[test]
fn the_identity_watch_reports_every_new_match_once() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("state.json");
    let url = tlog.url("");

    let alice = CertSigner::new("alice@example.com", ISSUER, &[(9, RELEASE)]);
    let ci = CertSigner::new(
        "https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main",
        GITHUB,
        &[],
    );
    let bob = CertSigner::new("bob@example.com", GITHUB, &[]);
    let keyed = Signer::new();
    let keyed_fingerprint = {
        let (_, der) = pem_rfc7468::decode_vec(keyed.public_key_pem().as_bytes()).unwrap();
        hex::encode(Sha256::digest(der))
    };
    let watch = dir.path().join("watch.yaml");
    std::fs::write(
        &watch,
        format!(
            "identities:
  - name: alice
    san: alice@example.com
  - name: release-workflow
    extensions:
      1.3.6.1.4.1.57264.1.9: {RELEASE}
  - name: github-ci
    san_regex: 'https://github\\.com/org/[^/]+/\\.github/workflows/ci\\.yml@.*'
    issuer: {GITHUB}
  - name: bob-at-the-wrong-issuer
    san: bob@example.com
    issuer: {ISSUER}
  - name: a-key
    fingerprint: {keyed_fingerprint}
"
        ),
    )
    .unwrap();

    // More than one tile of entries (256), the watched ones spread through it.
    submit_plain(&tlog, &key, "before", 150);
    let a = log_index(&tlog.submit(&alice.hashedrekord(b"alice 1"), &key));
    let c = log_index(&tlog.submit(&ci.dsse(b"{\"ci\":1}"), &key));
    tlog.submit(&bob.hashedrekord(b"bob"), &key);
    let k = log_index(&tlog.submit(&keyed.hashedrekord(b"keyed"), &key));
    submit_plain(&tlog, &key, "after", 120);
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    assert!(size > 256);

    let run = || {
        let output = monitor_command(&url, &key_path, &state, &["--once"])
            .arg("--watch")
            .arg(&watch)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        json_lines(&output)
    };
    let lines = run();
    assert_eq!(lines[0]["kind"], "verified");
    let found = matches_of(&lines);
    assert_eq!(
        found,
        vec![
            (a, "alice", "hashedrekord"),
            (a, "release-workflow", "hashedrekord"),
            (c, "github-ci", "dsse"),
            (k, "a-key", "hashedrekord"),
        ]
    );
    let alice_match = lines.iter().find(|l| l["identity"] == "alice").unwrap();
    assert_eq!(alice_match["issuer"], ISSUER);
    assert_eq!(alice_match["sans"], json!(["alice@example.com"]));
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "scan", "{summary}");
    assert_eq!(
        (summary["from"].as_u64(), summary["to"].as_u64()),
        (Some(0), Some(size))
    );
    assert_eq!(summary["entries"], size);
    assert_eq!(summary["matches"], 4);
    assert_eq!(summary["source"], "tiles");
    assert_eq!(read_state(&state)["scanned_size"], size);

    // The next run scans only what was added since.
    let a2 = log_index(&tlog.submit(&alice.hashedrekord(b"alice 2"), &key));
    let lines = run();
    let matches: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "match").collect();
    assert_eq!(matches.len(), 2, "{lines:?}");
    assert!(matches.iter().all(|m| m["index"] == a2));
    let summary = lines.last().unwrap();
    assert_eq!(
        (summary["from"].as_u64(), summary["entries"].as_u64()),
        (Some(size), Some(1))
    );
}

/// A Rekor v1 log without the tiles API: the live log behind a proxy that
/// answers 404 to `/tile/...`, as upstream Rekor v1 does.
struct NoTilesProxy {
    url: String,
    /// Retrieve requests naming an index at or beyond this fail with 503.
    fail_from: Arc<std::sync::atomic::AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl NoTilesProxy {
    fn start(upstream: String) -> NoTilesProxy {
        let fail_from = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let failing = fail_from.clone();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let client = reqwest::Client::new();
        let forward = move |request: axum::extract::Request| {
            let (client, upstream) = (client.clone(), upstream.clone());
            let fail_from = failing.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                let path = request.uri().path_and_query().map(|p| p.to_string());
                let path = path.unwrap_or_default();
                if path.starts_with("/tile/") {
                    return (axum::http::StatusCode::NOT_FOUND, Vec::new());
                }
                let method = request.method().clone();
                let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap_or_default();
                let asked: Value = serde_json::from_slice(&body).unwrap_or_default();
                let indexes = asked["logIndexes"].as_array().cloned().unwrap_or_default();
                if indexes.iter().any(|i| i.as_u64() >= Some(fail_from)) {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new());
                }
                let reply = client
                    .request(method, format!("{upstream}{path}"))
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("upstream");
                let status = axum::http::StatusCode::from_u16(reply.status().as_u16()).unwrap();
                (status, reply.bytes().await.unwrap_or_default().to_vec())
            }
        };
        let router = axum::Router::new().fallback(forward);
        runtime.spawn(async move { axum::serve(listener, router).await });
        NoTilesProxy {
            url,
            fail_from,
            _runtime: runtime,
        }
    }
}

#[test]
fn without_tiles_the_watch_reads_entries_through_retrieve() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let proxy = NoTilesProxy::start(tlog.url(""));
    let state = dir.path().join("state.json");
    let alice = CertSigner::new("alice@example.com", ISSUER, &[]);
    submit_plain(&tlog, &key, "x", 13);
    let a = log_index(&tlog.submit(&alice.hashedrekord(b"alice"), &key));
    submit_plain(&tlog, &key, "y", 12);
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let watch = dir.path().join("watch.json");
    std::fs::write(
        &watch,
        json!({"identities": [{"san": "alice@example.com", "issuer": ISSUER}]}).to_string(),
    )
    .unwrap();
    let lines = watch_once(&proxy.url, &key_path, &state, &watch, &[]);
    let matches: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "match").collect();
    assert_eq!(matches.len(), 1, "{lines:?}");
    assert_eq!(matches[0]["index"], a);
    assert_eq!(matches[0]["identity"], "identity 0");
    let summary = lines.last().unwrap();
    assert_eq!(summary["source"], "retrieve", "{summary}");
    assert_eq!(summary["entries"], size);
}

#[test]
fn the_daemon_watches_identities_and_counts_matches() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("state.json");
    let watch = dir.path().join("watch.yaml");
    std::fs::write(&watch, "identities:\n  - san: alice@example.com\n").unwrap();
    let alice = CertSigner::new("alice@example.com", ISSUER, &[]);
    submit_plain(&tlog, &key, "x", 5);
    let metrics_addr = free_addr();
    let daemon = start_daemon(
        &tlog.url(""),
        &key_path,
        &state,
        dir.path(),
        &[
            "--interval",
            "1",
            "--metrics-addr",
            &metrics_addr,
            "--watch",
            watch.to_str().unwrap(),
        ],
    );
    let client = client();
    let scrape = |name: &str| {
        let body = client
            .get(format!("http://{metrics_addr}/metrics"))
            .send()
            .ok()?
            .text()
            .ok()?;
        metric(&body, name)
    };
    wait_for("the first scan", || {
        (scrape("atesto_monitor_scanned_entries_total")? >= 5.0).then_some(())
    });
    assert_eq!(scrape("atesto_monitor_identity_matches_total"), Some(0.0));

    // An entry added while the daemon runs is found by a later check.
    let index = log_index(&tlog.submit(&alice.hashedrekord(b"while running"), &key));
    wait_for("the match to be counted", || {
        (scrape("atesto_monitor_identity_matches_total")? >= 1.0).then_some(())
    });
    let lines: Vec<Value> = std::fs::read_to_string(&daemon.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(
        matches_of(&lines),
        vec![(index, "identity 0", "hashedrekord")]
    );
    assert_eq!(scrape("atesto_monitor_identity_matches_total"), Some(1.0));
}

#[test]
fn an_interrupted_scan_resumes_where_it_stopped() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    // Through retrieve (10 entries a request), so a small log takes many steps.
    let proxy = NoTilesProxy::start(tlog.url(""));
    let state = dir.path().join("state.json");
    let watch = dir.path().join("watch.yaml");
    std::fs::write(&watch, "identities:\n  - san: alice@example.com\n").unwrap();
    submit_plain(&tlog, &key, "x", 400);
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let run = || {
        monitor_command(&proxy.url, &key_path, &state, &["--once"])
            .arg("--watch")
            .arg(&watch)
            .output()
            .unwrap()
    };

    // The log stops answering past entry 300: the scan fails part way.
    proxy
        .fail_from
        .store(300, std::sync::atomic::Ordering::SeqCst);
    let output = run();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let scanned = read_state(&state)["scanned_size"]
        .as_u64()
        .expect("progress saved");
    assert!(scanned > 0 && scanned <= 300, "scanned_size {scanned}");

    proxy
        .fail_from
        .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
    let lines = json_lines(&run());
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "scan", "{lines:?}");
    assert_eq!(summary["from"], scanned);
    assert_eq!(summary["entries"], size - scanned);
    assert_eq!(read_state(&state)["scanned_size"], size);
}
