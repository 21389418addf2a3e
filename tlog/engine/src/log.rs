//! A log: its shards, keys, published checkpoints and the reads every API
//! serves. Writes go through the sequencer only.
//!
//! Readers see the `LogView` the sequencer last published, which only ever
//! names committed checkpoints: every proof served is against a checkpoint
//! that is durably stored, so a restart can never serve a smaller tree.

use std::fs::File;
use std::sync::Arc;

use arc_swap::ArcSwap;
use atesto_common::cpu_pool::CpuPool;
use atesto_common::keys::{KeyError, KeyType, PrivateKey};
use atesto_common::note::{NoteSigner, checkpoint_text, sign_note};
use rand::Rng;

use crate::config::TlogConfig;
use crate::merkle::{self, MerkleError, RightEdge};
use crate::metrics::Metrics;
use crate::sequencer::{self, SequencerConfig, SequencerHandle};
use crate::store::redb::RedbStore;
use crate::store::{LogStore, ShardInfo, ShardState, StoreError, StoredCheckpoint, StoredEntry};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}")]
    Setup(String),
}

/// The log's signing keys.
pub struct LogKeys {
    checkpoint_signer: NoteSigner,
    witness_signer: Option<NoteSigner>,
    /// SHA-256 of the DER SPKI, hex: Rekor's `logID`.
    pub log_id_hex: String,
    pub public_key_der: Vec<u8>,
    pub public_key_pem: String,
}

impl LogKeys {
    /// `key` signs checkpoints and SETs and must be ECDSA P-256; `witness`, if
    /// any, adds an Ed25519 checkpoint signature.
    pub fn new(
        hostname: &str,
        key: PrivateKey,
        witness: Option<PrivateKey>,
    ) -> Result<Self, LogError> {
        if key.key_type() != KeyType::EcdsaP256 {
            return Err(LogError::Setup(
                "the log key must be ECDSA P-256 (the only type every sigstore client accepts)"
                    .into(),
            ));
        }
        if witness
            .as_ref()
            .is_some_and(|w| w.key_type() != KeyType::Ed25519)
        {
            return Err(LogError::Setup("the witness key must be Ed25519".into()));
        }
        let key = Arc::new(key);
        Ok(Self {
            log_id_hex: hex::encode(key.log_id()),
            public_key_der: key.public_key_der(),
            public_key_pem: key.public_key_pem(),
            checkpoint_signer: NoteSigner::new(hostname, key),
            witness_signer: witness.map(|w| NoteSigner::new(hostname, Arc::new(w))),
        })
    }

    /// ECDSA P-256 signature (ASN.1) over `message` with SHA-256.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.checkpoint_signer.key().sign(message)
    }

    /// Signs the checkpoint of a tree: the ECDSA line first (the one Rekor v1
    /// clients read), then the witness line.
    pub fn checkpoint(
        &self,
        origin: &str,
        size: u64,
        root: [u8; 32],
    ) -> Result<StoredCheckpoint, StoreError> {
        let text = checkpoint_text(origin, size, &root);
        let mut signers = vec![&self.checkpoint_signer];
        signers.extend(self.witness_signer.as_ref());
        let note = sign_note(&text, &signers)
            .map_err(|e| StoreError::Backend(format!("signing a checkpoint: {e}")))?;
        Ok(StoredCheckpoint { size, root, note })
    }
}

/// What readers see: every shard with its latest committed checkpoint, active last.
#[derive(Debug, Clone)]
pub struct LogView {
    pub shards: Vec<ShardState>,
}

impl LogView {
    pub fn active(&self) -> Option<&ShardState> {
        self.shards.last()
    }

    pub fn inactive(&self) -> &[ShardState] {
        self.shards.split_last().map_or(&[], |(_, rest)| rest)
    }

    /// The shard holding global index `index` within its published checkpoint.
    pub fn shard_of_index(&self, index: u64) -> Option<&ShardState> {
        self.shards
            .iter()
            .find(|s| index >= s.info.start && index - s.info.start < s.checkpoint.size)
    }

    pub fn shard_by_tree_id(&self, tree_id: u64) -> Option<&ShardState> {
        self.shards.iter().find(|s| s.info.tree_id == tree_id)
    }

    /// Entries in all shards.
    pub fn total_size(&self) -> u64 {
        self.active()
            .map_or(0, |s| s.info.start + s.checkpoint.size)
    }
}

pub type SharedView = Arc<ArcSwap<LogView>>;

/// An entry with its inclusion proof against a committed checkpoint of its shard.
#[derive(Debug, Clone)]
pub struct ProvenEntry {
    /// Global index (`logIndex`).
    pub index: u64,
    pub shard: ShardInfo,
    pub entry: StoredEntry,
    /// Audit path at `checkpoint.size`, leaf to root.
    pub proof: Vec<[u8; 32]>,
    pub checkpoint: Arc<StoredCheckpoint>,
}

impl ProvenEntry {
    pub fn index_in_shard(&self) -> u64 {
        self.index - self.shard.start
    }

    /// The 80-hex entry id: 16 hex digits of the tree id, then the leaf hash.
    pub fn entry_id(&self) -> String {
        entry_id(self.shard.tree_id, &merkle::leaf_hash(&self.entry.body))
    }
}

pub fn entry_id(tree_id: u64, leaf_hash: &[u8; 32]) -> String {
    format!("{tree_id:016x}{}", hex::encode(leaf_hash))
}

/// A random positive 63-bit tree id, as Trillian assigns them.
pub fn new_tree_id() -> u64 {
    rand::thread_rng().gen_range(1..=i64::MAX as u64)
}

pub struct Log {
    pub store: Arc<dyn LogStore>,
    pub view: SharedView,
    pub keys: Arc<LogKeys>,
    pub sequencer: SequencerHandle,
    pub metrics: Arc<Metrics>,
    pub hostname: String,
    /// Where request handlers verify signatures and chains, off the async workers.
    pub cpu: CpuPool,
    /// Held for the life of the process: one writer per data directory.
    _lock: Option<File>,
}

impl Log {
    /// Opens the log under `config.data` with its embedded store, creating the
    /// directory, key and first shard on first start.
    pub fn open(config: &TlogConfig) -> Result<Self, LogError> {
        std::fs::create_dir_all(&config.data)
            .map_err(|e| LogError::Setup(format!("creating {}: {e}", config.data.display())))?;
        let lock_path = config.data.join("LOCK");
        let lock = File::create(&lock_path)
            .map_err(|e| LogError::Setup(format!("creating {}: {e}", lock_path.display())))?;
        lock.try_lock()
            .map_err(|_| LogError::Store(StoreError::Locked(config.data.display().to_string())))?;

        let key = PrivateKey::load_or_create(&config.key_path(), KeyType::EcdsaP256)?;
        let witness = config
            .witness_key
            .as_deref()
            .map(PrivateKey::load)
            .transpose()?;
        let hostname = config.hostname();
        let keys = LogKeys::new(&hostname, key, witness)?;
        let store = RedbStore::open(&config.store_path(), config.cache_mb << 20)?;
        let mut log = Self::with_store(Arc::new(store), keys, config)?;
        log._lock = Some(lock);
        Ok(log)
    }

    /// Starts a log over any store (the first shard is created if the store is new).
    pub fn with_store(
        store: Arc<dyn LogStore>,
        keys: LogKeys,
        config: &TlogConfig,
    ) -> Result<Self, LogError> {
        let hostname = config.hostname();
        let keys = Arc::new(keys);
        let mut shards = store.shards()?;
        if shards.is_empty() {
            let tree_id = config.tree_id.unwrap_or_else(new_tree_id);
            let info = ShardInfo {
                ordinal: 0,
                tree_id,
                start: 0,
                origin: format!("{hostname} - {tree_id}"),
            };
            let checkpoint = keys.checkpoint(&info.origin, 0, RightEdge::empty().root())?;
            let first = ShardState { info, checkpoint };
            store.create_shard(&first)?;
            shards.push(first);
        }
        let metrics = Arc::new(
            Metrics::new().map_err(|e| LogError::Setup(format!("registering metrics: {e}")))?,
        );
        metrics.watch_disk(&config.data);
        if let Some(active) = shards.last() {
            metrics.tree_size.set(active.checkpoint.size as i64);
        }
        let view: SharedView = Arc::new(ArcSwap::from_pointee(LogView { shards }));
        let sequencer = sequencer::start(
            SequencerConfig {
                max_size: config.batch.max_size,
                max_age: config.batch_max_age(),
                pool_size: config.batch.pool_size,
                rotate_at_size: config.shards.rotate_at_size,
                hostname: hostname.clone(),
                sign_entry_timestamps: config.sign_entry_timestamps,
            },
            store.clone(),
            keys.clone(),
            view.clone(),
            metrics.clone(),
        )?;
        Ok(Self {
            store,
            view,
            keys,
            sequencer,
            metrics,
            hostname,
            cpu: CpuPool::new(&config.cpu_pool),
            _lock: None,
        })
    }

    /// The entry at global `index` with its proof against its shard's latest
    /// checkpoint. Blocking.
    pub fn entry_at(&self, index: u64) -> Result<Option<ProvenEntry>, LogError> {
        let view = self.view.load_full();
        let Some(shard) = view.shard_of_index(index) else {
            return Ok(None);
        };
        let Some(entry) = self
            .store
            .read_entries(index..index + 1)?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let source = self.tile_source(shard.info.ordinal);
        let proof =
            merkle::inclusion_proof(&source, shard.checkpoint.size, index - shard.info.start)?;
        Ok(Some(ProvenEntry {
            index,
            shard: shard.info.clone(),
            entry,
            proof,
            checkpoint: Arc::new(shard.checkpoint.clone()),
        }))
    }

    /// The entry with this leaf hash, if its shard has published it. When
    /// `tree_id` is given (80-hex ids), the entry must be in that tree. Blocking.
    pub fn entry_by_leaf(
        &self,
        leaf_hash: &[u8; 32],
        tree_id: Option<u64>,
    ) -> Result<Option<ProvenEntry>, LogError> {
        let Some(index) = self.store.find_leaf(leaf_hash)? else {
            return Ok(None);
        };
        let found = self.entry_at(index)?;
        Ok(found.filter(|e| tree_id.is_none_or(|t| t == e.shard.tree_id)))
    }

    /// Reads the stored tiles of one shard.
    pub fn tile_source(
        &self,
        ordinal: u32,
    ) -> impl Fn(u8, u64) -> Result<Option<Vec<u8>>, StoreError> + '_ {
        move |level, index| self.store.read_tile(ordinal, level, index)
    }
}
