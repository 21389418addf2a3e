//! The redb store's write-ahead journal, `log.journal` beside `log.redb`.
//!
//! Why: a durable redb commit rewrites every B-tree page a batch touches
//! (the leaf-hash index alone is one random page per entry) and fsyncs
//! them; a journal record is one sequential write and one `fdatasync`. So
//! each batch is appended here and synced first, then committed to redb
//! without an fsync; a durable redb commit every `FLUSH_BYTES` of journal
//! persists all batches before it at once, and the journal starts over.
//!
//! Layout: a header (magic, generation), then records: payload length
//! (u32 BE), SHA-256 of the generation and the payload, payload (an encoded
//! `Batch`). Starting over writes a new generation into the header and
//! overwrites the old records in place: the file keeps its size and its
//! blocks, so a record's `fdatasync` writes data only, no file-system
//! metadata. The records of the generation end at the first one whose
//! checksum fails: an older generation's, zeros, or the one a crash tore
//! while it was being appended, which nobody was answered for.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::store::{Batch, NewEntry, StoreError, StoredCheckpoint, StoredEntry, TileData};

/// Journal size at which the store makes a durable redb commit and starts
/// the journal over: large enough that the commit's page writes are shared
/// by hundreds of batches, small enough that a replay after a crash takes
/// well under a second.
pub(super) const FLUSH_BYTES: u64 = 16 << 20;

const MAGIC: &[u8; 8] = b"atjrnl01";
/// The header: magic and generation.
const HEADER_BYTES: u64 = 16;
/// A record's length and checksum.
const RECORD_HEADER_BYTES: usize = 4 + 32;

pub(super) struct Journal {
    path: PathBuf,
    file: File,
    generation: u64,
    /// End of the generation's last synced record.
    synced_end: u64,
    /// An append or a new generation's header failed: the bytes may still
    /// reach the disk later (a failed sync can leave them in the page
    /// cache), and a record synced behind them, or under the old
    /// generation, would be unreadable after a crash. Nothing is appended
    /// until `start_over` has begun a new generation.
    poisoned: bool,
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{what} {}: {err}", path.display()))
}

fn checksum(generation: u64, payload: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(generation.to_be_bytes());
    hasher.update(payload);
    hasher.finalize().into()
}

impl Journal {
    /// Opens (or creates) the journal and reads its records.
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
            generation: 0,
            synced_end: HEADER_BYTES,
            poisoned: false,
        };
        let mut header = [0u8; HEADER_BYTES as usize];
        match journal.file.read_exact_at(&mut header, 0) {
            Ok(()) if &header[..8] == MAGIC => {
                journal.generation = u64::from_be_bytes(
                    header[8..]
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("journal header".into()))?,
                );
            }
            Ok(()) => {
                return Err(StoreError::Corrupt(format!(
                    "{} is not an atesto journal",
                    path.display()
                )));
            }
            // A new (or never initialised) journal.
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
                journal.start_over()?;
            }
            Err(err) => return Err(io_error("reading", path, err)),
        }
        let batches = journal.read()?;
        Ok((journal, batches))
    }

    /// The current generation's records, oldest first.
    pub(super) fn read(&mut self) -> Result<Vec<Batch>, StoreError> {
        let bytes = self
            .file
            .metadata()
            .and_then(|metadata| {
                let len = metadata.len().saturating_sub(HEADER_BYTES) as usize;
                let mut bytes = vec![0; len];
                self.file.read_exact_at(&mut bytes, HEADER_BYTES)?;
                Ok(bytes)
            })
            .map_err(|err| io_error("reading", &self.path, err))?;
        let mut batches = Vec::new();
        let mut at = 0usize;
        while let Some(header) = bytes.get(at..at + RECORD_HEADER_BYTES) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let Some(payload) = bytes.get(at + RECORD_HEADER_BYTES..at + RECORD_HEADER_BYTES + len)
            else {
                break;
            };
            if checksum(self.generation, payload) != header[4..] {
                break;
            }
            batches.push(decode_batch(payload)?);
            at += RECORD_HEADER_BYTES + len;
        }
        self.synced_end = HEADER_BYTES + at as u64;
        Ok(batches)
    }

    /// Bytes of records in the current generation.
    pub(super) fn len(&self) -> u64 {
        self.synced_end - HEADER_BYTES
    }

    /// Appends a batch and syncs it.
    pub(super) fn append(&mut self, batch: &Batch) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Unavailable(
                "an append to the journal failed; it starts over once the store recovers".into(),
            ));
        }
        // The payload is encoded behind room for its header, so the record
        // is built without copying it.
        let mut record = encode_batch(batch, vec![0; RECORD_HEADER_BYTES]);
        let (header, payload) = record.split_at_mut(RECORD_HEADER_BYTES);
        let len = u32::try_from(payload.len())
            .map_err(|_| StoreError::Backend("a batch too large for one journal record".into()))?;
        header[..4].copy_from_slice(&len.to_be_bytes());
        header[4..].copy_from_slice(&checksum(self.generation, payload));
        self.file
            .write_all_at(&record, self.synced_end)
            .and_then(|()| self.file.sync_data())
            .map_err(|err| {
                self.poisoned = true;
                io_error("appending to", &self.path, err)
            })?;
        self.synced_end += record.len() as u64;
        Ok(())
    }

    /// Begins a new generation, which holds no record: only once a durable
    /// redb commit holds every record of the current one.
    pub(super) fn start_over(&mut self) -> Result<(), StoreError> {
        let generation = self.generation + 1;
        let mut header = [0u8; HEADER_BYTES as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&generation.to_be_bytes());
        self.file
            .write_all_at(&header, 0)
            .and_then(|()| self.file.sync_data())
            .map_err(|err| {
                // The new header may still reach the disk, and records
                // appended under the old generation would then be unreadable.
                self.poisoned = true;
                io_error("starting over", &self.path, err)
            })?;
        self.generation = generation;
        self.synced_end = HEADER_BYTES;
        self.poisoned = false;
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

/// Appends the encoded batch to `out`.
fn encode_batch(batch: &Batch, out: Vec<u8>) -> Vec<u8> {
    let mut out = Writer(out);
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
    fn records_survive_a_reopen_and_a_torn_record_ends_them() {
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
        let file = OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut &file, &500u32.to_be_bytes()).unwrap();
        std::io::Write::write_all(&mut &file, &[7; 40]).unwrap();
        drop(file);

        let (mut journal, read) = Journal::open(&path).unwrap();
        assert_eq!(read.len(), 2);
        assert!(same(&read[0], &first) && same(&read[1], &second));
        assert_eq!(journal.len(), whole);
        // The next record overwrites the torn one.
        journal.append(&batch(12, 13)).unwrap();
        drop(journal);
        assert_eq!(Journal::open(&path).unwrap().1.len(), 3);
    }

    #[test]
    fn a_failed_checksum_ends_the_records_and_a_new_generation_holds_none_of_the_old() {
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

        // Starting over keeps the file, and the old records are not read
        // back, before or after a shorter new record overwrites them.
        let size = std::fs::metadata(&path).unwrap().len();
        journal.start_over().unwrap();
        assert!(journal.read().unwrap().is_empty());
        let mut short = batch(12, 13);
        short.tiles.clear();
        journal.append(&short).unwrap();
        drop(journal);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
        let (journal, read) = Journal::open(&path).unwrap();
        assert_eq!(read.len(), 1);
        assert!(same(&read[0], &short));
        assert_eq!(journal.generation, 2);
    }

    #[test]
    fn another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.journal");
        std::fs::write(&path, b"not a journal at all").unwrap();
        assert!(matches!(Journal::open(&path), Err(StoreError::Corrupt(_))));
    }
}
