//! Publication of a log's C2SP read API to object storage: after the log
//! publishes a checkpoint, its new tiles, entry bundles and then the
//! checkpoint go to a bucket, under the paths `atesto-tlog-http` serves
//! (`checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`, and
//! inactive shards under `shards/<treeID>/`), with the same bytes, so
//! readers can be served by the bucket or a CDN in front of it.
//!
//! Its own crate: the engine stays free of the object-store client and its
//! HTTP stack, and the rendering it needs (paths, tile bytes) is the HTTP
//! crate's, shared rather than repeated. The store stays the authority:
//! publication runs beside the write path and never holds a write up.
//!
//! - `bucket`: a bucket from its URL (`s3://`, `gs://`, `file://`), whole-object writes.
//! - `plan`: which objects a bucket lacks between two tree sizes.
//! - `publisher`: the task that follows the log, its `/readyz` line and metrics.
//!
//! The design and its safety rules: docs/design.md, "Publishing to object storage".

pub mod bucket;
pub mod plan;
pub mod publisher;

pub use publisher::{PublishError, publish_once, start};
