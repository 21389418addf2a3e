//! Every option of `atesto ca`, from `--config FILE` (YAML). Relative paths
//! resolve against the config file's directory.

use std::path::{Path, PathBuf};

use atesto_common::config::{ConfigError, check_http_limits, load_yaml};
use atesto_common::cpu_pool::CpuPoolConfig;
use atesto_common::serve::ConnectionLimits;
use serde::Deserialize;

use crate::identity::VerifierOptions;
use crate::issuance::SignerConfig;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// Listen address, `HOST:PORT`.
    #[serde(default = "default_addr")]
    pub addr: String,
    /// The issuing CA: its chain and its key (PEM file or PKCS#11 token).
    pub signer: SignerConfig,
    /// Issuer config in Fulcio's own format (JSON or YAML).
    pub issuers: PathBuf,
    /// Token verification: client id (audience), size cap, JWKS cache.
    #[serde(default)]
    pub identity: VerifierOptions,
    /// The RFC 6962 log that SCTs come from.
    pub ct_log: Option<CtLogConfig>,
    /// Issue certificates without an SCT when no CT log is configured.
    /// Clients refuse such certificates; meant for tests of the CA alone.
    #[serde(default)]
    pub issue_without_sct: bool,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Seconds before a request is abandoned (the CT round trip included).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Bounds on key checks and certificate signing running at once and waiting.
    #[serde(default)]
    pub cpu_pool: CpuPoolConfig,
    /// Header timeout, idle timeout and connection cap of the listener.
    #[serde(default)]
    pub connections: ConnectionLimits,
    /// The directory relative paths resolve against (the config file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtLogConfig {
    /// Base URL of the log; `/ct/v1/add-pre-chain` is appended.
    pub url: String,
    /// The log's ECDSA P-256 public key (PEM): every SCT is checked against it.
    pub public_key: PathBuf,
}

fn default_addr() -> String {
    "127.0.0.1:5555".into()
}

/// A signing request is a token, a key and a signature: a few KiB. A CSR
/// with an RSA-4096 key stays under 8 KiB.
fn default_body_limit() -> usize {
    64 << 10
}

fn default_request_timeout() -> u64 {
    30
}

impl CaConfig {
    /// Reads the file and resolves its relative paths against its directory.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let mut config: CaConfig = load_yaml(path)?;
        config.base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(config)
    }

    /// A path from the config, resolved against its directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ct_log.is_none() && !self.issue_without_sct {
            return Err(ConfigError::Invalid(
                "no ct_log configured: clients refuse certificates without an SCT; \
                 configure ct_log, or set issue_without_sct (--issue-without-sct) to issue them anyway"
                    .into(),
            ));
        }
        check_http_limits(self.body_limit, self.request_timeout_secs)?;
        self.connections.validate().map_err(ConfigError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IssuerConfig;

    #[test]
    fn the_documented_examples_parse() {
        let example: CaConfig =
            serde_yaml_ng::from_str(include_str!("../../deploy/ca.example.yaml")).unwrap();
        example.validate().unwrap();
        assert_eq!(example.body_limit, default_body_limit());
        assert_eq!(example.request_timeout_secs, default_request_timeout());
        assert_eq!(example.addr, "0.0.0.0:5555");
        assert_eq!(example.cpu_pool, CpuPoolConfig::default());
        assert_eq!(example.connections, ConnectionLimits::default());
        IssuerConfig::from_str(include_str!("../../deploy/issuers.example.yaml")).unwrap();
        assert!(serde_yaml_ng::from_str::<CaConfig>("bogus: 1\n").is_err());
    }

    #[test]
    fn a_ct_log_is_required_unless_waived() {
        let mut config: CaConfig =
            serde_yaml_ng::from_str("signer: {chain: c.pem, key: k.pem}\nissuers: i.yaml\n")
                .unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("no ct_log configured"), "{err}");
        config.issue_without_sct = true;
        config.validate().unwrap();
    }
}
