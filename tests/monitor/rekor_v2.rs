//! A Rekor v2 log (`atesto tlog`'s `rekor_v2:` section): its Ed25519
//! checkpoints are recognised by their C2SP key id and its consistency is
//! proven from its tiles.

use super::*;
use support::rekor_v2::{RekorV2, hashed_rekord_request};

#[test]
fn tiles_mode_follows_a_rekor_v2_log_signed_with_ed25519() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorV2::start(dir.path());
    let key_path = dir.path().join("v2.pem");
    std::fs::write(&key_path, log.key.spki_pem()).unwrap();
    let state = dir.path().join("state.json");
    let url = log.url("");
    let run = || monitor_command(&url, &key_path, &state, &["--once", "--kind", "tiles"]).output();

    let signer = Signer::new();
    let mut previous = None;
    let mut size = 0;
    for count in [2, 3] {
        for _ in 0..count {
            log.submit(&hashed_rekord_request(
                &signer,
                format!("v2 {size}").as_bytes(),
            ));
            size += 1;
        }
        expect_verified(&run().unwrap(), size, previous);
        previous = Some(size);
    }

    // Another Ed25519 key under the same name does not vouch for the log.
    let other_dir = tempfile::tempdir().unwrap();
    let other = support::rekor_v2::CheckpointKey::write(&other_dir.path().join("k.pem"));
    std::fs::write(&key_path, other.spki_pem()).unwrap();
    let fresh_state = dir.path().join("fresh-state.json");
    let output = monitor_command(
        &url,
        &key_path,
        &fresh_state,
        &["--once", "--kind", "tiles"],
    )
    .output()
    .unwrap();
    expect_alert(&output, "bad-signature");
}
