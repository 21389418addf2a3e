//! Merkle tree costs: append throughput, and proofs from tiles at 10 million leaves.

use std::collections::HashMap;
use std::hint::black_box;

use atesto_tlog_engine::merkle::{self, RightEdge, TileSource, leaf_hash};
use atesto_tlog_engine::store::{StoreError, TileData};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BIG: u64 = 10_000_000;
const BATCH: u64 = 256;

/// An in-memory tile store; reads copy, as a real store's would.
#[derive(Default)]
struct Tiles(HashMap<(u8, u64), Vec<u8>>);

impl Tiles {
    fn write(&mut self, tiles: Vec<TileData>) {
        for tile in tiles {
            self.0.insert((tile.level, tile.index), tile.data);
        }
    }
}

impl TileSource for Tiles {
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(&(level, index)).cloned())
    }
}

fn leaves(range: std::ops::Range<u64>) -> Vec<[u8; 32]> {
    range.map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

/// Spreads `i` over `0..n` (a cheap, fixed pseudo-random walk).
fn spread(i: u64, n: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(BATCH));
    // Start off a tile boundary, so each batch completes one tile and rewrites a partial one.
    let mut edge = RightEdge::empty();
    edge.append(&leaves(0..100));
    let batch = leaves(100..100 + BATCH);
    group.bench_function("batch_of_256", |b| {
        b.iter(|| black_box(edge.append(black_box(&batch))))
    });
    group.finish();
}

fn proofs_at_10m(c: &mut Criterion) {
    let mut store = Tiles::default();
    let mut edge = RightEdge::empty();
    let last = BIG - BATCH;
    for start in (0..last).step_by(BATCH as usize) {
        let end = (start + BATCH).min(last);
        store.write(edge.append(&leaves(start..end)));
    }
    // The last batch straddles a tile boundary (10M is not a multiple of 256).
    let written = edge.append(&leaves(last..BIG));
    store.write(written.clone());

    let mut group = c.benchmark_group("proofs_at_10m");
    let mut i = 0;
    group.bench_function("inclusion_proof", |b| {
        b.iter(|| {
            i += 1;
            merkle::inclusion_proof(&store, BIG, spread(i, BIG)).unwrap()
        })
    });
    group.bench_function("consistency_proof", |b| {
        b.iter(|| {
            i += 1;
            merkle::consistency_proof(&store, 1 + spread(i, BIG - 1), BIG).unwrap()
        })
    });
    group.bench_function("root", |b| {
        b.iter(|| merkle::root(&store, black_box(BIG)).unwrap())
    });
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("batch_proofs_256", |b| {
        b.iter(|| edge.batch_proofs(&written, last..BIG).unwrap())
    });
    group.finish();
}

criterion_group!(benches, append, proofs_at_10m);
criterion_main!(benches);
