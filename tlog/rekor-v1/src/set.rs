//! The SignedEntryTimestamp: the log's promise, made once at integration,
//! that an entry with this body, time, log id and index is in the log.
//! LogEntry answers carry the same four fields, in the same order. The
//! engine has it made through `SetSigner`, its `EntrySigner` hook.

use std::sync::Arc;

use atesto_tlog_engine::checkpoint::{LogKeys, SignError};
use atesto_tlog_engine::submission::{EntrySigner, Integrated};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

/// The fields a SET signs, serialized as RFC 8785 JSON for signing.
#[derive(Serialize)]
pub struct SignedFields<'a> {
    /// Base64 of the canonical body.
    pub body: String,
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    #[serde(rename = "logID")]
    pub log_id: &'a str,
    #[serde(rename = "logIndex")]
    pub log_index: u64,
}

impl<'a> SignedFields<'a> {
    pub fn new(body: &[u8], integrated_time: i64, log_id_hex: &'a str, log_index: u64) -> Self {
        Self {
            body: STANDARD.encode(body),
            integrated_time,
            log_id: log_id_hex,
            log_index,
        }
    }

    /// ECDSA signature over the canonical JSON of the fields.
    pub fn sign(&self, keys: &LogKeys) -> Result<Vec<u8>, SignError> {
        let canonical =
            serde_json_canonicalizer::to_vec(self).map_err(|e| SignError::Encoding {
                what: "a SET",
                reason: e.to_string(),
            })?;
        keys.sign("a SET", &canonical)
    }
}

/// Signs each entry's SET with the log key as the sequencer integrates it.
pub struct SetSigner {
    keys: Arc<LogKeys>,
}

impl SetSigner {
    pub fn new(keys: Arc<LogKeys>) -> Self {
        Self { keys }
    }
}

impl EntrySigner for SetSigner {
    fn sign_entry(&self, entry: Integrated<'_>) -> Result<Vec<u8>, SignError> {
        SignedFields::new(
            entry.leaf,
            entry.integrated_time,
            &self.keys.log_id_hex,
            entry.index,
        )
        .sign(&self.keys)
    }
}
