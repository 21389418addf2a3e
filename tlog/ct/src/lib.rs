//! The RFC 6962 Certificate Transparency log the CA submits precertificates
//! to: a personality of the log engine (sequencer, store, tiles).
//!
//! - `leaf`: `extra_data` encodings (the MerkleTreeLeaf is `atesto_common::ct`).
//! - `chain`: chain checks (cutting the poison is `atesto_common::ct`).
//! - `sct`: SCT and tree head signatures.
//! - `config`: `atesto ct` options.
//! - `log`: `CtLog`, the running log and its signed tree head.
//! - `api`: the `/ct/v1/` endpoints.
//!
//! The leaf (the engine's entry leaf) is the MerkleTreeLeaf; the chain is the
//! entry's extra data, outside the hash. No per-entry signature is made at
//! integration: an SCT is signed when answered. Resubmissions are found by
//! the entry without its timestamp (a search-index key, the engine's dedup
//! key) and get an SCT for the stored entry.

pub mod api;
pub mod chain;
pub mod config;
pub mod leaf;
pub mod log;
pub mod sct;

pub use log::{CtLog, SignedTreeHead, now_ms, read_roots};
