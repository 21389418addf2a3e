//! The Rekor v2 personality of the log engine (rekor-tiles' API): a C2SP
//! tlog-tiles log whose one write is `POST /api/v2/log/entries`.
//!
//! - `request`: the CreateEntryRequest JSON as clients send it.
//! - `entry`: validation, signature verification, the canonical body.
//! - `error`: why an entry was refused.
//! - `answer`: the TransparencyLogEntry answer (protobuf JSON).
//! - `api`: the handler and the routes; `config`: the options;
//!   `explorer`: the explorer page and the checkpoint key it verifies with;
//!   `state`: what handlers share, `start`.
//!
//! The log has no per-entry promise (no SET, no integrated time): a client
//! proves when it signed with an RFC 3161 timestamp. Entries are kept once
//! integrated and durable, as in the Rekor v1 personality; reads are the
//! tiles, served by `atesto-tlog-http` under `/api/v2/` and at the root.

pub mod answer;
pub mod api;
pub mod config;
pub mod entry;
pub mod error;
mod explorer;
pub mod request;
mod state;

pub use api::{router, routes};
pub use state::{RekorV2, start};
