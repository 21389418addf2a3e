//! TEMPORARY compile stub (replaced by the real module).
#![allow(unused)]
use crate::store::{StoreError, TileData};
pub use tlog_tiles::Hash;
pub const TILE_HEIGHT: u8 = 8;
pub const TILE_WIDTH: u64 = 256;
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    tlog_tiles::record_hash(entry).0
}
pub trait TileSource {
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
}
impl<F: Fn(u8, u64) -> Result<Option<Vec<u8>>, StoreError>> TileSource for F {
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self(level, index)
    }
}
#[derive(Debug, thiserror::Error)]
pub enum MerkleError {
    #[error(transparent)]
    Store(#[from] StoreError),
}
#[derive(Clone)]
pub struct RightEdge;
impl RightEdge {
    pub fn empty() -> Self {
        todo!()
    }
    pub fn load(size: u64, source: &dyn TileSource) -> Result<Self, MerkleError> {
        todo!()
    }
    pub fn size(&self) -> u64 {
        todo!()
    }
    pub fn root(&self) -> [u8; 32] {
        todo!()
    }
    pub fn append(&mut self, leaf_hashes: &[[u8; 32]]) -> Vec<TileData> {
        todo!()
    }
    pub fn batch_proofs(
        &self,
        written: &[TileData],
        indexes: std::ops::Range<u64>,
    ) -> Result<Vec<Vec<[u8; 32]>>, MerkleError> {
        todo!()
    }
}
pub fn root(source: &dyn TileSource, size: u64) -> Result<[u8; 32], MerkleError> {
    todo!()
}
pub fn inclusion_proof(
    source: &dyn TileSource,
    size: u64,
    index: u64,
) -> Result<Vec<[u8; 32]>, MerkleError> {
    todo!()
}
pub fn consistency_proof(
    source: &dyn TileSource,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<[u8; 32]>, MerkleError> {
    todo!()
}
pub fn tile_in_tree(size: u64, level: u8, index: u64, width: u64) -> bool {
    todo!()
}
pub fn tile_width(size: u64, level: u8, index: u64) -> u64 {
    todo!()
}
