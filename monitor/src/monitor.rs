//! One check of a log: fetch, verify, compare with the state, save.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::alert::Alert;
use crate::checkpoint::{CheckpointError, TreeHead, verify_checkpoint};
use crate::clock::now_rfc3339;
use crate::consistency::{Next, check_proof, compare};
use crate::keys::TrustedKeys;
use crate::log_kind::LogKind;
use crate::scan::{self, ScanSummary};
use crate::state::State;
use crate::watch::{Match, WatchList};
use crate::{MonitorError, ct, rekor, tiles, witness};

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `head` is signed and extends the previously verified tree head (of
    /// `previous_size`, none on a first run); it is now the saved state.
    Verified {
        previous_size: Option<u64>,
        head: TreeHead,
    },
    /// Evidence against the log. The state is left as it was: the last
    /// verified tree head stays the reference for the next check.
    Alert(Alert),
}

pub struct Monitor {
    kind: LogKind,
    base: String,
    keys: TrustedKeys,
    state_path: PathBuf,
    client: reqwest::Client,
    witnesses: Vec<String>,
}

/// How often a running identity scan saves how far it got.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// No single request of a check should take longer: a log that stalls is
/// reported as an error and retried next interval.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn http_client() -> Result<reqwest::Client, MonitorError> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("atesto-monitor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|source| MonitorError::Http {
            url: String::new(),
            source,
        })
}

/// Which API `base` speaks: Rekor v1 if `/api/v1/log` answers, else CT if
/// `/ct/v1/get-sth` does, else tiles if `/checkpoint` does.
pub async fn discover(client: &reqwest::Client, base: &str) -> Result<LogKind, MonitorError> {
    let base = base.trim_end_matches('/');
    if rekor::latest(client, base).await.is_ok() {
        return Ok(LogKind::Rekor);
    }
    let url = format!("{base}/ct/v1/get-sth");
    if crate::http::get_json::<serde_json::Value>(client, &url)
        .await
        .is_ok()
    {
        return Ok(LogKind::Ct);
    }
    match tiles::latest(client, base).await {
        Ok(_) => Ok(LogKind::Tiles),
        Err(e) => Err(MonitorError::Malformed {
            url: base.to_owned(),
            reason: format!(
                "not a Rekor v1 log (/api/v1/log), a CT log (/ct/v1/get-sth) or a tiles log ({e}); pass --kind"
            ),
        }),
    }
}

impl Monitor {
    pub fn new(
        kind: LogKind,
        base: &str,
        keys: TrustedKeys,
        state_path: PathBuf,
        client: reqwest::Client,
    ) -> Self {
        Self {
            kind,
            base: base.trim_end_matches('/').to_owned(),
            keys,
            state_path,
            client,
            witnesses: Vec::new(),
        }
    }

    /// Sources of other parties' tree heads to compare with (see [`crate::witness`]).
    pub fn with_witnesses(mut self, witnesses: Vec<String>) -> Self {
        self.witnesses = witnesses;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Fetches the latest tree head, verifies it against the saved state and,
    /// if it holds, saves it as the new state.
    pub async fn check(&self) -> Result<Outcome, MonitorError> {
        let state = State::load(&self.state_path, &self.base)?;
        let (head, tree_id) = match self.latest().await? {
            Ok(latest) => latest,
            Err(alert) => return Ok(Outcome::Alert(alert)),
        };
        if let Some(state) = &state {
            let verified = &state.verified;
            // A new origin is a new tree (Rekor shards carry the tree ID in
            // it): two trees' sizes say nothing about each other.
            if verified.origin != head.origin {
                return Ok(Outcome::Alert(Alert::OriginChanged {
                    verified: verified.origin.clone(),
                    now: head.origin,
                }));
            }
            match compare(verified, &head) {
                Err(alert) => return Ok(Outcome::Alert(alert)),
                Ok(Next::Accept) => {}
                Ok(Next::NeedProof) => {
                    let proof = self
                        .consistency(verified, &head, tree_id.as_deref())
                        .await?;
                    if let Err(alert) = check_proof(verified, &head, &proof) {
                        return Ok(Outcome::Alert(alert));
                    }
                }
            }
        }
        let previous_size = state.as_ref().map(|s| s.verified.size);
        // Saving an unchanged tree head would only wear the disk.
        if state.as_ref().is_none_or(|s| s.verified != head) {
            State {
                log: self.base.clone(),
                verified: head.clone(),
                verified_at: now_rfc3339(),
                scanned_size: state.as_ref().and_then(|s| s.scanned_size),
            }
            .save(&self.state_path)?;
        }
        if let Some(alert) = self.cross_check(&head, tree_id.as_deref()).await? {
            return Ok(Outcome::Alert(alert));
        }
        Ok(Outcome::Verified {
            previous_size,
            head,
        })
    }

    /// Compares `head` with every witness's tree head of the same log: one
    /// size with two roots is a split view outright; otherwise the log must
    /// prove the smaller tree a prefix of the larger.
    async fn cross_check(
        &self,
        head: &TreeHead,
        tree_id: Option<&str>,
    ) -> Result<Option<Alert>, MonitorError> {
        for source in &self.witnesses {
            let text = witness::fetch(&self.client, source).await?;
            let witnessed = witness::parse(source, &text, self.kind, &self.base, &self.keys)?;
            if witnessed.origin != head.origin {
                return Err(MonitorError::Malformed {
                    url: source.clone(),
                    reason: format!(
                        "a tree head of {}, not of {}",
                        witnessed.origin, head.origin
                    ),
                });
            }
            let (older, newer) = if witnessed.size <= head.size {
                (&witnessed, head)
            } else {
                (head, &witnessed)
            };
            let verdict = match compare(older, newer) {
                Err(alert) => Err(alert.to_string()),
                Ok(Next::Accept) => Ok(()),
                Ok(Next::NeedProof) => {
                    let proof = self.consistency(older, newer, tree_id).await?;
                    check_proof(older, newer, &proof).map_err(|a| a.to_string())
                }
            };
            if let Err(reason) = verdict {
                return Ok(Some(witness::split_view(source, head, &witnessed, &reason)));
            }
        }
        Ok(None)
    }

    /// Scans the entries the verified tree head covers and no earlier scan
    /// did, for `watch`'s identities, then records them as scanned. Only the
    /// entries of a tree head verified by [`Self::check`] are read, so a
    /// forked log cannot show the watch entries it hides from the monitor.
    pub async fn watch(
        &self,
        watch: Arc<WatchList>,
        on_match: impl FnMut(&Match),
        progress: impl FnMut(u64, u64),
    ) -> Result<Option<ScanSummary>, MonitorError> {
        let Some(mut state) = State::load(&self.state_path, &self.base)? else {
            return Ok(None);
        };
        let (from, to) = (state.scanned_size.unwrap_or(0), state.verified.size);
        let mut progress = progress;
        // Progress is saved as the scan goes (entries come in log order), at
        // most once a second so the fsyncs stay off the scan's pace: a
        // catch-up that is killed or fails resumes where it was, repeating at
        // most a second of matches.
        let mut saving = state.clone();
        let mut last_save: Option<Instant> = None;
        let mut save_error = None;
        let progress = |done| {
            progress(done, to - from);
            if last_save.is_none_or(|at| at.elapsed() >= SAVE_EVERY) && save_error.is_none() {
                saving.scanned_size = Some(from + done);
                if let Err(e) = saving.save(&self.state_path) {
                    save_error = Some(e);
                }
                last_save = Some(Instant::now());
            }
        };
        let summary = match self.kind {
            LogKind::Rekor | LogKind::Tiles => {
                scan::scan(
                    &self.client,
                    &self.base,
                    watch,
                    (from, to),
                    on_match,
                    progress,
                )
                .await?
            }
            LogKind::Ct => {
                scan::scan_ct(
                    &self.client,
                    &self.base,
                    watch,
                    (from, to),
                    on_match,
                    progress,
                )
                .await?
            }
        };
        if let Some(e) = save_error {
            return Err(e.into());
        }
        state.scanned_size = Some(to);
        state.save(&self.state_path)?;
        Ok(Some(summary))
    }

    /// The latest verified tree head (or the alert its signature raises),
    /// and the Rekor tree ID that proofs must name.
    async fn latest(&self) -> Result<Result<(TreeHead, Option<String>), Alert>, MonitorError> {
        match self.kind {
            LogKind::Rekor => {
                let (note, tree_id) = rekor::latest(&self.client, &self.base).await?;
                match verify_checkpoint(&note, &self.keys) {
                    Ok(head) => Ok(Ok((head, tree_id))),
                    Err(CheckpointError::Alert(alert)) => Ok(Err(alert)),
                    Err(CheckpointError::Malformed(reason)) => Err(MonitorError::Malformed {
                        url: format!("{}/api/v1/log", self.base),
                        reason,
                    }),
                }
            }
            LogKind::Ct => Ok(ct::latest(&self.client, &self.base, &self.keys)
                .await?
                .map(|head| (head, None))),
            LogKind::Tiles => {
                let note = tiles::latest(&self.client, &self.base).await?;
                match verify_checkpoint(&note, &self.keys) {
                    Ok(head) => Ok(Ok((head, None))),
                    Err(CheckpointError::Alert(alert)) => Ok(Err(alert)),
                    Err(CheckpointError::Malformed(reason)) => Err(MonitorError::Malformed {
                        url: format!("{}/checkpoint", self.base),
                        reason,
                    }),
                }
            }
        }
    }

    /// The log's consistency proof from `older` to `newer` (asked of the log,
    /// or for tiles computed from tiles authenticated against `newer`'s root).
    async fn consistency(
        &self,
        older: &TreeHead,
        newer: &TreeHead,
        tree_id: Option<&str>,
    ) -> Result<Vec<[u8; 32]>, MonitorError> {
        let (first, last) = (older.size, newer.size);
        match self.kind {
            LogKind::Rekor => {
                rekor::consistency(&self.client, &self.base, first, last, tree_id).await
            }
            LogKind::Ct => ct::consistency(&self.client, &self.base, first, last).await,
            LogKind::Tiles => {
                let root = newer.root_bytes().ok_or_else(|| MonitorError::Malformed {
                    url: self.base.clone(),
                    reason: format!("root {:?} is not 32 bytes of hex", newer.root),
                })?;
                tiles::consistency(&self.client, &self.base, (first, last), root).await
            }
        }
    }
}
