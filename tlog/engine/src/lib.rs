//! Atesto's transparency log: an append-only RFC 6962 Merkle log stored as
//! C2SP tlog-tiles, served with the Rekor v1 API and the tiles read API.
//!
//! - `entry/`: the entry types (hashedrekord, dsse) and the search index keys.
//! - `merkle`: tile arithmetic, the in-memory right edge, proofs from tiles.
//! - `store/`: the storage trait and its redb backend.
//! - `sequencer`: pools submissions and integrates them in durable batches.
//! - `log`: shards, checkpoints and reads, shared by the APIs.
//! - `api/`: HTTP: Rekor v1 (`api/v1/`), tiles, health and metrics.
//! - `ct/`: the RFC 6962 CT log (for the CA's SCTs) on the same engine.

pub mod api;
pub mod config;
pub mod ct;
pub mod entry;
pub mod log;
pub mod merkle;
pub mod metrics;
pub mod sequencer;
pub mod set;
pub mod store;
