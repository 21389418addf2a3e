//! The state file: the last tree head the monitor verified. It is the
//! monitor's memory across runs, so it is replaced atomically (write a temp
//! file in the same directory, fsync it, rename it over the old one, fsync
//! the directory): a crash leaves either the old or the new state, whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint::TreeHead;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{op} state file {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("state file {path} belongs to log {found}, not {expected}: use one state file per log")]
    OtherLog {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

/// What is kept between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The log's base URL, so that one state file is never used for two logs.
    pub log: String,
    /// The last verified tree head.
    pub verified: TreeHead,
    /// When it was verified (RFC 3339).
    pub verified_at: String,
    /// Entries `[0, scanned_size)` were scanned by the identity watch; absent
    /// before the first scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_size: Option<u64>,
}

impl State {
    /// Reads the state of `log`; `None` when the file does not exist yet.
    pub fn load(path: &Path, log: &str) -> Result<Option<State>, StateError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    op: "reading",
                    path: path.into(),
                    source,
                });
            }
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| StateError::Invalid {
            path: path.into(),
            reason: e.to_string(),
        })?;
        if state.log != log {
            return Err(StateError::OtherLog {
                path: path.into(),
                found: state.log,
                expected: log.into(),
            });
        }
        Ok(Some(state))
    }

    /// Replaces the state file atomically and durably.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let io = |op: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| StateError::Io {
                op,
                path: p,
                source,
            }
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| StateError::Invalid {
            path: path.into(),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        // A fixed temp name per state file: one monitor per state file, and a
        // leftover from a crash is simply overwritten by the next save.
        let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
        temp_name.push(".tmp");
        let temp = dir.join(temp_name);
        let mut file = std::fs::File::create(&temp).map_err(io("creating", &temp))?;
        file.write_all(&json).map_err(io("writing", &temp))?;
        file.sync_all().map_err(io("syncing", &temp))?;
        drop(file);
        std::fs::rename(&temp, path).map_err(io("renaming", path))?;
        // The rename is durable only once the directory entry is.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing the directory of", path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_rfc3339;

    fn state(size: u64) -> State {
        State {
            log: "http://log".into(),
            verified: TreeHead {
                origin: "log - 1".into(),
                size,
                root: "00".repeat(32),
                signed: "note".into(),
            },
            verified_at: now_rfc3339(),
            scanned_size: None,
        }
    }

    #[test]
    fn saves_replace_and_load_checks_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(State::load(&path, "http://log").unwrap(), None);
        state(1).save(&path).unwrap();
        state(2).save(&path).unwrap();
        let loaded = State::load(&path, "http://log")
            .unwrap()
            .expect("saved state");
        assert_eq!(loaded.verified, state(2).verified);
        assert!(!dir.path().join("state.json.tmp").exists());
        assert!(matches!(
            State::load(&path, "http://other"),
            Err(StateError::OtherLog { .. })
        ));
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(
            State::load(&path, "http://log"),
            Err(StateError::Invalid { .. })
        ));
    }
}
