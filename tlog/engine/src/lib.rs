//! Atesto's log engine: an append-only RFC 6962 Merkle log stored as C2SP
//! tlog-tiles, for any API personality (Rekor v1, the CT log, ...). It knows
//! entries only as leaf bytes, extra bytes and index keys; what they mean,
//! and what is signed per entry, is the personality's (`EntrySigner`).
//!
//! Files, bottom up (each imports only those above it):
//! - `store/`: the storage contract (`mod.rs`), its backends `redb.rs`
//!   (embedded) and `memory.rs` (tests, fault injection).
//! - `merkle`: tile arithmetic, the in-memory right edge, proofs from tiles.
//! - `tile_cache`: what proofs keep: full upper tiles and the right edge hashed, level-0 tiles summarized.
//! - `checkpoint`: the log's keys and checkpoint signing; `SignError`.
//! - `submission`: what a personality submits; the `EntrySigner` hook.
//! - `view`: what readers see: shards, published checkpoints, proven entries.
//! - `config`, `metrics`: options and Prometheus metrics.
//! - `sequencer`: the single writer: batches, commits, publication.
//! - `replica`: replicas of one shared store: the integrator lease, the
//!   followers' view.
//! - `log`: `Log`, the wiring and the API personalities use.
//! - `api_error`: how a `LogError` reaches an HTTP client.
//!
//! The write path and its crash invariants: docs/design.md.

pub mod api_error;
pub mod checkpoint;
pub mod config;
pub mod log;
pub mod merkle;
pub mod metrics;
pub mod replica;
pub mod sequencer;
pub mod store;
pub mod submission;
pub mod tile_cache;
pub mod view;
