//! The LogEntry answer: `{"<80-hex id>":{body, integratedTime, logID, logIndex,
//! verification}}`, compact, fields in this order. sigstore-rs slices the reply
//! by character offsets, so the shape and key order are part of the wire format.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use atesto_common::note::first_signature_only;

use atesto_tlog_engine::view::ProvenEntry;

use crate::set::SignedFields;

#[derive(Serialize)]
struct LogEntryValue<'a> {
    #[serde(flatten)]
    signed: SignedFields<'a>,
    verification: Verification<'a>,
}

#[derive(Serialize)]
struct Verification<'a> {
    #[serde(rename = "inclusionProof")]
    inclusion_proof: InclusionProof<'a>,
    #[serde(rename = "signedEntryTimestamp")]
    signed_entry_timestamp: String,
}

#[derive(Serialize)]
struct InclusionProof<'a> {
    checkpoint: &'a str,
    hashes: Vec<String>,
    #[serde(rename = "logIndex")]
    log_index: u64,
    #[serde(rename = "rootHash")]
    root_hash: String,
    #[serde(rename = "treeSize")]
    tree_size: u64,
}

/// One entry as the single-key JSON object Rekor answers, without a newline.
pub fn render(entry: &ProvenEntry, log_id_hex: &str) -> String {
    let value = LogEntryValue {
        signed: SignedFields::new(
            &entry.entry.body,
            entry.entry.integrated_time,
            log_id_hex,
            entry.index,
        ),
        verification: Verification {
            inclusion_proof: InclusionProof {
                checkpoint: first_signature_only(&entry.checkpoint.note),
                hashes: entry.proof.iter().map(hex::encode).collect(),
                log_index: entry.index_in_shard(),
                root_hash: hex::encode(entry.checkpoint.root),
                tree_size: entry.checkpoint.size,
            },
            signed_entry_timestamp: STANDARD.encode(&entry.entry.receipt),
        },
    };
    // Serializing plain strings and integers cannot fail.
    let value = serde_json::to_string(&value).unwrap_or_default();
    format!("{{\"{}\":{value}}}", entry.entry_id())
}
