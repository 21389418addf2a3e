//! The storage contract as tests every backend runs (`LogStore` in
//! `mod.rs`): batches round-trip, the checkpoint never shrinks, a batch
//! built on another checkpoint is refused and writes nothing, and a proof's
//! read answers tiles whole or in part.

use super::{Batch, LogStore, NewEntry, ShardInfo, ShardState, StoreError, StoredCheckpoint};
use super::{StoredEntry, TileData, TileRead};

pub fn shard(ordinal: u32, start: u64) -> ShardState {
    ShardState {
        info: ShardInfo {
            ordinal,
            tree_id: 7 + ordinal as u64,
            start,
            origin: format!("log.test - {}", 7 + ordinal),
        },
        checkpoint: checkpoint(0),
    }
}

pub fn checkpoint(size: u64) -> StoredCheckpoint {
    StoredCheckpoint {
        size,
        root: [size as u8; 32],
        note: format!("note {size}"),
    }
}

/// A batch of one entry at `first_index`, on top of the checkpoint of that size.
pub fn batch(first_index: u64, size: u64) -> Batch {
    Batch {
        shard: 0,
        first_index,
        entries: vec![NewEntry {
            entry: StoredEntry {
                body: format!("body {first_index}").into_bytes(),
                integrated_time: 1_700_000_000,
                receipt: vec![1, 2, 3],
                extra: Vec::new(),
            },
            leaf_hash: [first_index as u8; 32],
            index_keys: vec!["sha256:ab".into()],
        }],
        tiles: vec![TileData {
            level: 0,
            index: 0,
            data: vec![first_index as u8; 32 * size as usize],
        }],
        previous: checkpoint(first_index),
        checkpoint: checkpoint(size),
    }
}

/// Two batches commit and read back; a smaller checkpoint is refused.
pub fn batches_round_trip_and_checkpoint_never_shrinks(store: &dyn LogStore) {
    store.create_shard(&shard(0, 0)).unwrap();
    store.commit_batch(&batch(0, 1)).unwrap();
    store.commit_batch(&batch(1, 2)).unwrap();

    let entries = store.read_entries(0..5).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].body, b"body 1");
    assert_eq!(entries[1].receipt, vec![1, 2, 3]);
    assert_eq!(store.read_entries(1..2).unwrap().len(), 1);
    assert_eq!(store.find_leaf(&[1; 32]).unwrap(), Some(1));
    assert_eq!(store.search("sha256:ab").unwrap(), vec![0, 1]);
    assert_eq!(store.search("sha256:none").unwrap(), Vec::<u64>::new());
    assert_eq!(store.read_tile(0, 0, 0).unwrap().unwrap().len(), 64);
    assert_eq!(store.read_tile(0, 1, 0).unwrap(), None);
    // Several at once: in the order asked, missing ones `None`, another
    // shard's tiles not mixed in.
    let tile = store.read_tile(0, 0, 0).unwrap();
    assert_eq!(
        store.read_tiles(0, &[(1, 0), (0, 0), (0, 7)]).unwrap(),
        vec![None, tile, None]
    );
    assert_eq!(store.read_tiles(1, &[(0, 0)]).unwrap(), vec![None]);
    assert_eq!(store.shards().unwrap()[0].checkpoint.size, 2);

    let err = store.commit_batch(&batch(2, 1)).unwrap_err();
    assert!(matches!(err, StoreError::CheckpointRegression { .. }));
    assert_eq!(store.shards().unwrap()[0].checkpoint.size, 2);
    assert!(store.create_shard(&shard(0, 0)).is_err());
}

/// A fork (same size, another root) is refused and writes nothing; the
/// same batch on the stored checkpoint then commits.
pub fn a_batch_on_another_checkpoint_is_refused_and_writes_nothing(store: &dyn LogStore) {
    store.create_shard(&shard(0, 0)).unwrap();
    store.commit_batch(&batch(0, 1)).unwrap();

    let mut forked = batch(1, 2);
    forked.previous.root = [0xee; 32];
    let err = store.commit_batch(&forked).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::CheckpointConflict {
                expected: 1,
                stored: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.read_entries(0..5).unwrap().len(), 1);
    assert_eq!(
        store.find_leaves(&[[0; 32], [1; 32]]).unwrap(),
        [Some(0), None]
    );

    store.commit_batch(&batch(1, 2)).unwrap();
    assert_eq!(
        store.find_leaves(&[[0; 32], [1; 32]]).unwrap(),
        [Some(0), Some(1)]
    );
    assert_eq!(
        store.first_filed(&["sha256:ab", "sha256:none"]).unwrap(),
        [Some(0), None]
    );
}

/// A re-index files stored entries under more keys beside the ones they
/// were committed with, and its marker holds only the last progress.
pub fn filed_keys_join_the_index_and_the_marker_moves(store: &dyn LogStore) {
    store.create_shard(&shard(0, 0)).unwrap();
    store.commit_batch(&batch(0, 1)).unwrap();
    store.commit_batch(&batch(1, 2)).unwrap();
    assert_eq!(store.search("spki:aa").unwrap(), Vec::<u64>::new());

    let filed = vec![("spki:aa".to_string(), 1), ("spki:aa".to_string(), 0)];
    store.file_keys(&filed, ("reindex:test", 1)).unwrap();
    store.file_keys(&filed, ("reindex:test", 2)).unwrap();
    assert_eq!(store.search("spki:aa").unwrap(), vec![0, 1]);
    assert_eq!(store.search("reindex:test").unwrap(), vec![2]);
    assert_eq!(store.search("sha256:ab").unwrap(), vec![0, 1]);
    assert_eq!(store.read_entries(0..5).unwrap().len(), 2);
}

/// The entry GET's read answers each tile whole or the hashes asked of
/// it, and none of a tile too short for the part asked.
pub fn proof_reads_answer_tiles_whole_or_in_part(store: &dyn LogStore) {
    store.create_shard(&shard(0, 0)).unwrap();
    let mut batch = batch(0, 1);
    // Hash i of the full tile is 32 bytes of i; the partial tile holds 20.
    let full: Vec<u8> = (0..256u32).flat_map(|i| [i as u8; 32]).collect();
    batch.tiles = vec![
        TileData {
            level: 0,
            index: 0,
            data: full.clone(),
        },
        TileData {
            level: 0,
            index: 1,
            data: full[..20 * 32].to_vec(),
        },
    ];
    store.commit_batch(&batch).unwrap();
    let part = |index: u64, hashes: std::ops::Range<u32>| TileRead {
        level: 0,
        index,
        hashes: Some(hashes),
    };
    let wanted = [
        part(0, 16..32),
        TileRead::whole((0, 0)),
        TileRead::whole((0, 1)),
        part(1, 0..16),
        part(1, 16..32),
        part(0, 240..256),
        TileRead::whole((1, 0)),
    ];
    let (entry, tiles) = store.read_entry_and_tiles(0, 0, &wanted).unwrap();
    assert_eq!(entry.unwrap().body, b"body 0");
    assert_eq!(tiles[0].as_deref(), Some(&full[16 * 32..32 * 32]));
    assert_eq!(tiles[1].as_deref(), Some(full.as_slice()));
    assert_eq!(tiles[2].as_deref(), Some(&full[..20 * 32]));
    assert_eq!(tiles[3].as_deref(), Some(&full[..16 * 32]));
    assert_eq!(tiles[4], None, "hashes 16..32 of a 20-hash tile");
    assert_eq!(tiles[5].as_deref(), Some(&full[240 * 32..]));
    assert_eq!(tiles[6], None);
}
