//! What a log promised under load, for the kill tests: every entry it
//! answered 201 for, and every (size, root) a reply or a checkpoint served,
//! so that a fork (two roots for one size) fails the test where it is seen.

use std::collections::BTreeMap;

use super::{Hash, LogEntry, LogKey};

/// An entry the log answered 201 for, with what the test keeps of it.
#[derive(Clone)]
pub struct Acked<T> {
    pub index: u64,
    pub id: String,
    pub kept: T,
}

pub struct Promises<T> {
    pub acked: Vec<Acked<T>>,
    /// Every (size, root) served so far.
    pub heads: BTreeMap<u64, Hash>,
}

impl<T> Default for Promises<T> {
    fn default() -> Self {
        Self {
            acked: Vec::new(),
            heads: BTreeMap::new(),
        }
    }
}

impl<T> Promises<T> {
    pub fn saw_head(&mut self, size: u64, root: Hash) {
        if let Some(previous) = self.heads.insert(size, root) {
            assert_eq!(
                previous, root,
                "two roots served for size {size}: the log forked"
            );
        }
    }

    /// A 201's entry: verified with `key`, its tree head and itself recorded.
    pub fn saw_created(&mut self, entry: LogEntry, key: &LogKey, kept: T) {
        entry.verify(key);
        self.saw_head(entry.tree_size, entry.root);
        self.acked.push(Acked {
            index: entry.log_index,
            id: entry.id,
            kept,
        });
    }
}
