//! The options of the Rekor v2 log: the `rekor_v2:` section of
//! `atesto tlog`'s config file.

use std::path::PathBuf;

pub use atesto_common::config::ConfigError;
use atesto_common::cpu_pool::CpuPoolConfig;
use atesto_common::keys::KeyType;
use atesto_common::serve::ConnectionLimits;
use atesto_tlog_engine::config::{
    BatchConfig, LogOptions, OriginStyle, ReplicaConfig, ShardConfig, configured_hostname,
};
use atesto_tlog_engine::store::postgres::valid_schema_name;
use serde::{Deserialize, Serialize};

/// The checkpoint key types a v2 log may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointKeyType {
    /// What sigstore's public Rekor v2 instances use, and witnesses need.
    #[default]
    Ed25519,
    EcdsaP256,
}

impl From<CheckpointKeyType> for KeyType {
    fn from(key_type: CheckpointKeyType) -> Self {
        match key_type {
            CheckpointKeyType::Ed25519 => KeyType::Ed25519,
            CheckpointKeyType::EcdsaP256 => KeyType::EcdsaP256,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RekorV2Config {
    /// Directory of its store and generated key [default: `rekor-v2` under
    /// the Rekor v1 log's `data`].
    pub data: Option<PathBuf>,
    /// Listen address, `HOST:PORT`: its own, as the tiles are served at the
    /// root of the URL clients are given.
    pub addr: String,
    /// PKCS#8 PEM checkpoint key (Ed25519 or ECDSA P-256); made under
    /// `data` on the first start when absent, of type `key_type`.
    pub key: Option<PathBuf>,
    pub key_type: CheckpointKeyType,
    /// The checkpoint origin and signer name. Clients check it against the
    /// host of the log's URL, so it must be that host name [default: the
    /// host of `addr`].
    pub hostname: Option<String>,
    pub batch: BatchConfig,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Seconds before a request is abandoned.
    pub request_timeout_secs: u64,
    /// Page cache of the embedded store, in MiB.
    pub cache_mb: usize,
    /// With the v1 log's `database`: the PostgreSQL schema of this log's
    /// tables (its store goes there instead of under `data`).
    pub database_schema: String,
    /// Replicas on that database: where they forward this log's writes.
    pub replicas: ReplicaConfig,
    /// Bounds on signature verification running at once and waiting.
    pub cpu_pool: CpuPoolConfig,
    pub connections: ConnectionLimits,
}

impl Default for RekorV2Config {
    fn default() -> Self {
        Self {
            data: None,
            addr: "127.0.0.1:3002".into(),
            key: None,
            key_type: CheckpointKeyType::default(),
            hostname: None,
            batch: BatchConfig::default(),
            // A certificate, a signature and a digest, base64 in JSON.
            body_limit: 128 << 10,
            request_timeout_secs: 30,
            cache_mb: 64,
            database_schema: "rekor_v2".into(),
            replicas: ReplicaConfig::default(),
            cpu_pool: CpuPoolConfig::default(),
            connections: ConnectionLimits::default(),
        }
    }
}

impl RekorV2Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("rekor_v2: {m}")));
        self.batch.check().or_else(invalid)?;
        if self.body_limit < 1024 {
            return invalid("body_limit below 1 KiB cannot hold an entry");
        }
        self.connections.validate().map_err(ConfigError::Invalid)?;
        self.replicas.check().or_else(invalid)?;
        if !valid_schema_name(&self.database_schema) {
            return invalid(
                "database_schema must be lower-case letters, digits and '_', not starting with a digit",
            );
        }
        let name = self.hostname();
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
            return invalid("hostname must be non-empty, without spaces or '+'");
        }
        Ok(())
    }

    /// The directory of the store and the generated key.
    pub fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(|| PathBuf::from("atesto-data/rekor-v2"))
    }

    /// The engine's options: one tree named by the hostname alone.
    pub fn log_options(&self) -> LogOptions {
        LogOptions {
            hostname: self.hostname(),
            origin: OriginStyle::Hostname,
            tree_id: None,
            batch: self.batch.clone(),
            shards: ShardConfig::default(),
            replica: self.replicas.options(&self.addr),
        }
    }

    /// Configured, else the host of `addr` (loopback for a wildcard address).
    pub fn hostname(&self) -> String {
        configured_hostname(self.hostname.as_deref(), &self.addr)
    }

    pub fn key_path(&self) -> PathBuf {
        self.key
            .clone()
            .unwrap_or_else(|| self.data_dir().join("checkpoint-key.pem"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_holds_every_option_and_rejects_unknown_ones() {
        let yaml = "data: /tmp/v2\naddr: 0.0.0.0:8081\nkey: /k.pem\nkey_type: ecdsa-p256\n\
                    hostname: log2026.example\nbatch: {max_size: 10, max_age_ms: 5, pool_size: 100}\n\
                    body_limit: 65536\nrequest_timeout_secs: 5\ncache_mb: 16\n\
                    cpu_pool: {workers: 3, queue: 7}\ndatabase_schema: v2_log\n\
                    replicas: {lease_ms: 2000, advertise_url: http://v2.example:8081}\n";
        let config: RekorV2Config = serde_yaml_ng::from_str(yaml).unwrap();
        config.validate().unwrap();
        assert_eq!(config.key_type, CheckpointKeyType::EcdsaP256);
        assert_eq!(config.hostname(), "log2026.example");
        assert_eq!(config.log_options().origin, OriginStyle::Hostname);
        assert_eq!(config.database_schema, "v2_log");
        assert_eq!(
            config.log_options().replica.advertise_url,
            "http://v2.example:8081"
        );
        assert!(serde_yaml_ng::from_str::<RekorV2Config>("key_type: rsa\n").is_err());
        assert!(serde_yaml_ng::from_str::<RekorV2Config>("bogus: 1\n").is_err());
        let defaults = RekorV2Config::default();
        assert_eq!(defaults.key_type, CheckpointKeyType::Ed25519);
        assert_eq!(defaults.hostname(), "127.0.0.1");
        let spaced = RekorV2Config {
            hostname: Some("two words".into()),
            ..RekorV2Config::default()
        };
        assert!(spaced.validate().is_err());
        assert_eq!(defaults.database_schema, "rekor_v2");
        let bad_schema = RekorV2Config {
            database_schema: "Two-Words".into(),
            ..RekorV2Config::default()
        };
        assert!(bad_schema.validate().is_err());
    }
}
