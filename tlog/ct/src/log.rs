//! A running CT log: the engine's `Log` with the accepted roots, the log id
//! and the signed tree head of the published tree.

use std::sync::{Arc, Mutex};

use atesto_common::cpu_pool::CpuPool;
use atesto_common::keys::{KeyType, PrivateKey};
use atesto_tlog_engine::checkpoint::LogKeys;
use atesto_tlog_engine::log::{Log, LogError};
use atesto_tlog_engine::store::LogStore;
use sha2::{Digest, Sha256};

use crate::chain::{self, Root};
use crate::config::CtConfig;
use crate::sct;

/// A signed tree head, cached per tree size so reads don't sign.
#[derive(Debug, Clone)]
pub struct SignedTreeHead {
    pub tree_size: u64,
    pub timestamp: u64,
    pub root: [u8; 32],
    /// TLS DigitallySigned TreeHeadSignature.
    pub signature: Vec<u8>,
}

pub struct CtLog {
    pub(crate) log: Log,
    pub roots: Vec<Root>,
    /// SHA-256 of the log key's DER SPKI.
    pub log_id: [u8; 32],
    sth: Mutex<Option<Arc<SignedTreeHead>>>,
    /// CA signatures of submitted chains already checked (see chain.rs).
    pub(crate) verified: chain::VerifiedSignatures,
    /// Where chain signatures are checked, off the async workers.
    pub(crate) cpu: CpuPool,
}

/// Milliseconds since the epoch: CT's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl CtLog {
    /// Starts the CT log over `store` (the caller's choice of backend, opened
    /// and locked by it), creating its key under `config.data` on first
    /// start. No per-entry signature at integration: SCTs are signed when
    /// answered, from the stored leaf. Blocking.
    pub fn start(
        store: Arc<dyn LogStore>,
        config: &CtConfig,
        roots: Vec<Root>,
    ) -> Result<Self, LogError> {
        let key = PrivateKey::load_or_create(&config.key_path(), KeyType::EcdsaP256)?;
        let keys = Arc::new(LogKeys::new(&config.hostname(), key, None)?);
        let log = Log::start(store, keys, None, &config.log_options())?;
        log.metrics().watch_disk(&config.data);
        let log_id = Sha256::digest(&log.keys().public_key_der).into();
        Ok(Self {
            log,
            roots,
            log_id,
            sth: Mutex::new(None),
            verified: chain::VerifiedSignatures::default(),
            cpu: CpuPool::new(&config.cpu_pool),
        })
    }

    /// The log key's public half.
    pub fn keys(&self) -> &LogKeys {
        self.log.keys()
    }

    /// Entries in the published tree.
    pub fn tree_size(&self) -> u64 {
        self.log.view().total_size()
    }

    /// The tree head of the published tree, signed once per size. Its
    /// timestamp is taken at signing, after every entry of the tree was
    /// integrated, so it is never older than their SCTs.
    pub fn signed_tree_head(&self) -> Result<Arc<SignedTreeHead>, LogError> {
        let view = self.log.view();
        let checkpoint = &view
            .active()
            .ok_or_else(|| LogError::Setup("the CT log has no tree".into()))?
            .checkpoint;
        let mut cached = self
            .sth
            .lock()
            .map_err(|_| LogError::Setup("the tree head cache is poisoned".into()))?;
        if let Some(sth) = cached.as_ref()
            && sth.tree_size == checkpoint.size
        {
            return Ok(sth.clone());
        }
        // Never older than the last head served.
        let timestamp = now_ms().max(cached.as_ref().map_or(0, |s| s.timestamp));
        let signature = sct::sign_tree_head(
            self.log.keys(),
            timestamp,
            checkpoint.size,
            &checkpoint.root,
        )?;
        let sth = Arc::new(SignedTreeHead {
            tree_size: checkpoint.size,
            timestamp,
            root: checkpoint.root,
            signature,
        });
        *cached = Some(sth.clone());
        Ok(sth)
    }
}

impl AsRef<Log> for CtLog {
    fn as_ref(&self) -> &Log {
        &self.log
    }
}

/// Reads every certificate of a PEM file.
pub fn read_roots(path: &std::path::Path) -> Result<Vec<Root>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    atesto_common::pem::certificates(&text)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_iter()
        .map(|cert| Root::from_der(cert.der).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}
