//! The log's RFC 6962 Merkle tree, stored as C2SP tlog-tiles.
//!
//! # Layout
//!
//! Hashes are kept in tiles of height 8: the level-L tile N holds the hashes of
//! the height-8L subtrees 256N..256N+255, concatenated (level 0 holds the leaf
//! hashes). A tree of `size` leaves has `size >> 8L` complete height-8L subtrees,
//! so the rightmost tile of a level is partial (fewer than 256 hashes) unless that
//! count is a multiple of 256. Every other node is recomputed from one tile: a
//! perfect subtree of height 8L + j is the Merkle tree hash of 2^j consecutive
//! hashes of a level-L tile.
//!
//! # What is in memory
//!
//! Only the right edge of the tree ([`RightEdge`]): the partial tile of each level
//! (fewer than 256 hashes) and the roots of the perfect subtrees the tree splits
//! into (one per set bit of the size). That is all an append needs: a full tile
//! never changes again, so it is handed to the store once and read back only to
//! build proofs ([`root`], [`inclusion_proof`], [`consistency_proof`]).
//!
//! Proofs are RFC 6962 §2.1.1 audit paths and §2.1.2 consistency proofs, their
//! hashes ordered from the leaf (or the old tree) up to the root, as Rekor and
//! sigstore clients verify them. `tlog_tiles` does the hashing; the proof walks
//! are ours, because its `prove_record`/`prove_tree` can neither share inner
//! nodes between the proofs of a batch nor carry store errors (they are
//! cross-checked against ct-merkle in `tests/merkle_props.rs`).

use std::collections::HashMap;
use std::ops::Range;

pub use tlog_tiles::Hash;
use tlog_tiles::{EMPTY_HASH, Tile, node_hash, record_hash};

use crate::store::{StoreError, TileData, TilesRead};

/// Height of a tile: it spans 8 levels of the tree.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 256;

const HASH_SIZE: usize = 32;
const FULL_TILE_BYTES: usize = TILE_WIDTH as usize * HASH_SIZE;
/// Tile levels a 64-bit tree size can reach (8 × 8 bits).
const MAX_LEVELS: u8 = 8;

/// RFC 6962 leaf hash: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    record_hash(entry).0
}

/// Source of stored tiles of ONE tree. The data may be wider than a caller needs
/// (a newer partial or the full tile): callers truncate to what their tree size covers.
pub trait TileSource {
    /// The tile's data, `None` if the store does not have it.
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// The data of each `(level, index)` tile, in order. A proof asks for all
    /// its tiles at once, so a store across a network answers in one round
    /// trip instead of one per tile.
    fn read_tiles(&self, wanted: &[(u8, u64)]) -> Result<TilesRead, StoreError> {
        wanted
            .iter()
            .map(|&(level, index)| self.read_tile(level, index))
            .collect()
    }
}

impl<F> TileSource for F
where
    F: Fn(u8, u64) -> Result<Option<Vec<u8>>, StoreError>,
{
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self(level, index)
    }
}

/// Why a root, proof or edge could not be computed. Bad queries are errors, never panics.
#[derive(Debug, thiserror::Error)]
pub enum MerkleError {
    #[error("reading tiles: {0}")]
    Store(#[from] StoreError),
    #[error("tile {level}/{index} is missing")]
    MissingTile { level: u8, index: u64 },
    #[error("tile {level}/{index} holds {have} hashes, {need} needed")]
    TileTooShort {
        level: u8,
        index: u64,
        have: u64,
        need: u64,
    },
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// `first..last` is half-open.
    #[error("leaves {first}..{last} are not a range of a tree of size {size}")]
    BadRange { first: u64, last: u64, size: u64 },
    #[error("no consistency proof from size {old_size} to size {new_size}")]
    BadSizes { old_size: u64, new_size: u64 },
}

/// The right edge of one tree: for each level, the partial (rightmost, not yet full) tile.
#[derive(Debug, Clone, PartialEq)]
pub struct RightEdge {
    size: u64,
    /// `partial[L]`: the `(size >> 8L) % 256` hashes of the rightmost level-L tile,
    /// concatenated as stored; one entry per level with `size >> 8L > 0`.
    partial: Vec<Vec<u8>>,
    /// Roots of the perfect subtrees the tree splits into, largest (leftmost)
    /// first: one per set bit of `size`. Appends merge into it; the root folds it.
    frontier: Vec<Hash>,
}

impl RightEdge {
    /// The edge of the empty tree.
    pub fn empty() -> Self {
        Self {
            size: 0,
            partial: Vec::new(),
            frontier: Vec::new(),
        }
    }

    /// Rebuilds the edge of a tree of `size` leaves by reading only its right-edge tiles.
    pub fn load(size: u64, source: &dyn TileSource) -> Result<Self, MerkleError> {
        let mut partial = Vec::new();
        for level in 0..MAX_LEVELS {
            let hashes = size >> (u32::from(TILE_HEIGHT) * u32::from(level));
            if hashes == 0 {
                break;
            }
            let (index, count) = (hashes / TILE_WIDTH, hashes % TILE_WIDTH);
            let mut tile = Vec::with_capacity(FULL_TILE_BYTES);
            if count > 0 {
                let data = source
                    .read_tile(level, index)?
                    .ok_or(MerkleError::MissingTile { level, index })?;
                tile.extend_from_slice(tile_hashes(&data, level, index, 0, count)?);
            }
            partial.push(tile);
        }

        // The frontier, largest subtree first: the top level first, and within a
        // level the partial tile split by the binary decomposition of its width.
        let mut frontier = Vec::new();
        for tile in partial.iter().rev() {
            let count = tile.len() / HASH_SIZE;
            let mut start = 0;
            for span in (0..TILE_HEIGHT).rev() {
                let width = 1 << span;
                if count & width != 0 {
                    let hashes = &tile[start * HASH_SIZE..(start + width) * HASH_SIZE];
                    frontier.push(Tile::subtree_hash(hashes));
                    start += width;
                }
            }
        }
        Ok(Self {
            size,
            partial,
            frontier,
        })
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// RFC 6962 root of the current tree (empty-tree hash for 0).
    pub fn root(&self) -> [u8; 32] {
        let mut subtrees = self.frontier.iter().rev();
        let Some(&last) = subtrees.next() else {
            return EMPTY_HASH.0;
        };
        subtrees.fold(last, |right, &left| node_hash(left, right)).0
    }

    /// Appends leaf hashes. Returns every tile the append changed (tiles completed by it, full,
    /// and the new partial tiles at each level), in the `TileData` shape the store writes.
    pub fn append(&mut self, leaf_hashes: &[[u8; 32]]) -> Vec<TileData> {
        let mut tiles = Vec::new();
        // Levels 0..=top got new hashes (a level only grows when the one below fills a tile).
        let mut top = None;
        for leaf in leaf_hashes {
            let position = self.size;
            let mut node = Hash(*leaf);
            self.push_hash(0, position, node, &mut tiles);
            let mut level = 0;
            // Each trailing 1 bit of the position is a perfect subtree this leaf
            // completes, whose left half is the last frontier hash.
            for height in 1..=position.trailing_ones() {
                // The frontier holds one hash per set bit of the size, so it has one here.
                let Some(left) = self.frontier.pop() else {
                    break;
                };
                node = node_hash(left, node);
                if height.is_multiple_of(u32::from(TILE_HEIGHT)) {
                    level = height / u32::from(TILE_HEIGHT);
                    self.push_hash(level, position >> height, node, &mut tiles);
                }
            }
            self.frontier.push(node);
            self.size += 1;
            top = top.max(Some(level));
        }

        if let Some(top) = top {
            for level in 0..=top {
                let data = &self.partial[level as usize];
                if !data.is_empty() {
                    let level = level as u8; // < MAX_LEVELS
                    tiles.push(TileData {
                        level,
                        index: partial_index(self.size, level),
                        data: data.clone(),
                    });
                }
            }
        }
        tiles
    }

    /// Adds the hash of the height-8·`level` subtree `index` to its partial tile,
    /// handing the tile over once full.
    fn push_hash(&mut self, level: u32, index: u64, hash: Hash, tiles: &mut Vec<TileData>) {
        let level = level as usize; // < MAX_LEVELS
        if self.partial.len() <= level {
            self.partial.push(Vec::with_capacity(FULL_TILE_BYTES));
        }
        let tile = &mut self.partial[level];
        tile.extend_from_slice(&hash.0);
        if tile.len() == FULL_TILE_BYTES {
            tiles.push(TileData {
                level: level as u8,
                index: index / TILE_WIDTH,
                data: std::mem::replace(tile, Vec::with_capacity(FULL_TILE_BYTES)),
            });
        }
    }

    /// Inclusion proofs (RFC 6962 audit path, leaf to root) at the CURRENT size for leaves appended by the
    /// last `append`, computed from memory only: the current edge plus the tiles that append returned.
    ///
    /// Older leaves fail with [`MerkleError::MissingTile`] unless `written` happens to hold their tiles.
    pub fn batch_proofs(
        &self,
        written: &[TileData],
        indexes: Range<u64>,
    ) -> Result<Vec<Vec<[u8; 32]>>, MerkleError> {
        self.batch_proofs_with(written, indexes, &mut ProofMemo::default())
    }

    /// [`RightEdge::batch_proofs`], keeping the inner nodes it hashes in
    /// `memo` for the next batches of the same tree.
    pub fn batch_proofs_with(
        &self,
        written: &[TileData],
        indexes: Range<u64>,
        memo: &mut ProofMemo,
    ) -> Result<Vec<Vec<[u8; 32]>>, MerkleError> {
        if indexes.start > indexes.end || indexes.end > self.size {
            return Err(MerkleError::BadRange {
                first: indexes.start,
                last: indexes.end,
                size: self.size,
            });
        }
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        if memo.0.len() > PROOF_MEMO_MAX {
            memo.0.clear();
        }
        let mut nodes = EdgeNodes::new(self, written, &mut memo.0);
        indexes
            .map(|index| inclusion_path(&mut nodes, self.size, index))
            .collect()
    }
}

/// Inner nodes of tiles (perfect subtrees whose height is not a multiple of
/// the tile height) that batch proofs hashed. A perfect subtree never
/// changes, so the proofs of the next batches, whose leaves sit in the same
/// partial tiles, reuse them instead of hashing the tile's leaves again.
/// Valid for one tree only: a new edge of another tree needs a new memo.
#[derive(Debug, Default)]
pub struct ProofMemo(HashMap<(u32, u64), Hash>);

/// Nodes a memo holds before it starts over: the partial tiles' inner nodes
/// (at most 255 per level) with room to spare; older tiles' nodes are no
/// longer asked for.
const PROOF_MEMO_MAX: usize = 4096;

/// Index of the rightmost (partial) level-`level` tile of a tree of `size`.
fn partial_index(size: u64, level: u8) -> u64 {
    (size >> (u32::from(TILE_HEIGHT) * u32::from(level))) / TILE_WIDTH
}

// Proofs and roots for a tree of `size` leaves, from stored tiles (read via
// `source`, truncated to `size`): each reads only the tiles it needs, once.

/// RFC 6962 root of the tree of `size` leaves (empty-tree hash for 0).
pub fn root(source: &dyn TileSource, size: u64) -> Result<[u8; 32], MerkleError> {
    let mut plan = TilePlan::default();
    plan.range(0, size)?;
    Ok(StoredNodes::read(source, plan)?.range(0, size)?.0)
}

/// RFC 6962 audit path of leaf `index` in the tree of `size` leaves, leaf to root.
pub fn inclusion_proof(
    source: &dyn TileSource,
    size: u64,
    index: u64,
) -> Result<Vec<[u8; 32]>, MerkleError> {
    let plan = inclusion_tiles(size, index)?;
    inclusion_path(&mut StoredNodes::read(source, plan)?, size, index)
}

/// The tiles [`inclusion_proof`] reads for leaf `index` of the tree of
/// `size` leaves, so a store can fetch them together with the entry
/// (then [`inclusion_proof_from`]).
pub fn inclusion_tiles(size: u64, index: u64) -> Result<TilePlan, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut plan = TilePlan::default();
    inclusion_path(&mut plan, size, index)?;
    Ok(plan)
}

/// [`inclusion_proof`] on the tiles of an [`inclusion_tiles`] plan already
/// at hand (`known`: read from the store, or kept hashed); a tile missing
/// from them is asked of `source`.
pub fn inclusion_proof_from(
    source: &dyn TileSource,
    known: KnownTiles,
    size: u64,
    index: u64,
) -> Result<Vec<[u8; 32]>, MerkleError> {
    inclusion_path(&mut StoredNodes { source, known }, size, index)
}

/// RFC 6962 consistency proof from the tree of `old_size` leaves to that of
/// `new_size` (empty when they are equal).
pub fn consistency_proof(
    source: &dyn TileSource,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<[u8; 32]>, MerkleError> {
    if old_size == 0 || old_size > new_size {
        return Err(MerkleError::BadSizes { old_size, new_size });
    }
    let mut plan = TilePlan::default();
    consistency_path(&mut plan, old_size, new_size)?;
    consistency_path(&mut StoredNodes::read(source, plan)?, old_size, new_size)
}

/// Is tile (level, index) of width `width` (1..=256) inside a tree of `size`? (for serving /tile/L/N[.p/W])
pub fn tile_in_tree(size: u64, level: u8, index: u64, width: u64) -> bool {
    (1..=TILE_WIDTH).contains(&width) && width <= tile_width(size, level, index)
}

/// Width of tile (level, index) in a tree of `size` (256 if full, 0 if absent).
pub fn tile_width(size: u64, level: u8, index: u64) -> u64 {
    if level >= MAX_LEVELS {
        return 0;
    }
    let hashes = size >> (u32::from(TILE_HEIGHT) * u32::from(level));
    let full = hashes / TILE_WIDTH;
    match index.cmp(&full) {
        std::cmp::Ordering::Less => TILE_WIDTH,
        std::cmp::Ordering::Equal => hashes % TILE_WIDTH,
        std::cmp::Ordering::Greater => 0,
    }
}

/// The `count` hashes from `offset` of a tile's data, if it holds them.
fn tile_hashes(
    data: &[u8],
    level: u8,
    index: u64,
    offset: u64,
    count: u64,
) -> Result<&[u8], MerkleError> {
    let need = offset + count;
    let have = (data.len() / HASH_SIZE) as u64;
    if have < need {
        return Err(MerkleError::TileTooShort {
            level,
            index,
            have,
            need,
        });
    }
    Ok(&data[offset as usize * HASH_SIZE..need as usize * HASH_SIZE])
}

/// Where the proof walks get node hashes from.
trait Nodes {
    /// Hash of the perfect subtree of `height` over leaves `index << height ..
    /// (index + 1) << height`.
    fn perfect(&mut self, height: u32, index: u64) -> Result<Hash, MerkleError>;

    /// RFC 6962 MTH of the leaves `lo..hi`. Proofs only ask for ranges that split
    /// into aligned perfect subtrees: perfect ones and suffixes of the tree.
    fn range(&mut self, lo: u64, hi: u64) -> Result<Hash, MerkleError> {
        fold_range(self, lo, hi)
    }
}

/// MTH of the leaves `lo..hi` from perfect subtrees. MTH splits at the largest
/// power of two below the width, so the range is its binary decomposition,
/// largest subtree first; fold it from the right.
fn fold_range<N: Nodes + ?Sized>(nodes: &mut N, lo: u64, hi: u64) -> Result<Hash, MerkleError> {
    let mut rest = hi - lo;
    let mut end = hi;
    let mut acc = None;
    while rest != 0 {
        let height = rest.trailing_zeros();
        let start = end - (1 << height);
        let left = nodes.perfect(height, start >> height)?;
        acc = Some(match acc {
            None => left,
            Some(right) => node_hash(left, right),
        });
        rest &= rest - 1;
        end = start;
    }
    Ok(acc.unwrap_or(EMPTY_HASH))
}

/// Largest power of two below `n` (n >= 2): where RFC 6962 splits a tree of n leaves.
fn split(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

/// RFC 6962 §2.1.1 PATH(index, D[0:size]) for `index < size`.
fn inclusion_path(
    nodes: &mut impl Nodes,
    size: u64,
    index: u64,
) -> Result<Vec<[u8; 32]>, MerkleError> {
    // Walks from the root down; the proof lists the siblings from the leaf up.
    let mut path = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0, size);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            path.push(nodes.range(lo + k, hi)?.0);
            hi = lo + k;
        } else {
            path.push(nodes.range(lo, lo + k)?.0);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// RFC 6962 §2.1.2 PROOF(old, D[0:new]) = SUBPROOF(old, D[0:new], true), for `0 < old <= new`.
fn consistency_path(
    nodes: &mut impl Nodes,
    old: u64,
    new: u64,
) -> Result<Vec<[u8; 32]>, MerkleError> {
    // Walks from the root down; the proof lists the hashes from the old tree up.
    let mut path = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0, new);
    // SUBPROOF's flag: still on the left edge, where the old root is known to the verifier.
    let mut left_edge = true;
    while old != hi {
        let k = split(hi - lo);
        if old <= lo + k {
            path.push(nodes.range(lo + k, hi)?.0);
            hi = lo + k;
        } else {
            path.push(nodes.range(lo, lo + k)?.0);
            lo += k;
            left_edge = false;
        }
    }
    if !left_edge {
        path.push(nodes.range(lo, hi)?.0);
    }
    path.reverse();
    Ok(path)
}

/// The level of the tile that holds the perfect subtree (`height`, `index`),
/// that tile's index, and the subtree's first hash in it.
fn tile_of(height: u32, index: u64) -> (u8, u64, u64) {
    let level = (height / u32::from(TILE_HEIGHT)) as u8; // height < 64
    let first = index << (height % u32::from(TILE_HEIGHT));
    (level, first / TILE_WIDTH, first % TILE_WIDTH)
}

/// A dry run of a proof walk: which tiles it will read. Which nodes a proof
/// needs depends only on the sizes and indexes, never on the hashes, so the
/// walk runs once with placeholder hashes to plan the reads, then for real.
#[derive(Default)]
pub struct TilePlan {
    tiles: Vec<(u8, u64)>,
}

impl TilePlan {
    /// The `(level, index)` of each tile the walk reads, each once.
    pub fn tiles(&self) -> &[(u8, u64)] {
        &self.tiles
    }
}

impl Nodes for TilePlan {
    fn perfect(&mut self, height: u32, index: u64) -> Result<Hash, MerkleError> {
        let (level, tile, _) = tile_of(height, index);
        if !self.tiles.contains(&(level, tile)) {
            self.tiles.push((level, tile));
        }
        Ok(EMPTY_HASH)
    }
}

/// Tiles a proof walk has at hand, by (level, index).
pub type KnownTiles = Vec<(u8, u64, KnownTile)>;

/// A tile a proof walk has at hand.
pub enum KnownTile {
    /// As stored: the walk hashes the subtrees it needs.
    Stored(Vec<u8>),
    /// A tile hashed before (see `tile_cache`).
    Hashed(std::sync::Arc<HashedTile>),
    /// A full level-0 tile's summary (see `tile_cache`), for subtrees of
    /// `SUMMARY_HEIGHT` or more, and some of its leaves for those below:
    /// all of them, or those of one summary node (`TileSummary::leaves_around`).
    Summarized {
        leaves: Vec<u8>,
        /// The position in the tile of the first of `leaves`.
        first: u64,
        summary: std::sync::Arc<TileSummary>,
    },
}

/// Height of the nodes a `TileSummary` keeps.
const SUMMARY_HEIGHT: u32 = 4;

/// The 16 nodes at height 4 of a full level-0 tile, 512 bytes. A proof
/// through a level-0 tile needs the 8 subtrees beside its leaf, 247 node
/// hashes from the tile's leaves; with the summary, at most 22. Level-0
/// tiles are too many to keep hashed whole (16 KiB each, as upper tiles
/// are), and their summaries are small enough to keep.
pub struct TileSummary {
    nodes: [u8; SUMMARY_BYTES],
}

/// A summary's bytes: 16 hashes.
const SUMMARY_BYTES: usize = (TILE_WIDTH as usize >> SUMMARY_HEIGHT) * HASH_SIZE;

impl TileSummary {
    /// Summarizes a full tile's data (`None` for a partial one: it may still grow).
    pub fn new(data: &[u8]) -> Option<Self> {
        if data.len() != FULL_TILE_BYTES {
            return None;
        }
        let mut nodes = [0; SUMMARY_BYTES];
        for (node, subtree) in nodes
            .chunks_exact_mut(HASH_SIZE)
            .zip(data.chunks_exact(HASH_SIZE << SUMMARY_HEIGHT))
        {
            node.copy_from_slice(&Tile::subtree_hash(subtree).0);
        }
        Some(Self { nodes })
    }

    /// The positions of the leaves under the same summary node as the
    /// leaf at `offset` in its tile: all a proof from that leaf needs of
    /// the tile besides the summary.
    pub fn leaves_around(offset: u64) -> Range<u32> {
        let first = (offset % TILE_WIDTH) as u32 >> SUMMARY_HEIGHT << SUMMARY_HEIGHT;
        first..first + (1 << SUMMARY_HEIGHT)
    }
}

/// A tile with the inner nodes of every perfect subtree it holds: a proof
/// through it hashes nothing. A full tile never changes, and a partial one
/// only grows (its perfect subtrees stay), so either can be kept.
pub struct HashedTile {
    /// Height h of the tile's subtrees (`width >> h` nodes) at `starts[h]..`.
    nodes: Vec<Hash>,
    starts: [usize; TILE_HEIGHT as usize + 1],
    /// Hashes at height 0.
    width: usize,
}

impl HashedTile {
    /// Hashes a tile's data; `None` unless it holds 1 to 256 whole hashes.
    pub fn new(data: &[u8]) -> Option<Self> {
        let width = data.len() / HASH_SIZE;
        if width == 0 || width > TILE_WIDTH as usize || !data.len().is_multiple_of(HASH_SIZE) {
            return None;
        }
        let mut nodes = Vec::with_capacity(2 * width);
        nodes.extend(data.chunks_exact(HASH_SIZE).map(|chunk| {
            let mut hash = Hash::default();
            hash.0.copy_from_slice(chunk);
            hash
        }));
        let mut starts = [0; TILE_HEIGHT as usize + 1];
        for h in 1..=TILE_HEIGHT as usize {
            starts[h] = nodes.len();
            for i in 0..width >> h {
                let below = starts[h - 1] + 2 * i;
                nodes.push(node_hash(nodes[below], nodes[below + 1]));
            }
        }
        Some(Self {
            nodes,
            starts,
            width,
        })
    }

    /// Hashes at height 0.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The perfect subtree of `1 << span` hashes from `offset`, if aligned
    /// and inside the tile.
    fn subtree(&self, span: u32, offset: u64) -> Option<Hash> {
        let h = span as usize;
        let at = usize::try_from(offset >> span).ok()?;
        (h <= TILE_HEIGHT as usize && offset.is_multiple_of(1 << span) && at < self.width >> h)
            .then(|| self.nodes[self.starts[h] + at])
    }
}

/// Nodes from tiles at hand or read from the store, each tile read at most
/// once per proof.
struct StoredNodes<'a> {
    source: &'a dyn TileSource,
    known: KnownTiles,
}

impl<'a> StoredNodes<'a> {
    /// Reads every tile of `plan` in one `read_tiles`; a tile the store
    /// lacks is asked for again when the walk needs it, and reported
    /// missing then.
    fn read(source: &'a dyn TileSource, plan: TilePlan) -> Result<Self, MerkleError> {
        let read = source.read_tiles(plan.tiles())?;
        let known = plan
            .tiles
            .into_iter()
            .zip(read)
            .filter_map(|((level, index), data)| Some((level, index, KnownTile::Stored(data?))))
            .collect();
        Ok(Self { source, known })
    }

    fn tile(&mut self, level: u8, index: u64) -> Result<&KnownTile, MerkleError> {
        // A proof touches a handful of tiles: a list beats a map.
        let at_hand = self
            .known
            .iter()
            .position(|&(l, i, _)| l == level && i == index);
        let at = match at_hand {
            Some(at) => at,
            None => {
                let data = self
                    .source
                    .read_tile(level, index)?
                    .ok_or(MerkleError::MissingTile { level, index })?;
                self.known.push((level, index, KnownTile::Stored(data)));
                self.known.len() - 1
            }
        };
        Ok(&self.known[at].2)
    }
}

impl Nodes for StoredNodes<'_> {
    fn perfect(&mut self, height: u32, index: u64) -> Result<Hash, MerkleError> {
        let (level, tile, offset) = tile_of(height, index);
        let span = height % u32::from(TILE_HEIGHT);
        match self.tile(level, tile)? {
            KnownTile::Hashed(hashed) => {
                hashed
                    .subtree(span, offset)
                    .ok_or(MerkleError::TileTooShort {
                        level,
                        index: tile,
                        have: hashed.width() as u64,
                        need: offset + (1 << span),
                    })
            }
            KnownTile::Summarized { summary, .. } if span >= SUMMARY_HEIGHT => {
                Ok(Tile::subtree_hash(tile_hashes(
                    &summary.nodes,
                    level,
                    tile,
                    offset >> SUMMARY_HEIGHT,
                    1 << (span - SUMMARY_HEIGHT),
                )?))
            }
            KnownTile::Summarized { leaves, first, .. } => {
                let from = offset
                    .checked_sub(*first)
                    .ok_or(MerkleError::MissingTile { level, index: tile })?;
                Ok(Tile::subtree_hash(tile_hashes(
                    leaves,
                    level,
                    tile,
                    from,
                    1 << span,
                )?))
            }
            // Hashed where the walk needs it: each node once per proof.
            KnownTile::Stored(data) => Ok(Tile::subtree_hash(tile_hashes(
                data,
                level,
                tile,
                offset,
                1 << span,
            )?)),
        }
    }
}

/// Nodes for the proofs of a just-appended batch: tiles come from the edge and
/// the append's output, and inner nodes are memoized, since the proofs of
/// neighbouring leaves share most of them.
struct EdgeNodes<'a> {
    edge: &'a RightEdge,
    written: HashMap<(u8, u64), &'a [u8]>,
    memo: &'a mut HashMap<(u32, u64), Hash>,
    /// (start, MTH of start..size) for each frontier subtree, by start: the
    /// suffixes of the tree that proofs ask for.
    suffixes: Vec<(u64, Hash)>,
}

impl<'a> EdgeNodes<'a> {
    fn new(
        edge: &'a RightEdge,
        written: &'a [TileData],
        memo: &'a mut HashMap<(u32, u64), Hash>,
    ) -> Self {
        let written = written
            .iter()
            .map(|tile| ((tile.level, tile.index), tile.data.as_slice()))
            .collect();
        let mut suffixes = Vec::with_capacity(edge.frontier.len());
        // The frontier from the right: the smallest subtree is the lowest set bit of the size.
        let mut start = edge.size;
        let mut acc = None;
        for &subtree in edge.frontier.iter().rev() {
            start &= start.wrapping_sub(1);
            let suffix = match acc {
                None => subtree,
                Some(right) => node_hash(subtree, right),
            };
            acc = Some(suffix);
            suffixes.push((start, suffix));
        }
        suffixes.reverse();
        Self {
            edge,
            written,
            memo,
            suffixes,
        }
    }

    /// Hash `index` of level-`level` tiles.
    fn tile_hash(&self, level: u8, index: u64) -> Result<Hash, MerkleError> {
        let (tile, offset) = (index / TILE_WIDTH, index % TILE_WIDTH);
        let in_edge = self
            .edge
            .partial
            .get(usize::from(level))
            .filter(|data| {
                tile == partial_index(self.edge.size, level)
                    && data.len() as u64 > offset * HASH_SIZE as u64
            })
            .map(Vec::as_slice);
        let data = match in_edge {
            Some(data) => data,
            None => self
                .written
                .get(&(level, tile))
                .copied()
                .ok_or(MerkleError::MissingTile { level, index: tile })?,
        };
        let mut hash = Hash::default();
        hash.0
            .copy_from_slice(tile_hashes(data, level, tile, offset, 1)?);
        Ok(hash)
    }
}

impl Nodes for EdgeNodes<'_> {
    fn perfect(&mut self, height: u32, index: u64) -> Result<Hash, MerkleError> {
        if height.is_multiple_of(u32::from(TILE_HEIGHT)) {
            let level = (height / u32::from(TILE_HEIGHT)) as u8; // height < 64
            return self.tile_hash(level, index);
        }
        if let Some(&hash) = self.memo.get(&(height, index)) {
            return Ok(hash);
        }
        let left = self.perfect(height - 1, 2 * index)?;
        let right = self.perfect(height - 1, 2 * index + 1)?;
        let hash = node_hash(left, right);
        self.memo.insert((height, index), hash);
        Ok(hash)
    }

    fn range(&mut self, lo: u64, hi: u64) -> Result<Hash, MerkleError> {
        if hi == self.edge.size
            && let Ok(at) = self.suffixes.binary_search_by_key(&lo, |&(start, _)| start)
        {
            return Ok(self.suffixes[at].1);
        }
        fold_range(self, lo, hi)
    }
}
