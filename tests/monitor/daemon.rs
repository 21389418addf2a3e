//! The monitor as a daemon: alerts as JSON lines, metrics, and a state
//! file that survives a kill.

use super::*;

#[test]
fn the_daemon_logs_alerts_as_json_lines_and_counts_them() {
    let log = FakeLog::start(leaves("a", 5));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let metrics_addr = free_addr();
    let daemon = start_daemon(
        &log.url,
        log.key(),
        &state,
        dir.path(),
        &["--interval", "1", "--metrics-addr", &metrics_addr],
    );
    let client = client();
    let scrape = || {
        client
            .get(format!("http://{metrics_addr}/metrics"))
            .send()
            .ok()?
            .text()
            .ok()
    };
    wait_for("a verified check", || {
        let body = scrape()?;
        (metric(&body, "atesto_monitor_verified_tree_size") == Some(5.0)).then_some(())
    });
    let body = scrape().unwrap();
    assert_eq!(
        metric(&body, "atesto_monitor_alerts_total{kind=\"fork\"}"),
        Some(0.0)
    );

    log.set(|s| s.leaves[0] = leaf_hash(b"forged"));
    wait_for("a counted fork", || {
        let body = scrape()?;
        (metric(&body, "atesto_monitor_alerts_total{kind=\"fork\"}")? >= 1.0).then_some(())
    });
    // The daemon keeps running after an alert.
    let mut child = daemon;
    assert!(
        child.child.try_wait().unwrap().is_none(),
        "the daemon exited on an alert"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&child.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let fork = lines
        .iter()
        .find(|l| l["kind"] == "fork")
        .unwrap_or_else(|| panic!("no fork line in {lines:?}"));
    assert_eq!(fork["log"], log.url.as_str());
    assert_eq!(fork["verified_size"], 5);
    assert!(fork["time"].is_string(), "{fork}");
    assert_eq!(read_state(&state)["verified"]["size"], 5);
    let _ = child.child.kill();
}

#[test]
fn the_state_file_survives_the_monitor_being_killed_mid_run() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("state.json");
    let url = tlog.url("");
    let signer = Signer::new();
    tlog.submit(&signer.hashedrekord(b"first"), &key);

    let mut last_size = 0;
    for round in 0..6u64 {
        // The log grows while the monitor runs, so every run has a new
        // checkpoint to prove and save when it is killed.
        for i in 0..3 {
            tlog.submit(
                &signer.hashedrekord(format!("{round}/{i}").as_bytes()),
                &key,
            );
        }
        let mut daemon = start_daemon(&url, &key_path, &state, dir.path(), &["--interval", "1"]);
        // Kill at a different point of the check each round (SIGKILL: no cleanup).
        std::thread::sleep(Duration::from_millis(40 + 60 * round));
        daemon.child.kill().unwrap();
        daemon.child.wait().unwrap();
        if !state.exists() {
            continue; // killed before the first save
        }
        let saved = read_state(&state);
        let note = Checkpoint::parse(saved["verified"]["signed"].as_str().unwrap());
        note.verify(&key);
        assert_eq!(saved["verified"]["size"], note.size);
        assert!(note.size >= last_size, "the saved state went backwards");
        last_size = note.size;
    }
    // One more run, killed only once it has saved the log's current size, so
    // the test never depends on how fast the runs above were.
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let mut daemon = start_daemon(&url, &key_path, &state, dir.path(), &["--interval", "1"]);
    wait_for("the state to reach the log's size", || {
        let saved: Value = serde_json::from_slice(&std::fs::read(&state).ok()?).ok()?;
        (saved["verified"]["size"] == size).then_some(())
    });
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    let saved = read_state(&state);
    Checkpoint::parse(saved["verified"]["signed"].as_str().unwrap()).verify(&key);
    assert!(size >= last_size);
    last_size = size;
    // Whatever was left is a valid starting point for the next run.
    let size = tlog.log_info()["treeSize"].as_u64().unwrap();
    let output = monitor_once(&url, &key_path, &state);
    expect_verified(&output, size, Some(last_size));
}
