//! deploy/monitoring: the alert rules pass `promtool check rules` and their
//! unit tests (`promtool test rules`), and every metric the rules and the
//! Grafana dashboard name is exported by a live Atesto service (the log
//! publishing to a bucket, so that the object-store metrics exist).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use support::ct::start_ct;
use support::dev::Dev;
use support::{Signer, Tlog, atesto_bin, client, free_addr};

/// Debian's `prometheus` package ships it (.ci/run installs the package).
const PROMTOOL: &str = "/usr/bin/promtool";

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring")
}

fn promtool(dir: &Path, args: &[&str]) -> String {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's prometheus package (.ci/run does)"
    );
    let out = Command::new(PROMTOOL)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let out = promtool(&monitoring_dir(), &["check", "rules", "alerts.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
    let out = promtool(
        &monitoring_dir().join("tests"),
        &["test", "rules", "alerts.test.yaml"],
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

/// Every `atesto_*` metric name in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("atesto_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// The sample names of a Prometheus text exposition.
fn exported(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

fn scrape(url: &str) -> String {
    let reply = client().get(url).send().unwrap();
    assert!(reply.status().is_success(), "GET {url}: {}", reply.status());
    reply.text().unwrap()
}

/// Asks the dev CA for one certificate with a valid token and one with a
/// bad token, so the labelled CA counters have series.
fn issue_and_refuse(dev: &Dev) {
    let email = "metrics@example.com";
    let token = std::fs::read_to_string(dev.token(&["--email", email])).unwrap();
    let signer = Signer::new();
    let request = |token: &str| {
        json!({
            "credentials": {"oidcIdentityToken": token},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": signer.public_key_pem()},
                "proofOfPossession": STANDARD.encode(signer.sign(email.as_bytes())),
            },
        })
    };
    let url = format!("{}/api/v2/signingCert", dev.fulcio_url());
    let issued = client().post(&url).json(&request(&token)).send().unwrap();
    assert!(issued.status().is_success(), "{}", issued.text().unwrap());
    let refused = client()
        .post(&url)
        .json(&request("not.a.token"))
        .send()
        .unwrap();
    assert_eq!(
        refused.status().as_u16(),
        401,
        "{}",
        refused.text().unwrap()
    );
}

/// One timestamp and one refusal from the dev TSA, so its labelled series exist.
fn timestamp_and_refuse(dev: &Dev) {
    let url = format!("{}/tsa/api/v1/timestamp", dev.fulcio_url());
    let request = |algorithm: &str, digest: &[u8]| json!({"artifactHash": STANDARD.encode(digest), "hashAlgorithm": algorithm});
    let issued = client()
        .post(&url)
        .json(&request("sha256", &[7; 32]))
        .send()
        .unwrap();
    assert_eq!(issued.status().as_u16(), 200);
    let refused = client()
        .post(&url)
        .json(&request("sha1", &[7; 20]))
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
}

/// `atesto monitor` against the dev log, serving /metrics; killed on drop.
struct Monitor(std::process::Child);

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_monitor(dev: &Dev, metrics_addr: &str) -> Monitor {
    let child = Command::new(atesto_bin())
        .args(["monitor", "--log", &dev.rekor_url(), "--public-key"])
        .arg(dev.path("rekor.pub"))
        .arg("--state")
        .arg(dev.path("monitor-state.json"))
        .args(["--interval", "1", "--metrics-addr", metrics_addr])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Monitor(child)
}

#[test]
fn every_metric_the_rules_and_dashboard_name_is_exported_live() {
    let dev = Dev::start();
    issue_and_refuse(&dev);
    timestamp_and_refuse(&dev);
    let data = tempfile::tempdir().unwrap();
    // Publishing to a bucket (a directory here) makes the object-store
    // metrics exist; the replica metrics exist on every log.
    let bucket = tempfile::tempdir().unwrap();
    let bucket_url = format!("file://{}", bucket.path().display());
    let tlog = Tlog::start(data.path(), &["--object-store", &bucket_url]);
    let ct_dir = tempfile::tempdir().unwrap();
    let ct = start_ct(ct_dir.path(), &dev.path("ca/root.pem"));
    let monitor_addr = free_addr();
    let _monitor = start_monitor(&dev, &monitor_addr);

    let mut live = BTreeSet::new();
    for url in [
        format!("{}/metrics", dev.fulcio_url()),
        format!("{}/tsa/metrics", dev.fulcio_url()),
        format!("{}/metrics", dev.rekor_url()),
        format!("{}/metrics", dev.rekor_v2_url()),
        tlog.url("/metrics"),
        ct.url("/metrics"),
    ] {
        live.extend(exported(&scrape(&url)));
    }
    // The monitor exports its check counters once it has run a check.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = client()
            .get(format!("http://{monitor_addr}/metrics"))
            .send()
            .ok()
            .and_then(|r| r.text().ok())
            .unwrap_or_default();
        if text.contains("atesto_monitor_checks_total{") {
            live.extend(exported(&text));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the monitor ran no check:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let mut named = BTreeSet::new();
    for file in ["alerts.yaml", "dashboard.json", "tests/alerts.test.yaml"] {
        named.extend(metric_names(
            &std::fs::read_to_string(monitoring_dir().join(file)).unwrap(),
        ));
    }
    assert!(named.len() >= 15, "too few metrics named: {named:?}");
    let missing: Vec<&String> = named.difference(&live).collect();
    assert!(
        missing.is_empty(),
        "named by deploy/monitoring but exported by no service: {missing:?}\nexported: {live:?}"
    );
    // The TSA's request series carry the route the rules select.
    let tsa = scrape(&format!("{}/tsa/metrics", dev.fulcio_url()));
    assert!(
        tsa.lines()
            .any(|l| l.starts_with("atesto_tsa_http_seconds_bucket{")
                && l.contains("route=\"")
                && l.contains("timestamp")),
        "{tsa}"
    );
    // The new disk gauges hold real numbers.
    let text = scrape(&tlog.url("/metrics"));
    let free = text
        .lines()
        .find_map(|l| l.strip_prefix("atesto_tlog_data_free_bytes "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("atesto_tlog_data_free_bytes has a value");
    assert!(free > 0.0, "{text}");
}
