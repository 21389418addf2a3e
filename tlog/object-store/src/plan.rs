//! Which tiles and entry bundles a bucket needs to go from a tree of one
//! size to a larger one: the objects of the larger tree that the smaller
//! one did not have with the same width. Tiles full at the smaller size are
//! there already (a checkpoint is written only after all its objects), and
//! the partial tiles of the smaller size stay readable as they are.

use atesto_tlog_engine::merkle::{TILE_HEIGHT, TILE_WIDTH, tile_width};
use atesto_tlog_http::tiles::{TileKind, TileRequest};

/// The objects a tree of `to` entries has that one of `from` entries does
/// not, level by level, entry bundles with level 0. Empty unless `from < to`.
pub fn objects_between(from: u64, to: u64) -> Vec<TileRequest> {
    let mut objects = Vec::new();
    if from >= to {
        return objects;
    }
    let mut level: u8 = 0;
    while to >> (u32::from(TILE_HEIGHT) * u32::from(level)) > 0 {
        let hashes_from = from >> (u32::from(TILE_HEIGHT) * u32::from(level));
        // The first tile that was not full at `from`, to the last of `to`.
        let first = hashes_from / TILE_WIDTH;
        let last = (to >> (u32::from(TILE_HEIGHT) * u32::from(level))) / TILE_WIDTH;
        for index in first..=last {
            let width = tile_width(to, level, index);
            if width == 0 || width == tile_width(from, level, index) {
                continue;
            }
            let partial = (width < TILE_WIDTH).then_some(width);
            objects.push(TileRequest {
                kind: TileKind::Hashes { level },
                index,
                partial,
            });
            if level == 0 {
                objects.push(TileRequest {
                    kind: TileKind::Entries,
                    index,
                    partial,
                });
            }
        }
        level += 1;
    }
    objects
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use atesto_tlog_engine::merkle::tile_in_tree;
    use proptest::prelude::*;

    use super::*;

    /// Every (kind, index, width) a tree of `size` serves, by brute force
    /// over the C2SP rule (`tile_in_tree`).
    fn all_objects(size: u64) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for level in 0..4u8 {
            for index in 0..=(size / TILE_WIDTH) {
                let width = tile_width(size, level, index);
                if width == 0 {
                    continue;
                }
                assert!(tile_in_tree(size, level, index, width));
                let partial = (width < TILE_WIDTH).then_some(width);
                all.insert(
                    TileRequest {
                        kind: TileKind::Hashes { level },
                        index,
                        partial,
                    }
                    .path(),
                );
                if level == 0 {
                    all.insert(
                        TileRequest {
                            kind: TileKind::Entries,
                            index,
                            partial,
                        }
                        .path(),
                    );
                }
            }
        }
        all
    }

    fn planned(from: u64, to: u64) -> BTreeSet<String> {
        let objects = objects_between(from, to);
        let paths: BTreeSet<String> = objects.iter().map(TileRequest::path).collect();
        assert_eq!(paths.len(), objects.len(), "no object twice");
        paths
    }

    #[test]
    fn a_first_publication_writes_every_object_of_the_tree() {
        assert!(planned(0, 0).is_empty());
        assert_eq!(
            planned(0, 1),
            ["tile/0/000.p/1", "tile/entries/000.p/1"]
                .map(String::from)
                .into()
        );
        assert_eq!(planned(0, 70_000), all_objects(70_000));
        assert!(planned(300, 300).is_empty());
        assert!(planned(301, 300).is_empty());
    }

    proptest! {
        #[test]
        fn the_plan_is_what_the_larger_tree_has_and_the_smaller_lacked(
            from in 0u64..70_000, grow in 1u64..3_000,
        ) {
            let to = from + grow;
            let had = all_objects(from);
            let want: BTreeSet<String> = all_objects(to).difference(&had).cloned().collect();
            prop_assert_eq!(planned(from, to), want);
        }
    }
}
