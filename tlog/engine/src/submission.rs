//! What a personality hands the engine, and the hook through which it signs
//! each entry at integration.

use crate::checkpoint::SignError;

/// An entry to integrate, already validated by its personality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The leaf's data: the entry's Merkle leaf is SHA-256(0x00 || leaf).
    pub leaf: Vec<u8>,
    /// Stored beside the entry but not hashed into its leaf (a CT entry's chain).
    pub extra: Vec<u8>,
    /// Search-index keys to file the entry under.
    pub index_keys: Vec<String>,
    /// One of `index_keys` that names the entry's content apart from its
    /// leaf (a CT certificate, whose leaf has a fresh timestamp each time):
    /// an entry already filed under it, stored or earlier in the batch,
    /// makes this one a duplicate. None when the leaf is the content.
    pub dedup_key: Option<String>,
}

/// An entry as it is being integrated: what a per-entry signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Integrated<'a> {
    pub leaf: &'a [u8],
    /// Unix seconds of the batch.
    pub integrated_time: i64,
    /// Global index (`logIndex`).
    pub index: u64,
}

/// The personality's per-entry signature, made once when the entry gets its
/// index and stored with it (`StoredEntry::receipt`): Rekor's
/// SignedEntryTimestamp. At most `MAX_RECEIPT_BYTES`. Runs on the sequencer
/// thread, inside the batch: keep it to one signature.
pub trait EntrySigner: Send + Sync + 'static {
    fn sign_entry(&self, entry: Integrated<'_>) -> Result<Vec<u8>, SignError>;
}

/// Longest receipt the stores keep (the redb encoding has 15 bits for it).
pub const MAX_RECEIPT_BYTES: usize = 0x7fff;
