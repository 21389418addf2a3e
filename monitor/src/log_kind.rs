//! The APIs a monitored log may speak.

/// The API a log speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// Rekor v1: `/api/v1/log`, checkpoints as signed notes.
    Rekor,
    /// RFC 6962 CT: `/ct/v1/get-sth`.
    Ct,
    /// C2SP tlog-tiles: `/checkpoint`, proofs computed from the hash tiles.
    Tiles,
}
