//! Every option of `atesto ct`, from `--config FILE` (YAML) and flags.

use std::path::PathBuf;

pub use atesto_common::config::ConfigError;
use atesto_common::config::load_yaml;
pub use atesto_common::cpu_pool::CpuPoolConfig;
use atesto_common::serve::ConnectionLimits;
use atesto_tlog_engine::config::{
    BatchConfig, LogOptions, OriginStyle, ReplicaConfig, ShardConfig, hostname_of,
};
use atesto_tlog_engine::store::postgres::valid_schema_name;
use serde::{Deserialize, Serialize};

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
    /// PostgreSQL URL (`postgres://user@host:port/db`, libpq's parameters
    /// and `PG*` variables) of a scale-out log: the store goes there
    /// instead of under `data`.
    pub database: Option<String>,
    /// The PostgreSQL schema holding this log's tables: logs sharing a
    /// database each take their own.
    pub database_schema: String,
    /// Replicas on the shared database: the lease and the advertised URL.
    pub replicas: ReplicaConfig,
    /// Bounds on chain verification running at once and waiting.
    pub cpu_pool: CpuPoolConfig,
    /// Header timeout, idle timeout and connection cap of the listener.
    pub connections: ConnectionLimits,
    /// Bucket the C2SP read API is published to, off the write path:
    /// `s3://BUCKET[/PREFIX]` (`AWS_*` variables), `gs://BUCKET[/PREFIX]`
    /// or `file:///DIR`.
    pub object_store: Option<String>,
}

impl Default for CtConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::from("atesto-ct-data"),
            addr: "127.0.0.1:3001".into(),
            key: None,
            roots: Vec::new(),
            batch: BatchConfig::default(),
            // Chains are a few KiB; 1 MiB leaves room without inviting abuse.
            body_limit: 1 << 20,
            request_timeout_secs: 30,
            cache_mb: 64,
            database: None,
            database_schema: "ct".into(),
            replicas: ReplicaConfig::default(),
            cpu_pool: CpuPoolConfig::default(),
            connections: ConnectionLimits::default(),
            object_store: None,
        }
    }
}

impl CtConfig {
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        load_yaml(path)
    }

    /// The log engine's options: one shard, never rotated.
    pub fn log_options(&self) -> LogOptions {
        LogOptions {
            hostname: self.hostname(),
            origin: OriginStyle::HostnameAndTreeId,
            tree_id: None,
            batch: self.batch.clone(),
            shards: ShardConfig::default(),
            replica: self.replicas.options(&self.addr),
        }
    }

    /// The name in checkpoint origins: the host of `addr`.
    pub fn hostname(&self) -> String {
        hostname_of(&self.addr)
    }

    pub fn key_path(&self) -> PathBuf {
        self.key
            .clone()
            .unwrap_or_else(|| self.data.join("log-key.pem"))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.roots.is_empty() {
            return Err(ConfigError::Invalid(
                "the CT log needs at least one root: --roots PEMFILE or roots in the config".into(),
            ));
        }
        let invalid = |m: &str| Err(ConfigError::Invalid(m.into()));
        // TLS vectors in CT entries hold at most 2^24-1 bytes.
        if self.body_limit >= 1 << 24 {
            return invalid("body_limit must be below 16 MiB");
        }
        if self.body_limit < 1024 {
            return invalid("body_limit below 1 KiB cannot hold an entry");
        }
        self.batch.check().or_else(invalid)?;
        self.replicas.check().or_else(invalid)?;
        if !valid_schema_name(&self.database_schema) {
            return invalid(
                "database_schema must be lower-case letters, digits and '_', not starting with a digit",
            );
        }
        self.connections.validate().map_err(ConfigError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let example: CtConfig =
            serde_yaml_ng::from_str(include_str!("../../../deploy/ct.example.yaml")).unwrap();
        example.validate().unwrap();
        let defaults = CtConfig::default();
        assert_eq!(example.body_limit, defaults.body_limit);
        assert_eq!(example.batch.max_size, defaults.batch.max_size);
        assert_eq!(example.connections, defaults.connections);
        assert!(serde_yaml_ng::from_str::<CtConfig>("bogus: 1\n").is_err());
    }

    #[test]
    fn roots_are_required() {
        let err = CtConfig::default().validate().unwrap_err();
        assert!(err.to_string().contains("root"), "{err}");
    }
}
