//! Every option of `atesto tlog`, as read from `--config FILE` (YAML) and
//! overridden by command-line flags.

use std::path::PathBuf;

pub use atesto_common::config::ConfigError;
use atesto_common::config::load_yaml;
pub use atesto_common::cpu_pool::CpuPoolConfig;
use atesto_common::serve::ConnectionLimits;
pub use atesto_tlog_engine::config::{BatchConfig, ReplicaConfig, ShardConfig};
use atesto_tlog_engine::config::{LogOptions, OriginStyle, configured_hostname};
use atesto_tlog_engine::store::postgres::valid_schema_name;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlogConfig {
    /// Directory holding the store, the generated key and the admin token.
    pub data: PathBuf,
    /// Listen address, `HOST:PORT`.
    pub addr: String,
    /// ECDSA P-256 PKCS#8 PEM signing checkpoints and SETs; created under
    /// `data` on first start when absent.
    pub key: Option<PathBuf>,
    /// Optional Ed25519 PKCS#8 PEM adding a witness-friendly checkpoint signature.
    pub witness_key: Option<PathBuf>,
    /// Name in checkpoint origins and signature lines. Clients look for it in
    /// the log's base URL, so it should be the host name clients use.
    pub hostname: Option<String>,
    /// Tree id of the first shard; random when absent.
    pub tree_id: Option<u64>,
    pub batch: BatchConfig,
    pub shards: ShardConfig,
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
    /// Bounds on signature verification running at once and waiting.
    pub cpu_pool: CpuPoolConfig,
    /// Header timeout, idle timeout and connection cap of the listener.
    pub connections: ConnectionLimits,
    /// Bucket the C2SP read API is published to, off the write path:
    /// `s3://BUCKET[/PREFIX]` (`AWS_*` variables), `gs://BUCKET[/PREFIX]`
    /// or `file:///DIR`.
    pub object_store: Option<String>,
    /// The Rekor v2 log served beside this one (its own tree, key and
    /// listener): `atesto tlog` reads this section as the v2 personality's
    /// options, which this crate does not know.
    pub rekor_v2: Option<serde_yaml_ng::Value>,
}

impl Default for TlogConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::from("atesto-data"),
            addr: "127.0.0.1:3000".into(),
            key: None,
            witness_key: None,
            hostname: None,
            tree_id: None,
            batch: BatchConfig::default(),
            shards: ShardConfig::default(),
            body_limit: 4 << 20,
            request_timeout_secs: 30,
            cache_mb: 64,
            database: None,
            database_schema: "tlog".into(),
            replicas: ReplicaConfig::default(),
            cpu_pool: CpuPoolConfig::default(),
            connections: ConnectionLimits::default(),
            object_store: None,
            rekor_v2: None,
        }
    }
}

impl TlogConfig {
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        load_yaml(path)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.into()));
        self.batch.check().or_else(invalid)?;
        if self.body_limit < 1024 {
            return invalid("body_limit below 1 KiB cannot hold an entry");
        }
        self.replicas.check().or_else(invalid)?;
        if !valid_schema_name(&self.database_schema) {
            return invalid(
                "database_schema must be lower-case letters, digits and '_', not starting with a digit",
            );
        }
        self.connections.validate().map_err(ConfigError::Invalid)?;
        if matches!(self.tree_id, Some(0)) || self.tree_id.is_some_and(|t| t > i64::MAX as u64) {
            return invalid("tree_id must be between 1 and 2^63-1");
        }
        if let Some(name) = &self.hostname
            && (name.is_empty() || name.contains(char::is_whitespace) || name.contains('+'))
        {
            return invalid("hostname must be non-empty, without spaces or '+'");
        }
        Ok(())
    }

    /// The engine's options.
    pub fn log_options(&self) -> LogOptions {
        LogOptions {
            hostname: self.hostname(),
            origin: OriginStyle::HostnameAndTreeId,
            tree_id: self.tree_id,
            batch: self.batch.clone(),
            shards: self.shards.clone(),
            replica: self.replicas.options(&self.addr),
        }
    }

    /// The name clients see: configured, else the host of `addr` (loopback
    /// for a wildcard address).
    pub fn hostname(&self) -> String {
        configured_hostname(self.hostname.as_deref(), &self.addr)
    }

    pub fn key_path(&self) -> PathBuf {
        self.key
            .clone()
            .unwrap_or_else(|| self.data.join("log-key.pem"))
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data.join("admin.token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_holds_every_option_and_rejects_unknown_ones() {
        let yaml = "data: /tmp/x\naddr: 0.0.0.0:8080\nhostname: log.example\ntree_id: 42\n\
                    batch: {max_size: 10, max_age_ms: 5, pool_size: 100}\n\
                    shards: {rotate_at_size: 1000}\nbody_limit: 65536\ncache_mb: 16\n\
                    key: /k.pem\nwitness_key: /w.pem\nrequest_timeout_secs: 5\n\
                    cpu_pool: {workers: 3, queue: 7}\n";
        let config: TlogConfig = serde_yaml_ng::from_str(yaml).unwrap();
        config.validate().unwrap();
        assert_eq!(config.batch.max_size, 10);
        assert_eq!(config.shards.rotate_at_size, Some(1000));
        assert_eq!(config.cpu_pool.resolved_workers(), 3);
        assert_eq!(config.cpu_pool.queue, 7);
        assert_eq!(config.hostname(), "log.example");
        assert!(serde_yaml_ng::from_str::<TlogConfig>("bogus: 1\n").is_err());
    }

    #[test]
    fn the_documented_example_parses() {
        let example: TlogConfig =
            serde_yaml_ng::from_str(include_str!("../../../deploy/tlog.example.yaml")).unwrap();
        example.validate().unwrap();
        let defaults = TlogConfig::default();
        assert_eq!(example.batch.max_size, defaults.batch.max_size);
        assert_eq!(example.batch.max_age_ms, defaults.batch.max_age_ms);
        assert_eq!(example.body_limit, defaults.body_limit);
        assert_eq!(example.cpu_pool, defaults.cpu_pool);
        assert_eq!(example.connections, defaults.connections);
    }

    #[test]
    fn hostname_defaults_to_the_listen_host() {
        let mut config = TlogConfig {
            addr: "127.0.0.1:5556".into(),
            ..TlogConfig::default()
        };
        assert_eq!(config.hostname(), "127.0.0.1");
        config.addr = "0.0.0.0:1".into();
        assert_eq!(config.hostname(), "localhost");
    }
}
