//! The error of a check that could not reach a verdict (see the crate docs:
//! an error is a reason to try again, an alert is evidence).

use crate::state::StateError;

/// Why a check could not reach a verdict.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("requesting {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("malformed reply from {url}: {reason}")]
    Malformed { url: String, reason: String },
    #[error(transparent)]
    State(#[from] StateError),
}
