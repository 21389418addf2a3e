//! Every option of `atesto tsa`, from `--config FILE` (YAML). Relative paths
//! resolve against the config file's directory.

use crate::oid::parse_oid;
use std::path::{Path, PathBuf};

use atesto_ca::issuance::SignerConfig;
use atesto_common::config::{ConfigError, check_http_limits, load_yaml};
use atesto_common::cpu_pool::CpuPoolConfig;
use atesto_common::serve::ConnectionLimits;
use der::asn1::ObjectIdentifier;
use serde::Deserialize;

/// Sigstore's timestamping policy, the default of sigstore's timestamp-authority.
pub const SIGSTORE_POLICY_OID: &str = "1.3.6.1.4.1.57264.2";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsaConfig {
    /// Listen address, `HOST:PORT`.
    #[serde(default = "default_addr")]
    pub addr: String,
    /// The TSA certificate chain (leaf first, root last) and its key: a
    /// PKCS#8 file or a PKCS#11 token, as the CA's `signer`.
    pub signer: SignerConfig,
    /// The policy written into every timestamp, and the one a request may name.
    #[serde(default = "default_policy")]
    pub policy_oid: String,
    /// Further policies a request may name; each timestamp carries the one asked for.
    #[serde(default)]
    pub accepted_policies: Vec<String>,
    /// The `accuracy` of genTime, in seconds (the clock's worst error).
    #[serde(default = "default_accuracy")]
    pub accuracy_secs: u64,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Seconds before a request is abandoned.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Bounds on signatures running at once and waiting.
    #[serde(default)]
    pub cpu_pool: CpuPoolConfig,
    /// Header timeout, idle timeout and connection cap of the listener.
    #[serde(default)]
    pub connections: ConnectionLimits,
    /// The directory relative paths resolve against (the config file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_addr() -> String {
    "127.0.0.1:5557".into()
}

fn default_policy() -> String {
    SIGSTORE_POLICY_OID.into()
}

fn default_accuracy() -> u64 {
    1
}

/// A request is a digest, a nonce and a few flags: well under 1 KiB; 8 KiB
/// leaves room for request extensions without inviting large bodies.
fn default_body_limit() -> usize {
    8 << 10
}

fn default_request_timeout() -> u64 {
    10
}

impl TsaConfig {
    /// A config with every default, signing with `signer`.
    pub fn new(signer: SignerConfig) -> Self {
        Self {
            addr: default_addr(),
            signer,
            policy_oid: default_policy(),
            accepted_policies: Vec::new(),
            accuracy_secs: default_accuracy(),
            body_limit: default_body_limit(),
            request_timeout_secs: default_request_timeout(),
            cpu_pool: CpuPoolConfig::default(),
            connections: ConnectionLimits::default(),
            base_dir: PathBuf::new(),
        }
    }

    /// Reads the file and resolves its relative paths against its directory.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let mut config: TsaConfig = load_yaml(path)?;
        config.base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(config)
    }

    /// The default policy first, then the accepted ones.
    pub fn policies(&self) -> Result<Vec<ObjectIdentifier>, ConfigError> {
        std::iter::once(&self.policy_oid)
            .chain(&self.accepted_policies)
            .map(|oid| {
                parse_oid(oid)
                    .map_err(|e| ConfigError::Invalid(format!("policy {oid:?} is not an OID: {e}")))
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policies()?;
        check_http_limits(self.body_limit, self.request_timeout_secs)?;
        self.connections.validate().map_err(ConfigError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let example: TsaConfig =
            serde_yaml_ng::from_str(include_str!("../../deploy/tsa.example.yaml")).unwrap();
        example.validate().unwrap();
        assert_eq!(example.addr, "0.0.0.0:5557");
        assert_eq!(example.policy_oid, SIGSTORE_POLICY_OID);
        assert_eq!(example.policies().unwrap().len(), 2);
        assert_eq!(example.signer.chain, PathBuf::from("tsa/chain.pem"));
    }

    #[test]
    fn a_policy_that_is_not_an_oid_is_refused() {
        let mut config = TsaConfig::new(SignerConfig {
            chain: "chain.pem".into(),
            key: Some("key.pem".into()),
            key_password_env: None,
            pkcs11: None,
        });
        config.validate().unwrap();
        config.accepted_policies = vec!["sigstore".into()];
        assert!(config.validate().is_err());
    }
}
