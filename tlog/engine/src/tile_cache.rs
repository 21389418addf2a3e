//! Full tiles above level 0, hashed once and kept in memory. Every
//! inclusion proof in a shard passes through the same few upper tiles
//! (a 10M-entry tree has 152 full level-1 tiles), so keeping them spares
//! each proof all but its level-0 tile: a smaller read from the store and
//! nothing to hash above the bottom level. Of a full level-0 tile only its
//! summary is kept (`TileSummary`, 512 bytes): the proof then reads only the
//! 16 leaves under its leaf's summary node, and hashes 22 nodes instead of
//! 247. The right edge's partial tiles are kept hashed too, one per level:
//! most proofs pass through all of them. A full tile never changes and a partial one only
//! grows, keeping the subtrees it holds, so nothing kept is ever stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::merkle::{HashedTile, KnownTile, KnownTiles, TILE_WIDTH, TileSummary, tile_width};
use crate::store::{TileRead, TilesRead};

/// Tiles kept at most: 16 MiB of hashed tiles, the level-1 tiles of a
/// 67M-entry tree.
const CAPACITY: usize = 1024;

/// Level-0 summaries kept at most: 32 MiB of them (plus the map's own
/// memory), those of a 16.7M-entry tree.
const SUMMARY_CAPACITY: usize = 65_536;

#[derive(Default)]
pub struct TileCache {
    /// By (shard ordinal, level, index).
    tiles: Mutex<HashMap<(u32, u8, u64), Arc<HashedTile>>>,
    /// By (shard ordinal, level-0 index).
    summaries: Mutex<HashMap<(u32, u64), Arc<TileSummary>>>,
    /// By (shard ordinal, level): the rightmost partial tile read.
    edges: Mutex<HashMap<(u32, u8), EdgeTile>>,
}

/// A partial tile's index and its hashes.
type EdgeTile = (u64, Arc<HashedTile>);

/// The tiles a proof reads from the store, and the summary kept of each
/// it reads only a part of.
pub struct Reads {
    pub tiles: Vec<TileRead>,
    summaries: Vec<Option<Arc<TileSummary>>>,
}

impl TileCache {
    /// Splits the tiles a proof of `leaf` in a tree of `size` leaves needs
    /// into those kept (hashed) and those to read from the store: the
    /// leaf's own level-0 tile, if summarized, only in part.
    pub fn split(
        &self,
        shard: u32,
        size: u64,
        leaf: u64,
        wanted: &[(u8, u64)],
    ) -> (KnownTiles, Reads) {
        let mut known = Vec::with_capacity(wanted.len());
        let mut reads = Reads {
            tiles: Vec::new(),
            summaries: Vec::new(),
        };
        let (Ok(tiles), Ok(summaries)) = (self.tiles.lock(), self.summaries.lock()) else {
            reads.tiles = wanted.iter().copied().map(TileRead::whole).collect();
            reads.summaries = vec![None; wanted.len()];
            return (known, reads);
        };
        for &(level, index) in wanted {
            if let Some(hashed) = tiles.get(&(shard, level, index)) {
                known.push((level, index, KnownTile::Hashed(hashed.clone())));
                continue;
            }
            let own_summary = (level == 0
                && index == leaf / TILE_WIDTH
                && tile_width(size, level, index) == TILE_WIDTH)
                .then(|| summaries.get(&(shard, index)).cloned())
                .flatten();
            let hashes = own_summary
                .is_some()
                .then(|| TileSummary::leaves_around(leaf));
            reads.tiles.push(TileRead {
                level,
                index,
                hashes,
            });
            reads.summaries.push(own_summary);
        }
        (known, reads)
    }

    /// Adds the tiles just read (`read`, in the order of `reads`) to
    /// `known`, keeping those that are full above level 0 in a tree of
    /// `size` leaves.
    pub fn add_read(
        &self,
        shard: u32,
        size: u64,
        reads: Reads,
        read: TilesRead,
        known: &mut KnownTiles,
    ) {
        for ((wanted, summary), data) in reads.tiles.into_iter().zip(reads.summaries).zip(read) {
            let Some(data) = data else { continue };
            let (level, index) = (wanted.level, wanted.index);
            if let (Some(summary), Some(hashes)) = (summary, wanted.hashes) {
                let (leaves, first) = (data, u64::from(hashes.start));
                known.push((
                    level,
                    index,
                    KnownTile::Summarized {
                        leaves,
                        first,
                        summary,
                    },
                ));
                continue;
            }
            let full = tile_width(size, level, index) == TILE_WIDTH;
            let tile = match (level, full) {
                (0, true) => match self.summary(shard, index, &data) {
                    Some(summary) => KnownTile::Summarized {
                        leaves: data,
                        first: 0,
                        summary,
                    },
                    None => KnownTile::Stored(data),
                },
                (_, true) => match HashedTile::new(&data) {
                    Some(hashed) => {
                        let hashed = Arc::new(hashed);
                        keep(&self.tiles, CAPACITY, (shard, level, index), hashed.clone());
                        KnownTile::Hashed(hashed)
                    }
                    None => KnownTile::Stored(data),
                },
                (_, false) => {
                    let needed = tile_width(size, level, index) as usize;
                    match self.edge(shard, level, index, needed, &data) {
                        Some(hashed) => KnownTile::Hashed(hashed),
                        None => KnownTile::Stored(data),
                    }
                }
            };
            known.push((level, index, tile));
        }
    }

    /// Whether a proof in a tree of `size` leaves finds every tile of
    /// `reads` kept hashed, so that `add_read` and the proof hash no more
    /// than 22 nodes: a full level-0 tile summarized, a partial tile kept at
    /// least as wide as the tree needs. (A full upper tile in `reads` was
    /// not kept when `split` looked.)
    pub fn keeps_hashed(&self, shard: u32, size: u64, reads: &Reads) -> bool {
        let (Ok(summaries), Ok(edges)) = (self.summaries.lock(), self.edges.lock()) else {
            return false;
        };
        reads
            .tiles
            .iter()
            .zip(&reads.summaries)
            .all(|(wanted, summary)| {
                let (level, index) = (wanted.level, wanted.index);
                let width = tile_width(size, level, index);
                if width == TILE_WIDTH {
                    level == 0 && (summary.is_some() || summaries.contains_key(&(shard, index)))
                } else {
                    edges
                        .get(&(shard, level))
                        .is_some_and(|(kept_index, kept)| {
                            *kept_index == index && kept.width() >= width as usize
                        })
                }
            })
    }

    /// The kept summary of full level-0 tile `index`, or a new one made from
    /// its `data` and kept.
    fn summary(&self, shard: u32, index: u64, data: &[u8]) -> Option<Arc<TileSummary>> {
        let kept = self
            .summaries
            .lock()
            .ok()
            .and_then(|summaries| summaries.get(&(shard, index)).cloned());
        if kept.is_some() {
            return kept;
        }
        let summary = Arc::new(TileSummary::new(data)?);
        keep(
            &self.summaries,
            SUMMARY_CAPACITY,
            (shard, index),
            summary.clone(),
        );
        Some(summary)
    }
}

impl TileCache {
    /// The partial tile `index` of `level` hashed, holding at least `needed`
    /// hashes: the kept one if it does, or one hashed from `data` (as read
    /// now, perhaps wider than `needed`), kept unless the kept one is
    /// further right (a proof against an older tree). Hashing runs outside
    /// the lock: two proofs that miss at once both hash, neither waits.
    fn edge(
        &self,
        shard: u32,
        level: u8,
        index: u64,
        needed: usize,
        data: &[u8],
    ) -> Option<Arc<HashedTile>> {
        let kept = |edges: &HashMap<(u32, u8), EdgeTile>| edges.get(&(shard, level)).cloned();
        if let Some((kept_index, hashed)) = self.edges.lock().ok().and_then(|e| kept(&e))
            && kept_index == index
            && hashed.width() >= needed
        {
            return Some(hashed);
        }
        let hashed = Arc::new(HashedTile::new(data)?);
        if let Ok(mut edges) = self.edges.lock()
            && kept(&edges).is_none_or(|(kept_index, kept)| {
                (index, hashed.width()) > (kept_index, kept.width())
            })
        {
            edges.insert((shard, level), (index, hashed.clone()));
        }
        Some(hashed)
    }
}

/// Keeps `value`; past `capacity` an arbitrary entry makes room (the map's
/// order is random enough).
fn keep<K: std::hash::Hash + Eq + Copy, V>(
    map: &Mutex<HashMap<K, V>>,
    capacity: usize,
    key: K,
    value: V,
) {
    let Ok(mut map) = map.lock() else {
        return;
    };
    if map.len() >= capacity
        && let Some(&evicted) = map.keys().next()
    {
        map.remove(&evicted);
    }
    map.insert(key, value);
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

    /// What a store answers to `reads`: each tile whole or in part.
    fn read(tiles: &Tiles, reads: &Reads) -> TilesRead {
        reads
            .tiles
            .iter()
            .map(|w| {
                tiles
                    .0
                    .get(&(w.level, w.index))
                    .cloned()
                    .and_then(|data| w.part_of(data))
            })
            .collect()
    }

    /// Grows the tree by `count` leaves, storing the tiles it writes; its new size.
    fn append(edge: &mut RightEdge, tiles: &mut Tiles, count: u32) -> u64 {
        let start = edge.size() as u32;
        let hashes: Vec<[u8; 32]> = (start..start + count)
            .map(|i| leaf_hash(&i.to_le_bytes()))
            .collect();
        for tile in edge.append(&hashes) {
            tiles.0.insert((tile.level, tile.index), tile.data);
        }
        edge.size()
    }

    /// Proofs through kept tiles and summaries equal proofs from the stored
    /// tiles, in a tree with a full and a partial level-1 tile; only the
    /// full one is kept. The second round takes every summary from the cache.
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
                let (mut known, wanted) = cache.split(0, size, index, plan.tiles());
                let own = wanted
                    .tiles
                    .iter()
                    .find(|w| (w.level, w.index) == (0, index / 256));
                if round == 1 {
                    // Only level 0 and the partial tiles of the right edge are read.
                    let full_upper = |w: &&TileRead| {
                        w.level > 0 && tile_width(size, w.level, w.index) == TILE_WIDTH
                    };
                    assert!(
                        !wanted.tiles.iter().any(|w| full_upper(&w)),
                        "{:?}",
                        wanted.tiles
                    );
                    // A full level-0 tile, summarized in round 0, is read in part.
                    if tile_width(size, 0, index / 256) == TILE_WIDTH {
                        let part = index as u32 % 256 / 16 * 16..index as u32 % 256 / 16 * 16 + 16;
                        assert_eq!(own.unwrap().hashes, Some(part), "index {index}");
                    }
                }
                let read = read(&tiles, &wanted);
                cache.add_read(0, size, wanted, read, &mut known);
                let proof = merkle::inclusion_proof_from(&tiles, known, size, index).unwrap();
                assert_eq!(proof, merkle::inclusion_proof(&tiles, size, index).unwrap());
            }
        }
        let kept: Vec<_> = cache.tiles.lock().unwrap().keys().copied().collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept.contains(&(0, 1, 0)) && kept.contains(&(0, 1, 1)));
        // The right edge's partial tiles are kept hashed, one per level.
        let mut edges: Vec<_> = cache
            .edges
            .lock()
            .unwrap()
            .iter()
            .map(|(&(_, level), (index, hashed))| (level, *index, hashed.width()))
            .collect();
        edges.sort_unstable();
        assert_eq!(edges, [(0, 513, 44), (1, 2, 1), (2, 0, 2)]);
        // The full level-0 tiles the proofs passed through are summarized,
        // the partial one at the right edge (513) is not.
        let mut summarized: Vec<_> = cache.summaries.lock().unwrap().keys().copied().collect();
        summarized.sort_unstable();
        assert_eq!(
            summarized,
            [0, 1, 255, 256, 390, 512].map(|index| (0, index))
        );
    }

    /// A proof needs no hashing beyond the kept tiles once they are read,
    /// until the tree outgrows the kept partial tile of the right edge.
    #[test]
    fn keeps_hashed_holds_once_a_proof_has_read_its_tiles_until_the_edge_grows() {
        let mut edge = RightEdge::empty();
        let mut tiles = Tiles(HashMap::new());
        let cache = TileCache::default();
        let size = append(&mut edge, &mut tiles, 2 * 256 + 44);
        for index in [0, 300] {
            let plan = merkle::inclusion_tiles(size, index).unwrap();
            let (mut known, wanted) = cache.split(0, size, index, plan.tiles());
            // Each proof reads a level-0 tile not summarized yet.
            assert!(!cache.keeps_hashed(0, size, &wanted), "index {index}");
            let read = read(&tiles, &wanted);
            cache.add_read(0, size, wanted, read, &mut known);
            let (_, wanted) = cache.split(0, size, index, plan.tiles());
            assert!(cache.keeps_hashed(0, size, &wanted), "index {index}");
        }
        // Leaf 0's level-0 tile is summarized, but the partial tile at the
        // right edge is now wider than the one kept.
        let size = append(&mut edge, &mut tiles, 6);
        let plan = merkle::inclusion_tiles(size, 0).unwrap();
        let (_, wanted) = cache.split(0, size, 0, plan.tiles());
        let keys: Vec<_> = wanted.tiles.iter().map(|w| (w.level, w.index)).collect();
        assert!(keys.contains(&(0, 0)) && keys.contains(&(0, 2)));
        assert!(!cache.keeps_hashed(0, size, &wanted));
    }

    /// As the tree grows, a kept partial tile that holds fewer hashes than
    /// a proof needs is hashed again from the store; proofs against the
    /// older tree still go through the wider one.
    #[test]
    fn kept_partial_tiles_follow_the_growing_tree() {
        let mut edge = RightEdge::empty();
        let mut tiles = Tiles(HashMap::new());
        let cache = TileCache::default();
        let mut sizes = Vec::new();
        for grow in [300u32, 5, 250, 70_000] {
            sizes.push(append(&mut edge, &mut tiles, grow));
            for &size in &sizes {
                for index in [0, 1, 200, size / 2, size - 1] {
                    let plan = merkle::inclusion_tiles(size, index).unwrap();
                    let (mut known, wanted) = cache.split(0, size, index, plan.tiles());
                    let read = read(&tiles, &wanted);
                    cache.add_read(0, size, wanted, read, &mut known);
                    let proof = merkle::inclusion_proof_from(&tiles, known, size, index).unwrap();
                    assert_eq!(
                        proof,
                        merkle::inclusion_proof(&tiles, size, index).unwrap(),
                        "size {size}, index {index}"
                    );
                }
            }
        }
    }
}
