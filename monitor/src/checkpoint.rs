//! Tree heads and their signatures: Rekor's checkpoints (C2SP signed notes)
//! here, CT's signed tree heads in [`crate::ct`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::keys::TrustedKeys;

/// A tree head whose signature was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    /// The checkpoint origin (Rekor: `<host> - <tree ID>`), or the CT log's URL.
    pub origin: String,
    pub size: u64,
    /// RFC 6962 root hash, lowercase hex.
    pub root: String,
    /// The signed form as the log served it (the note, or the CT STH JSON),
    /// kept as evidence and so the state file can be re-verified.
    pub signed: String,
}

impl TreeHead {
    pub fn root_bytes(&self) -> Option<[u8; 32]> {
        hex::decode(&self.root).ok()?.try_into().ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Not a well-formed checkpoint: no evidence of anything, only a bad reply.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// Well formed, but no trusted key signed it: evidence against the log.
    #[error(transparent)]
    Alert(#[from] Alert),
}

/// Parses a checkpoint note and verifies that a trusted key signed it: at
/// least one signature line must carry the hint of a trusted key and verify,
/// and a line that carries a trusted key's hint but does not verify is an
/// alert even if another line does (a log never signs wrongly by accident).
pub fn verify_checkpoint(note: &str, keys: &TrustedKeys) -> Result<TreeHead, CheckpointError> {
    let malformed = |reason: &str| CheckpointError::Malformed(format!("{reason}: {note:?}"));
    // signed_note checks the note's grammar (UTF-8, no control characters,
    // signature block after a blank line, sizes); the lines are split here
    // because it does not expose them and the verifier needs the key hint.
    signed_note::Note::from_bytes(note.as_bytes()).map_err(|e| malformed(&e.to_string()))?;
    let (body, signatures) = note
        .rsplit_once("\n\n")
        .ok_or_else(|| malformed("no signature block"))?;
    let text = format!("{body}\n");
    let mut lines = body.split('\n');
    let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(malformed("fewer than 3 lines of text"));
    };
    let size: u64 = size
        .parse()
        .map_err(|_| malformed("the tree size is not a decimal number"))?;
    let root: [u8; 32] = STANDARD
        .decode(root)
        .ok()
        .and_then(|r| r.try_into().ok())
        .ok_or_else(|| malformed("the root is not 32 bytes of base64"))?;

    let mut verified = false;
    for line in signatures.lines() {
        let signature = signed_note::Signature::from_bytes(line.as_bytes())
            .map_err(|e| malformed(&e.to_string()))?;
        let hint = signature.id().to_be_bytes();
        let mut candidates = keys.by_hint(signature.name(), hint).peekable();
        if candidates.peek().is_none() {
            continue; // another party's signature (a witness): not ours to judge
        }
        if !candidates.any(|key| key.verify(text.as_bytes(), signature.signature())) {
            return Err(Alert::BadSignature {
                reason: format!(
                    "the signature by {} with key hint {} does not verify",
                    signature.name(),
                    hex::encode(hint)
                ),
            }
            .into());
        }
        verified = true;
    }
    if !verified {
        return Err(Alert::BadSignature {
            reason: "no signature line carries the hint of a trusted key".into(),
        }
        .into());
    }
    Ok(TreeHead {
        origin: origin.to_owned(),
        size,
        root: hex::encode(root),
        signed: note.to_owned(),
    })
}
