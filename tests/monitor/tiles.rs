//! C2SP tlog-tiles logs: proofs computed from the log's tiles.

use super::*;

#[test]
fn tiles_mode_computes_its_proofs_from_the_logs_tiles() {
    let (dir, tlog, key) = fresh_log("", &[]);
    let key_path = dir.path().join("log.pem");
    std::fs::write(&key_path, &key.pem).unwrap();
    let state = dir.path().join("state.json");
    let url = tlog.url("");
    let run = || monitor_command(&url, &key_path, &state, &["--once", "--kind", "tiles"]).output();

    // Growth within a tile, across full level-0 tiles, and to a second one.
    let mut previous = None;
    for (round, count) in [3, 300, 1, 260].into_iter().enumerate() {
        submit_plain(&tlog, &key, &format!("round{round}-"), count);
        let size = tlog.log_info()["treeSize"].as_u64().unwrap();
        expect_verified(&run().unwrap(), size, previous);
        previous = Some(size);
    }

    // A verified tree the log's tiles do not extend (here: its root altered
    // in the state file) is a fork: the proof from the tiles is checked
    // against the old root.
    submit_plain(&tlog, &key, "more", 5);
    let mut saved = read_state(&state);
    saved["verified"]["root"] = json!("00".repeat(32));
    std::fs::write(&state, saved.to_string()).unwrap();
    let alert = expect_alert(&run().unwrap(), "fork");
    assert!(
        alert["reason"]
            .as_str()
            .unwrap()
            .contains("consistency proof"),
        "{alert}"
    );
}
