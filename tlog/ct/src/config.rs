//! Every option of `atesto ct`, from `--config FILE` (YAML) and flags.

use std::path::PathBuf;

use atesto_common::config::load_yaml;
use atesto_common::serve::ConnectionLimits;
use serde::{Deserialize, Serialize};

use crate::config::{BatchConfig, ConfigError, CpuPoolConfig, TlogConfig};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CtConfig {
    /// Directory of the CT log's own store and generated key.
    pub data: PathBuf,
    /// Listen address, `HOST:PORT`.
    pub addr: String,
    /// ECDSA P-256 PKCS#8 PEM signing SCTs and tree heads; created under
    /// `data` on first start when absent.
    pub key: Option<PathBuf>,
    /// PEM files of the roots that submitted chains must end in.
    pub roots: Vec<PathBuf>,
    pub batch: BatchConfig,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Seconds before a request is abandoned.
    pub request_timeout_secs: u64,
    /// Page cache of the embedded store, in MiB.
    pub cache_mb: usize,
    /// Bounds on chain verification running at once and waiting.
    pub cpu_pool: CpuPoolConfig,
    /// Header timeout, idle timeout and connection cap of the listener.
    pub connections: ConnectionLimits,
}

impl Default for CtConfig {
    fn default() -> Self {
        let log = TlogConfig::default();
        Self {
            data: PathBuf::from("atesto-ct-data"),
            addr: "127.0.0.1:3001".into(),
            key: None,
            roots: Vec::new(),
            batch: log.batch,
            // Chains are a few KiB; 1 MiB leaves room without inviting abuse.
            body_limit: 1 << 20,
            request_timeout_secs: log.request_timeout_secs,
            cache_mb: log.cache_mb,
            cpu_pool: log.cpu_pool,
            connections: log.connections,
        }
    }
}

impl CtConfig {
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        load_yaml(path)
    }

    /// The log engine's options: no Rekor SETs, one shard.
    pub fn log_config(&self) -> TlogConfig {
        TlogConfig {
            data: self.data.clone(),
            addr: self.addr.clone(),
            key: self.key.clone(),
            batch: self.batch.clone(),
            body_limit: self.body_limit,
            request_timeout_secs: self.request_timeout_secs,
            cache_mb: self.cache_mb,
            cpu_pool: self.cpu_pool.clone(),
            connections: self.connections,
            sign_entry_timestamps: false,
            ..TlogConfig::default()
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.roots.is_empty() {
            return Err(ConfigError::Invalid(
                "the CT log needs at least one root: --roots PEMFILE or roots in the config".into(),
            ));
        }
        // TLS vectors in CT entries hold at most 2^24-1 bytes.
        if self.body_limit >= 1 << 24 {
            return Err(ConfigError::Invalid(
                "body_limit must be below 16 MiB".into(),
            ));
        }
        self.log_config().validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses_and_turns_sets_off() {
        let example: CtConfig =
            serde_yaml_ng::from_str(include_str!("../../../deploy/ct.example.yaml")).unwrap();
        example.validate().unwrap();
        let defaults = CtConfig::default();
        assert_eq!(example.body_limit, defaults.body_limit);
        assert_eq!(example.batch.max_size, defaults.batch.max_size);
        assert_eq!(example.connections, defaults.connections);
        assert!(!example.log_config().sign_entry_timestamps);
        assert!(TlogConfig::default().sign_entry_timestamps);
        assert!(serde_yaml_ng::from_str::<CtConfig>("bogus: 1\n").is_err());
    }

    #[test]
    fn roots_are_required() {
        let err = CtConfig::default().validate().unwrap_err();
        assert!(err.to_string().contains("root"), "{err}");
    }
}
