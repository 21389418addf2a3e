//! TEMPORARY compile stub.
#![allow(unused)]
pub mod index;
pub enum EntryKind {
    HashedRekord,
    Dsse,
}
pub struct PreparedEntry {
    pub kind: EntryKind,
    pub body: Vec<u8>,
    pub index_keys: Vec<String>,
}
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("x")]
    X,
}
pub fn prepare(request_body: &[u8]) -> Result<PreparedEntry, EntryError> {
    todo!()
}
