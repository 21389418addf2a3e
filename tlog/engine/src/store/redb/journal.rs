//! The redb store's write-ahead journal, `log.journal` beside `log.redb`.
//!
//! Why: a durable redb commit rewrites every B-tree page a batch touches
//! (the leaf-hash index alone is one random page per entry) and fsyncs
//! them; a journal record is one sequential write and one `fdatasync`. So
//! each batch is appended here and synced first, then committed to redb
//! without an fsync; a durable redb commit every `FLUSH_BYTES` of journal
//! persists all batches before it at once, and the journal is emptied.
//!
//! Record: payload length (u32 BE), SHA-256 of the payload, payload (an
//! encoded `Batch`). Only the record being appended can be torn by a
//! crash, and nobody was answered for it: opening drops a torn tail.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::store::{Batch, NewEntry, StoreError, StoredCheckpoint, StoredEntry, TileData};

/// Journal size at which the store makes a durable redb commit and empties
/// it: large enough that the commit's page writes are shared by hundreds
/// of batches, small enough that a replay after a crash takes well under a
/// second.
pub(super) const FLUSH_BYTES: u64 = 16 << 20;

const HEADER_BYTES: usize = 4 + 32;

pub(super) struct Journal {
    path: PathBuf,
    file: File,
    /// Length of the records known to be synced. After a failed append the
    /// file is cut back to it before anything else is written, so a record
    /// nobody was answered for can never be replayed ahead of a later one.
    synced_len: u64,
    /// The file may hold bytes past `synced_len` (a failed append or cut).
    needs_cut: bool,
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{what} {}: {err}", path.display()))
}

impl Journal {
    /// Opens (or creates) the journal and reads its records, dropping a
    /// torn tail.
    pub(super) fn open(path: &Path) -> Result<(Self, Vec<Batch>), StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|err| io_error("opening", path, err))?;
        let mut journal = Self {
            path: path.to_path_buf(),
            file,
            synced_len: 0,
            needs_cut: false,
        };
        let batches = journal.read()?;
        Ok((journal, batches))
    }

    /// Every whole record in the file, oldest first. A torn tail is cut off
    /// (and the cut synced) so that the next append follows the last record.
    pub(super) fn read(&mut self) -> Result<Vec<Batch>, StoreError> {
        let bytes = self
            .file
            .metadata()
            .and_then(|metadata| {
                let mut bytes = vec![0; metadata.len() as usize];
                self.file.read_exact_at(&mut bytes, 0)?;
                Ok(bytes)
            })
            .map_err(|err| io_error("reading", &self.path, err))?;
        let mut batches = Vec::new();
        let mut at = 0usize;
        while let Some(header) = bytes.get(at..at + HEADER_BYTES) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let Some(payload) = bytes.get(at + HEADER_BYTES..at + HEADER_BYTES + len) else {
                break;
            };
            if Sha256::digest(payload).as_slice() != &header[4..] {
                break;
            }
            batches.push(decode_batch(payload)?);
            at += HEADER_BYTES + len;
        }
        if at < bytes.len() {
            tracing::warn!(
                path = %self.path.display(),
                dropped = bytes.len() - at,
                "dropping the journal's torn tail (a batch being appended when the process stopped; nobody was answered for it)"
            );
        }
        self.synced_len = at as u64;
        self.needs_cut = at < bytes.len();
        self.cut_back()?;
        Ok(batches)
    }

    pub(super) fn len(&self) -> u64 {
        self.synced_len
    }

    /// Appends a batch and syncs it. On failure nothing of it counts: the
    /// bytes are cut off before the next write.
    pub(super) fn append(&mut self, batch: &Batch) -> Result<(), StoreError> {
        self.cut_back()?;
        let payload = encode_batch(batch);
        let len = u32::try_from(payload.len())
            .map_err(|_| StoreError::Backend("a batch too large for one journal record".into()))?;
        let mut record = Vec::with_capacity(HEADER_BYTES + payload.len());
        record.extend_from_slice(&len.to_be_bytes());
        record.extend_from_slice(&Sha256::digest(&payload));
        record.extend_from_slice(&payload);
        self.needs_cut = true;
        self.file
            .write_all_at(&record, self.synced_len)
            .and_then(|()| self.file.sync_data())
            .map_err(|err| io_error("appending to", &self.path, err))?;
        self.synced_len += record.len() as u64;
        self.needs_cut = false;
        Ok(())
    }

    /// Empties the journal, once a durable redb commit holds every record.
    pub(super) fn clear(&mut self) -> Result<(), StoreError> {
        self.synced_len = 0;
        self.needs_cut = true;
        self.cut_back()
    }

    /// Cuts the file back to `synced_len` if it may be longer. A failed
    /// sync may leave the unsynced bytes in the page cache, to reach the
    /// disk later: truncating drops them.
    fn cut_back(&mut self) -> Result<(), StoreError> {
        if self.needs_cut {
            self.file
                .set_len(self.synced_len)
                .and_then(|()| self.file.sync_all())
                .map_err(|err| io_error("truncating", &self.path, err))?;
            self.needs_cut = false;
        }
        Ok(())
    }
}

/// Appends fields in big-endian order; byte strings with a u32 length.
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }
    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }
    fn count(&mut self, count: usize) {
        // Counts and lengths are bounded by the request body limit and the
        // batch size, far below 4 GiB; `append` refuses a larger record.
        self.u32(count as u32);
    }
    fn bytes(&mut self, value: &[u8]) {
        self.count(value.len());
        self.0.extend_from_slice(value);
    }
    fn checkpoint(&mut self, checkpoint: &StoredCheckpoint) {
        self.u64(checkpoint.size);
        self.0.extend_from_slice(&checkpoint.root);
        self.bytes(checkpoint.note.as_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

fn corrupt() -> StoreError {
    StoreError::Corrupt("a journal record with a valid checksum does not decode".into())
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], StoreError> {
        if self.0.len() < n {
            return Err(corrupt());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        self.take(N)?.try_into().map_err(|_| corrupt())
    }
    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, StoreError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, StoreError> {
        let len = self.u32()? as usize;
        Ok(self.take(len)?.to_vec())
    }
    fn string(&mut self) -> Result<String, StoreError> {
        String::from_utf8(self.bytes()?).map_err(|_| corrupt())
    }
    fn checkpoint(&mut self) -> Result<StoredCheckpoint, StoreError> {
        Ok(StoredCheckpoint {
            size: self.u64()?,
            root: self.array()?,
            note: self.string()?,
        })
    }
}

fn encode_batch(batch: &Batch) -> Vec<u8> {
    let mut out = Writer(Vec::new());
    out.u32(batch.shard);
    out.u64(batch.first_index);
    out.checkpoint(&batch.previous);
    out.checkpoint(&batch.checkpoint);
    out.count(batch.entries.len());
    for new in &batch.entries {
        out.0.extend_from_slice(&new.leaf_hash);
        out.u64(new.entry.integrated_time as u64);
        out.bytes(&new.entry.receipt);
        out.bytes(&new.entry.extra);
        out.bytes(&new.entry.body);
        out.count(new.index_keys.len());
        for key in &new.index_keys {
            out.bytes(key.as_bytes());
        }
    }
    out.count(batch.tiles.len());
    for tile in &batch.tiles {
        out.u8(tile.level);
        out.u64(tile.index);
        out.bytes(&tile.data);
    }
    out.0
}

fn decode_batch(payload: &[u8]) -> Result<Batch, StoreError> {
    let mut input = Reader(payload);
    let shard = input.u32()?;
    let first_index = input.u64()?;
    let previous = input.checkpoint()?;
    let checkpoint = input.checkpoint()?;
    let entries = (0..input.u32()?)
        .map(|_| {
            let leaf_hash = input.array()?;
            let entry = StoredEntry {
                integrated_time: input.u64()? as i64,
                receipt: input.bytes()?,
                extra: input.bytes()?,
                body: input.bytes()?,
            };
            let index_keys = (0..input.u32()?)
                .map(|_| input.string())
                .collect::<Result<_, _>>()?;
            Ok(NewEntry {
                entry,
                leaf_hash,
                index_keys,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let tiles = (0..input.u32()?)
        .map(|_| {
            Ok(TileData {
                level: input.u8()?,
                index: input.u64()?,
                data: input.bytes()?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    if !input.0.is_empty() {
        return Err(corrupt());
    }
    Ok(Batch {
        shard,
        first_index,
        entries,
        tiles,
        previous,
        checkpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(first_index: u64, size: u64) -> Batch {
        let checkpoint = |size: u64| StoredCheckpoint {
            size,
            root: [size as u8; 32],
            note: format!("origin\n{size}\n"),
        };
        Batch {
            shard: 1,
            first_index,
            entries: vec![NewEntry {
                entry: StoredEntry {
                    body: b"body".to_vec(),
                    integrated_time: -5,
                    receipt: vec![7; 70],
                    extra: b"chain".to_vec(),
                },
                leaf_hash: [3; 32],
                index_keys: vec!["sha256:ab".into(), "email@example.com".into()],
            }],
            tiles: vec![TileData {
                level: 0,
                index: 2,
                data: vec![9; 64],
            }],
            previous: checkpoint(size - 1),
            checkpoint: checkpoint(size),
        }
    }

    fn same(a: &Batch, b: &Batch) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn records_survive_a_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.journal");
        let (mut journal, read) = Journal::open(&path).unwrap();
        assert!(read.is_empty());
        let (first, second) = (batch(10, 11), batch(11, 12));
        journal.append(&first).unwrap();
        journal.append(&second).unwrap();
        let whole = journal.len();
        drop(journal);

        // A crash in the middle of a third append.
        let mut torn = encode_batch(&batch(12, 13));
        torn.truncate(20);
        let file = OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut &file, &(500u32.to_be_bytes())).unwrap();
        std::io::Write::write_all(&mut &file, &torn).unwrap();
        drop(file);

        let (mut journal, read) = Journal::open(&path).unwrap();
        assert_eq!(read.len(), 2);
        assert!(same(&read[0], &first) && same(&read[1], &second));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        // The next record follows the last whole one.
        journal.append(&batch(12, 13)).unwrap();
        drop(journal);
        assert_eq!(Journal::open(&path).unwrap().1.len(), 3);
    }

    #[test]
    fn a_record_whose_checksum_fails_ends_the_journal_and_clear_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.journal");
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.append(&batch(10, 11)).unwrap();
        let first_len = journal.len();
        journal.append(&batch(11, 12)).unwrap();
        drop(journal);
        // One flipped bit in the second record's payload.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();

        let (mut journal, read) = Journal::open(&path).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(journal.len(), first_len);
        journal.clear().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert!(journal.read().unwrap().is_empty());
    }
}
