//! Why a benchmark could not run or finish.

use atesto_rekor_v1::config::ConfigError;
use atesto_rekor_v1::entry::EntryError;
use atesto_tlog_engine::log::LogError;
use atesto_tlog_engine::sequencer::SubmitError;
use reqwest::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Args(String),
    #[error("cryptography failed: {0}")]
    Crypto(&'static str),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("connecting to the server: {0}")]
    Connect(String),
    #[error("the log answered {status} to {what}")]
    Server {
        what: &'static str,
        status: StatusCode,
    },
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("preparing an entry: {0}")]
    Entry(#[from] EntryError),
    #[error("submitting an entry: {0}")]
    Submit(#[from] SubmitError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(String),
    #[error("a worker thread panicked")]
    Worker,
    #[error("the sequencer did not release the store; it will be repaired on its next open")]
    Close,
}

impl From<tokio::task::JoinError> for BenchError {
    fn from(_: tokio::task::JoinError) -> Self {
        BenchError::Worker
    }
}
