//! Split-view check: tree heads of the same log seen by others (witnesses,
//! other monitors), compared with the one verified here.
//!
//! A source is a file or an http(s) URL holding one of: a checkpoint note, a
//! CT `get-sth` reply, a Rekor `GET /api/v1/log` reply (its
//! `signedTreeHead`), or another Atesto monitor's state file (its
//! `verified.signed`). The tree head must be signed by a key trusted for the
//! log: a witness's word alone proves nothing about the log.

use serde_json::Value;

use crate::MonitorError;
use crate::alert::Alert;
use crate::checkpoint::{CheckpointError, TreeHead, verify_checkpoint};
use crate::keys::TrustedKeys;
use crate::log_kind::LogKind;

/// Reads a source: a URL is fetched, anything else is a file path.
pub async fn fetch(client: &reqwest::Client, source: &str) -> Result<String, MonitorError> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let reply = crate::http::get(client, source).await?;
        let body = crate::http::read_body(reply, source, crate::http::MAX_REPLY).await?;
        let text = String::from_utf8(body).map_err(|_| MonitorError::Malformed {
            url: source.to_owned(),
            reason: "the reply is not UTF-8".into(),
        })?;
        Ok(text)
    } else {
        std::fs::read_to_string(source).map_err(|e| MonitorError::Malformed {
            url: source.to_owned(),
            reason: format!("reading the witness file: {e}"),
        })
    }
}

/// The verified tree head a source holds, for the log at `origin` (CT: the
/// base URL; checkpoints carry their own origin).
pub fn parse(
    source: &str,
    text: &str,
    kind: LogKind,
    origin: &str,
    keys: &TrustedKeys,
) -> Result<TreeHead, MonitorError> {
    let malformed = |reason: String| MonitorError::Malformed {
        url: source.to_owned(),
        reason,
    };
    let signed: String = match serde_json::from_str::<Value>(text) {
        Ok(json) => {
            if let Some(note) = json.get("signedTreeHead").and_then(Value::as_str) {
                note.to_owned()
            } else if let Some(signed) = json.pointer("/verified/signed").and_then(Value::as_str) {
                signed.to_owned()
            } else {
                text.to_owned()
            }
        }
        Err(_) => text.to_owned(),
    };
    let refused = |alert: Alert| malformed(format!("not signed by the log: {alert}"));
    match kind {
        LogKind::Rekor | LogKind::Tiles => verify_checkpoint(&signed, keys).map_err(|e| match e {
            CheckpointError::Malformed(reason) => malformed(reason),
            CheckpointError::Alert(alert) => refused(alert),
        }),
        LogKind::Ct => {
            let json: Value = serde_json::from_str(&signed)
                .map_err(|e| malformed(format!("not a get-sth reply: {e}")))?;
            crate::ct::verify_sth(&json, origin, keys)
                .map_err(malformed)?
                .map_err(refused)
        }
    }
}

/// A split view alert for `witnessed` against `head`.
pub fn split_view(source: &str, head: &TreeHead, witnessed: &TreeHead, reason: &str) -> Alert {
    Alert::SplitView {
        witness: source.to_owned(),
        witnessed_size: witnessed.size,
        witnessed_root: witnessed.root.clone(),
        size: head.size,
        root: head.root.clone(),
        reason: reason.to_owned(),
    }
}
