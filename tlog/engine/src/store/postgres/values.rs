//! The log's numbers as PostgreSQL's signed columns, and tile keys as the
//! arrays a statement unnests.

use crate::store::StoreError;

pub fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Backend(format!("{what} {value} exceeds 2^63-1")))
}

pub fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what} {value}")))
}

/// `(level, index)` tile keys as the two arrays a statement unnests.
pub fn tile_keys(wanted: &[(u8, u64)]) -> Result<(Vec<i16>, Vec<i64>), StoreError> {
    let levels = wanted.iter().map(|&(level, _)| i16::from(level)).collect();
    let indexes = wanted
        .iter()
        .map(|&(_, index)| to_i64(index, "tile index"))
        .collect::<Result<_, _>>()?;
    Ok((levels, indexes))
}

/// Where tile `key` is among the keys asked for.
pub fn position(levels: &[i16], indexes: &[i64], key: (i16, i64)) -> Option<usize> {
    levels
        .iter()
        .zip(indexes)
        .position(|(&level, &index)| (level, index) == key)
}
