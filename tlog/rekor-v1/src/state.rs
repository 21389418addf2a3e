//! What the Rekor v1 handlers share, and how the log starts.

use std::sync::Arc;

use atesto_common::cpu_pool::CpuPool;
use atesto_common::keys::{KeyType, PrivateKey};
use atesto_tlog_engine::checkpoint::LogKeys;
use atesto_tlog_engine::log::{Log, LogError};
use atesto_tlog_engine::store::LogStore;
use atesto_tlog_http::LogState;

use crate::config::TlogConfig;
use crate::set::SetSigner;

/// Starts the log over `store` (the caller's choice of backend, opened and
/// locked by it): loads or creates the key under `config.data`, and has
/// every entry's SET signed at integration. Blocking.
pub fn start(store: Arc<dyn LogStore>, config: &TlogConfig) -> Result<Log, LogError> {
    let key = PrivateKey::load_or_create(&config.key_path(), KeyType::EcdsaP256)?;
    let witness = config
        .witness_key
        .as_deref()
        .map(PrivateKey::load)
        .transpose()?;
    let keys = Arc::new(LogKeys::new(&config.hostname(), key, witness)?);
    let sets = Arc::new(SetSigner::new(keys.clone()));
    let log = Log::start(store, keys, Some(sets), &config.log_options())?;
    log.metrics().watch_disk(&config.data);
    Ok(log)
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub log: Arc<Log>,
    /// Where handlers verify signatures, off the async workers.
    pub cpu: CpuPool,
    /// Bearer token of the admin endpoints.
    pub admin_token: Arc<str>,
}

impl AppState {
    /// Also starts the re-index of entries written before the key
    /// fingerprint index (`crate::reindex`), off the request path.
    pub fn new(log: Log, config: &TlogConfig, admin_token: &str) -> Self {
        let log = Arc::new(log);
        crate::reindex::spawn(log.clone());
        Self {
            log,
            cpu: CpuPool::new(&config.cpu_pool),
            admin_token: admin_token.into(),
        }
    }
}

impl LogState for AppState {
    fn log(&self) -> &Log {
        &self.log
    }
}
