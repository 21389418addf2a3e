//! Assembling a running CA from its config: load and self-check the signing
//! chain, parse the issuers, connect the CT log client.

use std::time::Duration;

use atesto_common::config::ConfigError;
use atesto_common::cpu_pool::CpuPool;
use std::sync::Arc;

use crate::api::CaState;
use crate::config::CaConfig;
use crate::ct_client::{CtClientError, CtLogClient};
use crate::identity::{IdentityConfigError, IdentityVerifier, IssuerConfig};
use crate::issuance::{CertificateIssuer, IssuanceError};
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("issuers: {0}")]
    Issuers(#[from] IdentityConfigError),
    #[error("signing chain: {0}")]
    Signer(#[from] IssuanceError),
    #[error("CT log: {0}")]
    CtLog(#[from] CtClientError),
    #[error("reading the CT log public key {path}: {source}")]
    CtKey {
        path: String,
        source: std::io::Error,
    },
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Builds the shared state; blocking (files, PKCS#11), call it off the async workers.
pub fn open(config: &CaConfig) -> Result<CaState, StartError> {
    let issuers = IssuerConfig::load(&config.resolve(&config.issuers))?;
    open_with_issuers(config, issuers)
}

/// As `open`, with issuers built by the caller (`atesto dev`) rather than read
/// from `config.issuers`.
pub fn open_with_issuers(config: &CaConfig, issuers: IssuerConfig) -> Result<CaState, StartError> {
    config.validate()?;
    let issuer = CertificateIssuer::load(&config.signer, &config.base_dir)?;
    let identity = IdentityVerifier::new(issuers, config.identity.clone())?;
    let ct_log = match &config.ct_log {
        Some(ct) => {
            let path = config.resolve(&ct.public_key);
            let public_key =
                std::fs::read_to_string(&path).map_err(|source| StartError::CtKey {
                    path: path.display().to_string(),
                    source,
                })?;
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(config.request_timeout_secs))
                .build()?;
            Some(CtLogClient::new(&ct.url, &public_key, http)?)
        }
        None => {
            tracing::warn!(
                "no CT log configured: issuing certificates WITHOUT SCTs, which sigstore clients refuse"
            );
            None
        }
    };
    Ok(CaState {
        identity,
        issuer: Arc::new(issuer),
        ct_log,
        metrics: Arc::new(Metrics::new()?),
        cpu: CpuPool::new(&config.cpu_pool),
    })
}
