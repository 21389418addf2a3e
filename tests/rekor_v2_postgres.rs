//! The Rekor v2 log on PostgreSQL: with `--database`, the `rekor_v2:` log
//! keeps its tree in its own schema (`rekor_v2`) of the v1 log's database,
//! so replicas serve it like the v1 log: each answers reads, and a write
//! reaching a replica that does not integrate it goes to the one that does.
//! (The whole v2 API suite also runs on PostgreSQL: scripts/test,
//! `ATESTO_TEST_STORE=postgres`.)

mod support;

use std::time::{Duration, Instant};

use support::rekor_v2::{RekorV2, hashed_rekord_request};
use support::services::fresh_database;
use support::*;

/// Waits until `replica` serves a v2 checkpoint of `size`; returns it.
fn wait_checkpoint(replica: &RekorV2, size: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = replica.get("/checkpoint");
        assert_eq!(reply.status, 200, "{}", reply.text);
        if Checkpoint::parse(&reply.text).size == size {
            return reply.text;
        }
        assert!(Instant::now() < deadline, "stuck at {}", reply.text);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn replicas_share_the_v2_log_in_its_schema_and_forward_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database();
    let key_path = dir.path().join("log-key.pem");
    support::ca::keygen(&key_path);
    let extra = ["--database", &database, "--key", key_path.to_str().unwrap()];
    // The first to start takes both logs' leases; the second follows.
    let first = RekorV2::start_replica(dir.path(), "first", &extra);
    let mut second = RekorV2::start_replica(dir.path(), "second", &extra);
    let signer = Signer::new();

    // A write to the follower is integrated by the integrator, and its 201
    // carries the proof against a checkpoint of the shared tree.
    let forwarded_request = hashed_rekord_request(&signer, b"v2 through the follower");
    let forwarded = second.submit(&forwarded_request);
    let direct = first.submit(&hashed_rekord_request(&signer, b"v2 on the integrator"));
    assert_eq!((forwarded.index, direct.index), (0, 1));

    // Both serve the same tree: checkpoint and tiles.
    let checkpoint = wait_checkpoint(&second, 2);
    assert_eq!(first.get("/checkpoint").text, checkpoint);
    let tile = first.get("/tile/0/000.p/2");
    assert_eq!(tile.status, 200);
    assert_eq!(second.get("/tile/0/000.p/2").bytes, tile.bytes);
    let bundle = second.get("/api/v2/tile/entries/000.p/2");
    assert_eq!(bundle.status, 200);
    assert_eq!(
        first.get("/api/v2/tile/entries/000.p/2").bytes,
        bundle.bytes
    );

    // A duplicate is 409 with the stored index on either replica.
    for replica in [&first, &second] {
        let again = replica.post(&forwarded_request);
        again.expect_error(409);
        assert_eq!(again.header("x-log-index"), Some("0"));
    }

    // The v2 tree is in the database, not the data directories: the v1
    // log's is another tree, and a replica on new directories has both.
    assert_eq!(first.v1.log_info()["treeSize"], 0);
    second.v1.kill();
    let third = RekorV2::start_replica(dir.path(), "third", &extra);
    assert_eq!(wait_checkpoint(&third, 2), checkpoint);
    let next = third.submit(&hashed_rekord_request(&signer, b"v2 after a restart"));
    assert_eq!(next.index, 2);
}
