//! What a check can find wrong with a log. Each alert is evidence: it names
//! the two tree heads (or the signature) that disagree, so an operator can
//! hand it to the log's owner or to other monitors.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Alert {
    /// The log now claims fewer entries than a tree head it signed before.
    #[error(
        "rollback: the log's tree shrank from {verified_size} entries (verified before) to {size}"
    )]
    Rollback { verified_size: u64, size: u64 },
    /// Two signed tree heads that cannot both be true: the same size with
    /// different roots, or a larger tree that does not extend the old one.
    #[error(
        "fork: the tree of {size} entries (root {root}) does not extend the verified tree of {verified_size} entries (root {verified_root}): {reason}"
    )]
    Fork {
        verified_size: u64,
        verified_root: String,
        size: u64,
        root: String,
        reason: String,
    },
    /// The tree head is not signed by a trusted key.
    #[error("bad signature on the log's tree head: {reason}")]
    BadSignature { reason: String },
    /// Another source (a witness, another monitor) holds a tree head signed
    /// by the log that cannot be in the same history as the one verified
    /// here: the log shows different people different trees.
    #[error(
        "split view: {witness} saw the tree of {witnessed_size} entries (root {witnessed_root}), inconsistent with the verified tree of {size} entries (root {root}): {reason}"
    )]
    SplitView {
        witness: String,
        witnessed_size: u64,
        witnessed_root: String,
        size: u64,
        root: String,
        reason: String,
    },
    /// The tree head names another log than the one verified before
    /// (another origin or tree ID): its history cannot be compared.
    #[error("the log changed identity: verified {verified}, now {now}")]
    OriginChanged { verified: String, now: String },
}

impl Alert {
    pub const KINDS: [&'static str; 5] = [
        "rollback",
        "fork",
        "bad-signature",
        "split-view",
        "origin-changed",
    ];

    /// The label of this alert in metrics and JSON lines.
    pub fn kind(&self) -> &'static str {
        match self {
            Alert::Rollback { .. } => "rollback",
            Alert::Fork { .. } => "fork",
            Alert::BadSignature { .. } => "bad-signature",
            Alert::SplitView { .. } => "split-view",
            Alert::OriginChanged { .. } => "origin-changed",
        }
    }

    /// One JSON object on one line, for log shippers: the alert's fields plus
    /// `log`, `message` and `time` (RFC 3339).
    pub fn json_line(&self, log: &str) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("log".into(), log.into());
            object.insert("message".into(), self.to_string().into());
            object.insert("time".into(), crate::clock::now_rfc3339().into());
        }
        value.to_string()
    }
}
