//! The answer to a new entry: a TransparencyLogEntry (protobuf-specs
//! `dev.sigstore.rekor.v1`) in protobuf JSON, 64-bit integers as strings
//! and bytes as base64, as rekor-tiles answers. There is no inclusion
//! promise and the integrated time is 0: a v2 log signs only checkpoints.

use atesto_tlog_engine::view::ProvenEntry;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::entry::{API_VERSION, KIND};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransparencyLogEntry<'a> {
    log_index: String,
    log_id: LogId,
    kind_version: KindVersion,
    integrated_time: &'static str,
    inclusion_proof: InclusionProof<'a>,
    canonicalized_body: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogId {
    key_id: String,
}

#[derive(Serialize)]
struct KindVersion {
    kind: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InclusionProof<'a> {
    log_index: String,
    root_hash: String,
    tree_size: String,
    hashes: Vec<String>,
    checkpoint: Checkpoint<'a>,
}

#[derive(Serialize)]
struct Checkpoint<'a> {
    envelope: &'a str,
}

/// The entry with its proof against the checkpoint that first covered it.
/// `log_id` is the checkpoint key's hash (`LogKeys::checkpoint_key_hash`).
pub fn render(entry: &ProvenEntry, log_id: &[u8; 32]) -> String {
    let value = TransparencyLogEntry {
        log_index: entry.index.to_string(),
        log_id: LogId {
            key_id: STANDARD.encode(log_id),
        },
        kind_version: KindVersion {
            kind: KIND,
            version: API_VERSION,
        },
        integrated_time: "0",
        inclusion_proof: InclusionProof {
            log_index: entry.index_in_shard().to_string(),
            root_hash: STANDARD.encode(entry.checkpoint.root),
            tree_size: entry.checkpoint.size.to_string(),
            hashes: entry
                .proof
                .iter()
                .map(|hash| STANDARD.encode(hash))
                .collect(),
            checkpoint: Checkpoint {
                envelope: &entry.checkpoint.note,
            },
        },
        canonicalized_body: STANDARD.encode(&entry.entry.body),
    };
    // Serializing plain strings cannot fail.
    serde_json::to_string(&value).unwrap_or_default()
}
