//! Files the entries of a log written before the `spki:` key kind existed
//! (see `entry::index`) under that kind, so a search by key fingerprint
//! finds old entries too.
//!
//! It runs on its own thread from start-up (why not a command or the
//! request path: docs/design.md, "Re-indexing the key fingerprints"): it
//! reads the entries below the tree size it found at start in steps, and
//! files each step's keys together with its progress marker in one durable
//! write, so a restart resumes after the last step that landed. Entries
//! written from start-up on get their keys at integration. When done, the
//! marker says so and later starts do nothing. Filing a key twice is
//! harmless, so replicas sharing a store may each run it.

use std::sync::Arc;
use std::time::Duration;

use atesto_tlog_engine::log::{Log, LogError};

use crate::entry::index::stored_spki_keys;

/// The search key holding the re-index's progress: the next global index to
/// read, or `DONE`. No query can name it (queries make only `sha…:`,
/// `key:`, `spki:` and `id:` keys).
pub const MARKER: &str = "reindex:spki";

/// The marker of a finished re-index (the largest index PostgreSQL's BIGINT holds).
pub const DONE: u64 = i64::MAX as u64;

/// Entries read and filed per durable write.
const STEP: u64 = 512;

/// How long to wait before trying again after a store error.
const RETRY: Duration = Duration::from_secs(5);

/// Starts the re-index on its own thread; it returns at once.
pub fn spawn(log: Arc<Log>) {
    let spawned = std::thread::Builder::new()
        .name("reindex".into())
        .spawn(move || {
            while let Err(err) = run(&log) {
                tracing::warn!(error = %err, "re-indexing key fingerprints failed; trying again");
                std::thread::sleep(RETRY);
            }
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "could not start re-indexing key fingerprints");
    }
}

/// Files every entry below the tree size found now that is not filed yet,
/// resuming from the marker. Blocking.
pub fn run(log: &Log) -> Result<(), LogError> {
    let mut next = log.search(MARKER)?.into_iter().max().unwrap_or(0);
    if next == DONE {
        return Ok(());
    }
    let end = log.view().total_size();
    let start = next;
    if start < end {
        tracing::info!(from = next, to = end, "re-indexing key fingerprints");
    }
    while next < end {
        let step_end = end.min(next + STEP);
        let entries = log.read_entries(next..step_end)?;
        if entries.is_empty() {
            return Err(LogError::Setup(format!(
                "re-index: entry {next} is missing from the store"
            )));
        }
        let filed: Vec<(String, u64)> = entries
            .iter()
            .zip(next..)
            .flat_map(|(entry, index)| {
                stored_spki_keys(&entry.body)
                    .into_iter()
                    .map(move |key| (key, index))
            })
            .collect();
        next += entries.len() as u64;
        let marker = if next >= end { DONE } else { next };
        log.file_keys(&filed, (MARKER, marker))?;
    }
    if start >= end {
        log.file_keys(&[], (MARKER, DONE))?;
    }
    tracing::info!("key fingerprints are indexed for every entry");
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
