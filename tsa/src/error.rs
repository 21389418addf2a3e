//! Why a timestamp request or the TSA's set-up failed.

use atesto_ca::issuance::IssuanceError;
use atesto_common::config::ConfigError;
use atesto_common::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    /// The client's fault: a 400 with this message.
    #[error("{0}")]
    BadRequest(String),
    #[error("TSA chain certificate chain[{index}] (0 = the TSA certificate): {problem}")]
    Chain { index: usize, problem: String },
    #[error("TSA chain: {0}")]
    ChainFile(String),
    #[error("TSA key: {0}")]
    Signer(#[from] IssuanceError),
    #[error("the TSA key does not match the TSA certificate (chain[0])")]
    KeyDoesNotMatchCertificate,
    #[error("start-up self-check: {0}")]
    SelfCheck(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Internal(String),
}

impl From<TsaError> for ApiError {
    fn from(error: TsaError) -> Self {
        match error {
            TsaError::BadRequest(message) => ApiError::bad_request(message),
            other => {
                tracing::error!(error = %other, "timestamping failed");
                ApiError::internal()
            }
        }
    }
}
