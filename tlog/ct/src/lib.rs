//! The RFC 6962 Certificate Transparency log the CA submits precertificates
//! to, on the same engine as the transparency log (sequencer, store, tiles).
//!
//! - `leaf`: `extra_data` encodings (the MerkleTreeLeaf is `atesto_common::ct`).
//! - `chain`: chain checks (cutting the poison is `atesto_common::ct`).
//! - `sct`: SCT and tree head signatures.
//! - `config`: `atesto ct` options.
//! - `api`: the `/ct/v1/` endpoints.
//!
//! The leaf (the engine's entry body) is the MerkleTreeLeaf; the chain is the
//! entry's extra data, outside the hash. Rekor SETs are off. Resubmissions
//! are found by the entry without its timestamp (a search-index key) and get
//! an SCT for the stored entry.

pub mod api;
pub mod chain;
pub mod config;
pub mod leaf;
pub mod sct;

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::log::{Log, LogError};
use chain::Root;
use config::CtConfig;

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
    pub log: Log,
    pub roots: Vec<Root>,
    /// SHA-256 of the log key's DER SPKI.
    pub log_id: [u8; 32],
    sth: Mutex<Option<Arc<SignedTreeHead>>>,
    /// CA signatures of submitted chains already checked (see chain.rs).
    pub verified: chain::VerifiedSignatures,
}

/// Milliseconds since the epoch: CT's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl CtLog {
    /// Opens the log under `config.data` (creating it and its key on first start). Blocking.
    pub fn open(config: &CtConfig, roots: Vec<Root>) -> Result<Self, LogError> {
        let log = Log::open(&config.log_config())?;
        let log_id = Sha256::digest(&log.keys.public_key_der).into();
        Ok(Self {
            log,
            roots,
            log_id,
            sth: Mutex::new(None),
            verified: chain::VerifiedSignatures::default(),
        })
    }

    /// The tree head of the published tree, signed once per size. Its
    /// timestamp is taken at signing, after every entry of the tree was
    /// integrated, so it is never older than their SCTs.
    pub fn signed_tree_head(&self) -> Result<Arc<SignedTreeHead>, LogError> {
        let view = self.log.view.load_full();
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
        let signature =
            sct::sign_tree_head(&self.log.keys, timestamp, checkpoint.size, &checkpoint.root)?;
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

/// Reads every certificate of a PEM file.
pub fn read_roots(path: &std::path::Path) -> Result<Vec<Root>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    atesto_common::pem::certificates(&text)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_iter()
        .map(|cert| Root::from_der(cert.der).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}
