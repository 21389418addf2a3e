//! Admin rotation with replicas: they share one admin token (stored in the
//! database by the first to start), and a rotation reaching a follower is
//! made by the integrator, as writes are.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;

use support::services::fresh_database;
use support::*;

#[test]
fn a_rotation_reaching_a_follower_is_made_by_the_integrator() {
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database();
    let key_path = dir.path().join("log-key.pem");
    support::ca::keygen(&key_path);
    let start = |name: &str| {
        Tlog::start(
            &dir.path().join(name),
            &["--database", &database, "--key", key_path.to_str().unwrap()],
        )
    };
    // The first to start integrates; the second follows.
    let integrator = start("first");
    let follower = start("second");
    let key = integrator.public_key();
    let signer = Signer::new();
    let before: Vec<LogEntry> = (0..2)
        .map(|i| follower.submit(&signer.hashedrekord(format!("before {i}").as_bytes()), &key))
        .collect();

    let token = std::fs::read_to_string(dir.path().join("first/admin.token")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("second/admin.token")).unwrap(),
        token,
        "replicas share the admin token"
    );
    // A wrong token is refused by the follower itself: nothing is forwarded.
    let wrong = follower.post_bearer("/admin/v1/rotate", &json!({}), "not-the-token");
    wrong.expect_error(403);
    assert_eq!(integrator.log_info()["inactiveShards"], json!(null));

    let rotated = atesto(&[
        "tlog",
        "rotate",
        "--data",
        dir.path().join("second").to_str().unwrap(),
        "--addr",
        &follower.addr,
    ]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
    assert_eq!(answer["startIndex"], 2);
    let tree_id = answer["treeID"].as_str().unwrap().to_owned();

    // Both replicas serve the new shard, the old one frozen at size 2.
    for replica in [&integrator, &follower] {
        let deadline = Instant::now() + Duration::from_secs(10);
        let info = loop {
            let info = replica.log_info();
            if info["treeID"] == tree_id || Instant::now() > deadline {
                break info;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(info["treeID"], tree_id, "{info}");
        assert_eq!(info["inactiveShards"][0]["treeSize"], 2);
        assert_eq!(
            info["inactiveShards"][0]["treeID"],
            before[0].tree_id().to_string()
        );
    }
    let after = follower.submit(&signer.hashedrekord(b"after"), &key);
    assert_eq!(after.log_index, 2);
    assert_eq!(after.tree_id().to_string(), tree_id);
}
