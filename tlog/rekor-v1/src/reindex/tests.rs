use std::sync::Arc;

use atesto_tlog_engine::store::memory::MemoryStore;
use atesto_tlog_engine::submission::Submission;

use super::*;
use crate::config::TlogConfig;
use crate::entry::{self, testkit};

/// An entry as a log before the `spki:` kind filed it.
fn old_submission(signer: &testkit::Signer, n: u8) -> (Submission, String) {
    let digest = atesto_common::pubkey::HashAlgorithm::Sha256.digest(&[n]);
    let signature = signer.sign_digest(atesto_common::pubkey::HashAlgorithm::Sha256, &digest);
    let body = testkit::hashedrekord(
        "sha256",
        &hex::encode(&digest),
        &signature,
        signer.pem().as_bytes(),
    );
    let mut prepared = entry::prepare(&body).unwrap();
    let spki: Vec<String> = prepared
        .index_keys
        .iter()
        .filter(|k| k.starts_with("spki:"))
        .cloned()
        .collect();
    prepared.index_keys.retain(|k| !k.starts_with("spki:"));
    (prepared.into_submission(), spki[0].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn old_entries_are_filed_and_a_second_run_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = TlogConfig {
        data: dir.path().to_path_buf(),
        ..TlogConfig::default()
    };
    let store = Arc::new(MemoryStore::new());
    let log = Arc::new(crate::start(store.clone(), &config).unwrap());
    let signer = testkit::p256();
    let mut spki = String::new();
    for n in 0..3 {
        let (submission, key) = old_submission(&signer, n);
        log.submit(submission).unwrap().await.unwrap().unwrap();
        spki = key;
    }
    assert_eq!(log.search(&spki).unwrap(), Vec::<u64>::new());

    reindex(&log).await;
    assert_eq!(log.search(&spki).unwrap(), vec![0, 1, 2]);
    assert_eq!(log.search(MARKER).unwrap(), vec![DONE]);

    // Done is done: an entry filed the old way after it stays unfiled.
    let (submission, _) = old_submission(&signer, 9);
    log.submit(submission).unwrap().await.unwrap().unwrap();
    reindex(&log).await;
    assert_eq!(log.search(&spki).unwrap(), vec![0, 1, 2]);
}

async fn reindex(log: &Arc<Log>) {
    let log = log.clone();
    tokio::task::spawn_blocking(move || run(&log))
        .await
        .unwrap()
        .unwrap();
}
