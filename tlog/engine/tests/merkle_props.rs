//! Cross-checks `merkle` against ct-merkle's in-memory RFC 6962 tree: roots,
//! inclusion and consistency proofs (bytes and verification), from the live
//! right edge and from the tiles it wrote, plus the error cases.

use std::collections::HashMap;
use std::ops::Range;

use atesto_tlog_engine::merkle::{
    self, MerkleError, ProofMemo, RightEdge, TILE_WIDTH, TileSource, leaf_hash, tile_in_tree,
    tile_width,
};
use atesto_tlog_engine::store::{StoreError, TileData};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2_digest011::{Digest, Sha256};

type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;

/// A tile store: later writes replace earlier ones, as in the real store.
#[derive(Default)]
struct Tiles(HashMap<(u8, u64), Vec<u8>>);

impl Tiles {
    fn write(&mut self, tiles: &[TileData]) {
        for tile in tiles {
            self.0.insert((tile.level, tile.index), tile.data.clone());
        }
    }
}

impl TileSource for Tiles {
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(&(level, index)).cloned())
    }
}

fn entry(seed: u64, index: u64) -> Vec<u8> {
    [seed.to_le_bytes(), index.to_le_bytes()].concat()
}

fn ct_root(tree: &CtTree) -> [u8; 32] {
    tree.root().as_bytes().as_slice().try_into().unwrap()
}

fn ct_root_hash(root: [u8; 32], size: u64) -> RootHash<Sha256> {
    RootHash::new(root.into(), size)
}

/// A tree grown alongside a ct-merkle tree, remembering every root.
struct Fixture {
    seed: u64,
    edge: RightEdge,
    /// Kept across the batches of the tree, as the sequencer keeps it.
    memo: ProofMemo,
    store: Tiles,
    ct: CtTree,
    /// `roots[n]`: root of the tree of size n.
    roots: Vec<[u8; 32]>,
}

impl Fixture {
    fn new(seed: u64) -> Self {
        Self {
            seed,
            edge: RightEdge::empty(),
            memo: ProofMemo::default(),
            store: Tiles::default(),
            ct: CtTree::new(),
            roots: vec![Sha256::digest(b"").into()],
        }
    }

    /// Appends `count` leaves as one batch; `at_each_size` runs after each leaf
    /// is in ct-merkle (so ct's size is the size checked) and the batch's tiles are stored.
    fn append(&mut self, count: u64, mut at_each_size: impl FnMut(&Self, u64)) -> Vec<TileData> {
        let old = self.edge.size();
        let new = old + count;
        let hashes: Vec<[u8; 32]> = (old..new)
            .map(|i| leaf_hash(&entry(self.seed, i)))
            .collect();
        let written = self.edge.append(&hashes);
        self.store.write(&written);
        assert_eq!(self.edge.size(), new);

        // The tiles written are the ones tlog_tiles says a publisher of `new` must write.
        let mut got: Vec<(u8, u64, u64)> = written
            .iter()
            .map(|t| (t.level, t.index, t.data.len() as u64 / 32))
            .collect();
        let mut want: Vec<(u8, u64, u64)> = tlog_tiles::Tile::new_tiles(8, old, new)
            .iter()
            .map(|t| (t.level(), t.level_index(), u64::from(t.width())))
            .collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "tiles written by append {old} -> {new}");
        for &(level, index, width) in &got {
            assert_eq!(tile_width(new, level, index), width);
            assert!(tile_in_tree(new, level, index, width));
            assert!(!tile_in_tree(new, level, index, width + 1));
        }

        for size in old + 1..=new {
            self.ct.push(entry(self.seed, size - 1));
            self.roots.push(ct_root(&self.ct));
            at_each_size(self, size);
        }
        assert_eq!(self.edge.root(), self.roots[new as usize]);
        written
    }

    /// Checks the inclusion proof of `index` at `size` (= ct's size) from the store.
    fn check_inclusion(&self, size: u64, index: u64) {
        assert_eq!(self.ct.len(), size);
        let proof = merkle::inclusion_proof(&self.store, size, index).unwrap();
        let ct_proof = self.ct.prove_inclusion(index as usize);
        assert_eq!(
            proof.concat(),
            ct_proof.as_bytes(),
            "inclusion {index} in {size}"
        );
        self.verify_inclusion(&proof, size, index);
    }

    /// Verifies an inclusion proof with ct-merkle against the remembered root.
    fn verify_inclusion(&self, proof: &[[u8; 32]], size: u64, index: u64) {
        ct_root_hash(self.roots[size as usize], size)
            .verify_inclusion(
                &entry(self.seed, index),
                index,
                &InclusionProof::from_bytes(proof.concat()),
            )
            .unwrap_or_else(|e| panic!("inclusion {index} in {size}: {e:?}"));
    }

    /// Checks the consistency proof from `old` to `new` (= ct's size) from the store.
    fn check_consistency(&self, old: u64, new: u64) {
        assert_eq!(self.ct.len(), new);
        let proof = merkle::consistency_proof(&self.store, old, new).unwrap();
        if old == new {
            assert!(proof.is_empty());
            return;
        }
        let ct_proof = self.ct.prove_consistency((new - old) as usize);
        assert_eq!(
            proof.concat(),
            ct_proof.as_bytes(),
            "consistency {old} -> {new}"
        );
        self.verify_consistency(&proof, old, new);
    }

    fn verify_consistency(&self, proof: &[[u8; 32]], old: u64, new: u64) {
        let proof = ConsistencyProof::try_from_bytes(proof.concat()).unwrap();
        ct_root_hash(self.roots[new as usize], new)
            .verify_consistency(&ct_root_hash(self.roots[old as usize], old), &proof)
            .unwrap_or_else(|e| panic!("consistency {old} -> {new}: {e:?}"));
    }

    /// `batch_proofs` for the last batch equal the proofs from the store,
    /// with a fresh memo and with the one kept across this tree's batches.
    fn check_batch_proofs(&mut self, written: &[TileData], batch: Range<u64>, sample: &[u64]) {
        let size = self.edge.size();
        let proofs = self.edge.batch_proofs(written, batch.clone()).unwrap();
        let with_memo = self
            .edge
            .batch_proofs_with(written, batch.clone(), &mut self.memo)
            .unwrap();
        assert_eq!(
            proofs, with_memo,
            "batch {batch:?} in {size} with the kept memo"
        );
        assert_eq!(proofs.len() as u64, batch.end - batch.start);
        for &index in sample {
            let proof = &proofs[(index - batch.start) as usize];
            let stored = merkle::inclusion_proof(&self.store, size, index).unwrap();
            assert_eq!(proof, &stored, "batch proof {index} in {size}");
        }
    }

    /// The edge reloaded from the store equals the live one; returns it.
    fn reload(&self) -> RightEdge {
        let loaded = RightEdge::load(self.edge.size(), &self.store).unwrap();
        assert_eq!(loaded, self.edge);
        assert_eq!(loaded.root(), self.edge.root());
        loaded
    }
}

fn batch_size() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..=3, 1u64..=40, 200u64..=600]
}

const SMALL_TARGET: u64 = 1100;

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    /// Every size 1..=1100: roots, inclusion and consistency proofs equal ct-merkle's.
    #[test]
    fn small_trees_match_ct_merkle(batches in prop::collection::vec(batch_size(), 60), seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut fx = Fixture::new(seed);
        let mut batches = batches.into_iter();
        let mut reload = false;
        while fx.edge.size() < SMALL_TARGET {
            let old = fx.edge.size();
            let count = batches.next().unwrap_or(97);
            let written = fx.append(count, |fx, size| {
                // The store may be ahead of `size`: proofs must only use what `size` covers.
                assert_eq!(merkle::root(&fx.store, size).unwrap(), fx.roots[size as usize]);
                let indexes: Vec<u64> = if size <= 300 {
                    (0..size).collect()
                } else {
                    let mut rng = StdRng::seed_from_u64(seed ^ size);
                    vec![0, size - 1, rng.gen_range(0..size), rng.gen_range(0..size)]
                };
                for index in indexes {
                    fx.check_inclusion(size, index);
                }
                let mut rng = StdRng::seed_from_u64(seed ^ size.rotate_left(32));
                for old_size in [1, size - 1, size, old.max(1), rng.gen_range(1..=size)] {
                    if old_size >= 1 {
                        fx.check_consistency(old_size, size);
                    }
                }
            });
            let new = fx.edge.size();
            fx.check_batch_proofs(&written, old..new, &(old..new).collect::<Vec<_>>());
            // Sizes passed on the way stay provable from the grown store.
            let earlier = rng.gen_range(1..=new);
            let proof = merkle::inclusion_proof(&fx.store, earlier, earlier - 1).unwrap();
            fx.verify_inclusion(&proof, earlier, earlier - 1);

            // Half the time, carry on with the reloaded edge.
            let loaded = fx.reload();
            if reload {
                fx.edge = loaded;
            }
            reload = !reload;
        }
    }

    /// Large trees (three tile levels): root, inclusion and consistency at sampled sizes.
    #[test]
    fn large_trees_match_ct_merkle(target in 70_000u64..=200_000, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut fx = Fixture::new(seed);
        // Sizes at which the expected proofs are checked while ct-merkle is at that size.
        let mut checkpoints: Vec<u64> = (0..6).map(|_| rng.gen_range(1..=target)).collect();
        checkpoints.extend([65_536, target]);
        let mut checked = Vec::new();
        while fx.edge.size() < target {
            let old = fx.edge.size();
            let count = rng.gen_range(1..=4000).min(target - old);
            let written = fx.append(count, |fx, size| {
                if !checkpoints.contains(&size) {
                    return;
                }
                let mut rng = StdRng::seed_from_u64(seed ^ size);
                assert_eq!(merkle::root(&fx.store, size).unwrap(), fx.roots[size as usize]);
                for _ in 0..20 {
                    fx.check_inclusion(size, rng.gen_range(0..size));
                }
                fx.check_inclusion(size, size - 1);
                for _ in 0..10 {
                    fx.check_consistency(rng.gen_range(1..=size), size);
                }
                for &earlier in &checked {
                    fx.check_consistency(earlier, size);
                }
                checked.push(size);
            });
            let new = fx.edge.size();
            let sample = [old, new - 1, rng.gen_range(old..new), rng.gen_range(old..new)];
            fx.check_batch_proofs(&written, old..new, &sample);
            fx.edge = fx.reload();
        }
        // Every size passed is provable from the final store.
        for _ in 0..10 {
            let size = rng.gen_range(1..=target);
            let index = rng.gen_range(0..size);
            assert_eq!(merkle::root(&fx.store, size).unwrap(), fx.roots[size as usize]);
            let proof = merkle::inclusion_proof(&fx.store, size, index).unwrap();
            fx.verify_inclusion(&proof, size, index);
            let old = rng.gen_range(1..=size);
            let proof = merkle::consistency_proof(&fx.store, old, size).unwrap();
            if old < size {
                fx.verify_consistency(&proof, old, size);
            }
        }
    }
}

#[test]
fn empty_tree() {
    let store = Tiles::default();
    let empty: [u8; 32] = Sha256::digest(b"").into();
    assert_eq!(RightEdge::empty().root(), empty);
    assert_eq!(merkle::root(&store, 0).unwrap(), empty);
    let loaded = RightEdge::load(0, &store).unwrap();
    assert_eq!(loaded, RightEdge::empty());
    assert_eq!(RightEdge::empty().batch_proofs(&[], 0..0).unwrap().len(), 0);
    let mut edge = RightEdge::empty();
    assert!(edge.append(&[]).is_empty());
    assert_eq!(edge, RightEdge::empty());
}

#[test]
fn out_of_range_queries_are_errors() {
    let mut fx = Fixture::new(7);
    let written = fx.append(300, |_, _| {});
    let store = &fx.store;

    for (size, index) in [(0, 0), (300, 300), (300, u64::MAX), (1, 1)] {
        assert!(matches!(
            merkle::inclusion_proof(store, size, index),
            Err(MerkleError::IndexOutOfRange { index: i, size: s }) if i == index && s == size
        ));
    }
    for (old, new) in [(0, 0), (0, 10), (11, 10), (u64::MAX, 300)] {
        assert!(matches!(
            merkle::consistency_proof(store, old, new),
            Err(MerkleError::BadSizes { .. })
        ));
    }
    // Huge sizes are only as far as the missing tiles.
    let empty = Tiles::default();
    fn missing<T>(result: Result<T, MerkleError>) -> bool {
        matches!(result, Err(MerkleError::MissingTile { .. }))
    }
    assert!(missing(merkle::root(&empty, u64::MAX)));
    assert!(missing(merkle::inclusion_proof(&empty, u64::MAX, 0)));
    assert!(missing(merkle::inclusion_proof(
        &empty,
        u64::MAX,
        u64::MAX - 1
    )));
    assert!(missing(merkle::consistency_proof(&empty, 1, u64::MAX)));
    assert!(missing(merkle::consistency_proof(
        &empty,
        u64::MAX - 1,
        u64::MAX
    )));
    assert!(missing(RightEdge::load(u64::MAX, &empty)));
    // Equal sizes need no tile, even ones the store does not have.
    assert!(
        merkle::consistency_proof(&Tiles::default(), 5, 5)
            .unwrap()
            .is_empty()
    );
    #[allow(clippy::reversed_empty_ranges)]
    for range in [0..301, 299..301, 5..3, 301..301] {
        assert!(matches!(
            fx.edge.batch_proofs(&written, range),
            Err(MerkleError::BadRange { .. })
        ));
    }
    assert!(fx.edge.batch_proofs(&written, 300..300).unwrap().is_empty());
}

#[test]
fn batch_proofs_need_the_batch_tiles() {
    let mut fx = Fixture::new(8);
    fx.append(600, |_, _| {});
    let written = fx.append(10, |_, _| {});
    // Leaf 5's level-0 tile was completed by the first batch: not in memory.
    assert!(matches!(
        fx.edge.batch_proofs(&written, 5..6),
        Err(MerkleError::MissingTile { level: 0, index: 0 })
    ));
    fx.check_batch_proofs(&written, 600..610, &[600, 609]);

    // A batch that completes a tile needs that tile from what the append returned.
    let mut fx = Fixture::new(8);
    fx.append(250, |_, _| {});
    let written = fx.append(20, |_, _| {});
    assert!(matches!(
        fx.edge.batch_proofs(&[], 250..270),
        Err(MerkleError::MissingTile { level: 0, index: 0 })
    ));
    // Leaves in the new partial tile only need the edge.
    assert_eq!(
        fx.edge.batch_proofs(&[], 256..270).unwrap(),
        fx.edge.batch_proofs(&written, 256..270).unwrap()
    );
    fx.check_batch_proofs(&written, 250..270, &(250..270).collect::<Vec<_>>());
}

#[test]
fn missing_and_short_tiles_are_errors() {
    let mut fx = Fixture::new(9);
    fx.append(70, |_, _| {});
    let empty = Tiles::default();
    assert!(matches!(
        merkle::root(&empty, 10),
        Err(MerkleError::MissingTile { level: 0, index: 0 })
    ));
    assert!(matches!(
        merkle::inclusion_proof(&empty, 10, 3),
        Err(MerkleError::MissingTile { level: 0, index: 0 })
    ));
    assert!(matches!(
        RightEdge::load(10, &empty),
        Err(MerkleError::MissingTile { level: 0, index: 0 })
    ));

    // The store holds 70 hashes in tile 0/0: sizes beyond are not covered.
    assert!(matches!(
        merkle::root(&fx.store, 71),
        Err(MerkleError::TileTooShort {
            level: 0,
            index: 0,
            have: 70,
            need: 71
        })
    ));
    assert!(matches!(
        RightEdge::load(80, &fx.store),
        Err(MerkleError::TileTooShort {
            have: 70,
            need: 80,
            ..
        })
    ));
    assert!(matches!(
        merkle::inclusion_proof(&fx.store, 200, 3),
        Err(MerkleError::TileTooShort { .. })
    ));

    // A truncated hash does not count.
    let mut cut = Tiles::default();
    let mut data = fx.store.0[&(0, 0)].clone();
    data.truncate(10 * 32 - 1);
    cut.0.insert((0, 0), data);
    assert!(matches!(
        RightEdge::load(10, &cut),
        Err(MerkleError::TileTooShort {
            have: 9,
            need: 10,
            ..
        })
    ));
    assert!(RightEdge::load(9, &cut).is_ok());
}

#[test]
fn closures_are_tile_sources() {
    let mut fx = Fixture::new(10);
    fx.append(513, |_, _| {});
    let tiles = &fx.store.0;
    let source = |level: u8, index: u64| -> Result<Option<Vec<u8>>, StoreError> {
        Ok(tiles.get(&(level, index)).cloned())
    };
    assert_eq!(merkle::root(&source, 513).unwrap(), fx.roots[513]);
    let proof = merkle::inclusion_proof(&source, 513, 100).unwrap();
    fx.verify_inclusion(&proof, 513, 100);

    let failing = |_: u8, _: u64| -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Backend("down".into()))
    };
    assert!(matches!(
        merkle::root(&failing, 513),
        Err(MerkleError::Store(StoreError::Backend(_)))
    ));
    assert!(matches!(
        RightEdge::load(513, &failing),
        Err(MerkleError::Store(_))
    ));
}

#[test]
fn tile_widths() {
    let full = TILE_WIDTH;
    // (size, level, index, width)
    let cases = [
        (0, 0, 0, 0),
        (1, 0, 0, 1),
        (255, 0, 0, 255),
        (255, 1, 0, 0),
        (256, 0, 0, full),
        (256, 0, 1, 0),
        (256, 1, 0, 1),
        (70_000, 0, 272, full),
        (70_000, 0, 273, 112),
        (70_000, 0, 274, 0),
        (70_000, 1, 0, full),
        (70_000, 1, 1, 17),
        (70_000, 2, 0, 1),
        (70_000, 3, 0, 0),
        (u64::MAX, 7, 0, 255),
        (u64::MAX, 6, u64::MAX >> 56, 255),
        (u64::MAX, 6, 0, full),
        (u64::MAX, 8, 0, 0),
        (u64::MAX, u8::MAX, 0, 0),
    ];
    for (size, level, index, width) in cases {
        assert_eq!(
            tile_width(size, level, index),
            width,
            "{size} {level} {index}"
        );
        assert_eq!(tile_in_tree(size, level, index, width), width > 0);
        assert!(!tile_in_tree(size, level, index, width + 1));
        assert!(!tile_in_tree(size, level, index, 0));
        if width > 1 {
            assert!(tile_in_tree(size, level, index, 1));
        }
    }
    assert!(!tile_in_tree(u64::MAX, 0, 0, 257));
}

#[test]
fn leaf_hash_is_rfc6962() {
    let mut prefixed = vec![0u8];
    prefixed.extend_from_slice(b"hello");
    let want: [u8; 32] = Sha256::digest(&prefixed).into();
    assert_eq!(leaf_hash(b"hello"), want);
}
