//! The SignedEntryTimestamp: the log's promise, made once at integration,
//! that an entry with this body, time, log id and index is in the log.
//! LogEntry answers carry the same four fields, in the same order.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::log::LogKeys;
use crate::store::StoreError;

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
    pub fn sign(&self, keys: &LogKeys) -> Result<Vec<u8>, StoreError> {
        let canonical = serde_json_canonicalizer::to_vec(self)
            .map_err(|e| StoreError::Backend(format!("canonicalizing a SET: {e}")))?;
        keys.sign(&canonical)
            .map_err(|e| StoreError::Backend(format!("signing a SET: {e}")))
    }
}
