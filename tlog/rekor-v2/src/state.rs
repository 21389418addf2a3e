//! What the Rekor v2 handlers share, and how the log starts.

use std::sync::Arc;

use atesto_common::cpu_pool::CpuPool;
use atesto_common::keys::PrivateKey;
use atesto_tlog_engine::checkpoint::LogKeys;
use atesto_tlog_engine::log::{Log, LogError};
use atesto_tlog_engine::store::LogStore;

use crate::config::RekorV2Config;

/// A running Rekor v2 log: the router's state, behind an `Arc`.
pub struct RekorV2 {
    pub log: Log,
    /// Where handlers verify signatures, off the async workers.
    pub cpu: CpuPool,
    /// `logId.keyId` of every answer: the checkpoint key's hash.
    pub log_id: [u8; 32],
}

impl AsRef<Log> for RekorV2 {
    fn as_ref(&self) -> &Log {
        &self.log
    }
}

/// Starts the log over `store` (the caller's backend, opened and locked by
/// it), with the checkpoint key of `config` (made under `config.data` on
/// the first start). Blocking.
pub fn start(store: Arc<dyn LogStore>, config: &RekorV2Config) -> Result<Arc<RekorV2>, LogError> {
    let key = PrivateKey::load_or_create(&config.key_path(), config.key_type.into())?;
    let keys = Arc::new(LogKeys::checkpoints_only(&config.hostname(), key));
    let log_id = keys.checkpoint_key_hash();
    let log = Log::start(store, keys, None, &config.log_options())?;
    log.metrics().watch_disk(&config.data_dir());
    Ok(Arc::new(RekorV2 {
        log,
        cpu: CpuPool::new(&config.cpu_pool),
        log_id,
    }))
}
