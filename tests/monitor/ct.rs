//! RFC 6962 CT logs: discovered, verified and watched as they grow.

use super::*;

/// A live `atesto ct` accepting chains to a fresh root, and what adds to it.
struct CtLog {
    dir: tempfile::TempDir,
    server: Tlog,
    key_path: PathBuf,
    ca: TestCa,
}

impl CtLog {
    fn start() -> CtLog {
        let ca = TestCa::new("monitor");
        let dir = tempfile::tempdir().unwrap();
        let roots = dir.path().join("roots.pem");
        std::fs::write(&roots, &ca.root_pem).unwrap();
        let log_key = rcgen::KeyPair::generate().unwrap();
        let log_key_path = dir.path().join("ct-key.pem");
        std::fs::write(&log_key_path, log_key.serialize_pem()).unwrap();
        let key_path = dir.path().join("ct-pub.pem");
        std::fs::write(&key_path, log_key.public_key_pem()).unwrap();
        let server = Tlog::start_service(
            "ct",
            &dir.path().join("data"),
            &free_addr(),
            &[
                "--roots",
                roots.to_str().unwrap(),
                "--key",
                log_key_path.to_str().unwrap(),
            ],
        );
        CtLog {
            dir,
            server,
            key_path,
            ca,
        }
    }

    /// Adds a code-signing certificate for `name` and waits until the
    /// published tree holds `expect` entries.
    fn add(&self, name: &str, expect: u64) {
        self.add_cert(name, expect, false);
    }

    fn add_cert(&self, name: &str, expect: u64, precert: bool) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = self.ca.issue(&leaf_params(name, true, precert), &key);
        let body =
            json!({"chain": [STANDARD.encode(&cert), STANDARD.encode(&self.ca.intermediate)]});
        let path = if precert {
            "/ct/v1/add-pre-chain"
        } else {
            "/ct/v1/add-chain"
        };
        let reply = self.server.post(path, &body);
        assert_eq!(reply.status, 200, "{}", reply.text);
        wait_for("the CT tree head to grow", || {
            let sth = self.server.get("/ct/v1/get-sth").json();
            (sth["tree_size"].as_u64()? >= expect).then_some(())
        });
    }
}

#[test]
fn a_live_ct_log_is_discovered_and_verified_as_it_grows() {
    let ct = CtLog::start();
    let state = ct.dir.path().join("state.json");
    let url = ct.server.url("");
    let mut previous = None;
    for size in 1..=4u64 {
        ct.add(&format!("signer{size}.test"), size);
        // No --kind: the monitor finds out it is a CT log.
        expect_verified(&monitor_once(&url, &ct.key_path, &state), size, previous);
        previous = Some(size);
    }
    let saved = read_state(&state);
    assert_eq!(saved["verified"]["origin"], url.trim_end_matches('/'));

    // The same log under a key the monitor does not trust.
    let other = ct.dir.path().join("other.pem");
    std::fs::write(&other, rcgen::KeyPair::generate().unwrap().public_key_pem()).unwrap();
    let output = monitor_command(&url, &other, &state, &["--once", "--kind", "ct"])
        .output()
        .unwrap();
    expect_alert(&output, "bad-signature");
    assert_eq!(read_state(&state), saved);

    // The identity watch over CT entries: final certificates and
    // precertificates, from get-entries.
    ct.add_cert("pre.release.test", 5, true);
    ct.add("other.test", 6);
    let watch = ct.dir.path().join("watch.yaml");
    std::fs::write(
        &watch,
        "identities:\n  - name: two\n    san: signer2.test\n  - name: release\n    san_regex: '.*\\.release\\.test'\n",
    )
    .unwrap();
    let lines = watch_once(&url, &ct.key_path, &state, &watch, &[]);
    let found = matches_of(&lines);
    assert_eq!(
        found,
        vec![(1, "two", "x509"), (4, "release", "precert")],
        "{lines:?}"
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["source"], "get-entries", "{summary}");
    assert_eq!(summary["entries"], 6);
}
