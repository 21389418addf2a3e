//! Full tiles above level 0, hashed once and kept in memory. Every
//! inclusion proof in a shard passes through the same few upper tiles
//! (a 10M-entry tree has 152 full level-1 tiles), so keeping them spares
//! each proof all but its level-0 tile: a smaller read from the store and
//! nothing to hash above the bottom level. A full tile never changes, so a
//! kept one is never stale; partial tiles and level 0 are never kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::merkle::{HashedTile, KnownTile, KnownTiles, TILE_WIDTH, tile_width};
use crate::store::TilesRead;

/// Tiles kept at most: 16 MiB of hashed tiles, the level-1 tiles of a
/// 67M-entry tree.
const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct TileCache {
    /// By (shard ordinal, level, index).
    tiles: Mutex<HashMap<(u32, u8, u64), Arc<HashedTile>>>,
}

impl TileCache {
    /// Splits the tiles a proof needs into those kept (hashed) and those
    /// to read from the store.
    pub fn split(&self, shard: u32, wanted: &[(u8, u64)]) -> (KnownTiles, Vec<(u8, u64)>) {
        let Ok(tiles) = self.tiles.lock() else {
            return (Vec::new(), wanted.to_vec());
        };
        let mut known = Vec::with_capacity(wanted.len());
        let mut missing = Vec::new();
        for &(level, index) in wanted {
            match tiles.get(&(shard, level, index)) {
                Some(hashed) => known.push((level, index, KnownTile::Hashed(hashed.clone()))),
                None => missing.push((level, index)),
            }
        }
        (known, missing)
    }

    /// Adds the tiles just read (`read`, in the order of `wanted`) to
    /// `known`, keeping those that are full above level 0 in a tree of
    /// `size` leaves.
    pub fn add_read(
        &self,
        shard: u32,
        size: u64,
        wanted: &[(u8, u64)],
        read: TilesRead,
        known: &mut KnownTiles,
    ) {
        for (&(level, index), data) in wanted.iter().zip(read) {
            let Some(data) = data else { continue };
            let keep = level > 0 && tile_width(size, level, index) == TILE_WIDTH;
            match keep.then(|| HashedTile::new(&data)).flatten() {
                Some(hashed) => {
                    let hashed = Arc::new(hashed);
                    self.keep(shard, level, index, hashed.clone());
                    known.push((level, index, KnownTile::Hashed(hashed)));
                }
                None => known.push((level, index, KnownTile::Stored(data))),
            }
        }
    }

    fn keep(&self, shard: u32, level: u8, index: u64, hashed: Arc<HashedTile>) {
        let Ok(mut tiles) = self.tiles.lock() else {
            return;
        };
        if tiles.len() >= CAPACITY {
            // Past the capacity (trees beyond 67M entries) an arbitrary
            // tile makes room: the map's order is random enough.
            if let Some(&evicted) = tiles.keys().next() {
                tiles.remove(&evicted);
            }
        }
        tiles.insert((shard, level, index), hashed);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::merkle::{self, RightEdge, TileSource, leaf_hash};
    use crate::store::StoreError;

    struct Tiles(HashMap<(u8, u64), Vec<u8>>);

    impl TileSource for Tiles {
        fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.0.get(&(level, index)).cloned())
        }
    }

    /// Proofs through kept tiles equal proofs from the stored tiles, in a
    /// tree with a full and a partial level-1 tile; only the full one is kept.
    #[test]
    fn proofs_through_kept_tiles_equal_proofs_from_stored_tiles() {
        let size = 2 * 65_536 + 300;
        let mut edge = RightEdge::empty();
        let hashes: Vec<[u8; 32]> = (0..size as u32)
            .map(|i| leaf_hash(&i.to_le_bytes()))
            .collect();
        let written = edge.append(&hashes);
        let tiles = Tiles(
            written
                .into_iter()
                .map(|t| ((t.level, t.index), t.data))
                .collect(),
        );
        let cache = TileCache::default();
        for round in 0..2 {
            for index in [
                0,
                1,
                255,
                256,
                65_535,
                65_536,
                100_000,
                size - 300,
                size - 1,
            ] {
                let plan = merkle::inclusion_tiles(size, index).unwrap();
                let (mut known, wanted) = cache.split(0, plan.tiles());
                if round == 1 {
                    // Only level 0 and the partial tiles of the right edge are read.
                    let full_upper = |&(level, i): &(u8, u64)| {
                        level > 0 && tile_width(size, level, i) == TILE_WIDTH
                    };
                    assert!(!wanted.iter().any(full_upper), "{wanted:?}");
                }
                let read = tiles.read_tiles(&wanted).unwrap();
                cache.add_read(0, size, &wanted, read, &mut known);
                let proof = merkle::inclusion_proof_from(&tiles, known, size, index).unwrap();
                assert_eq!(proof, merkle::inclusion_proof(&tiles, size, index).unwrap());
            }
        }
        let kept: Vec<_> = cache.tiles.lock().unwrap().keys().copied().collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept.contains(&(0, 1, 0)) && kept.contains(&(0, 1, 1)));
    }
}
