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
mod tests;
