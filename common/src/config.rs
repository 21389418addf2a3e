//! Reading a service's YAML config file; each service validates its own fields.

use std::path::Path;

use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path}: {source}")]
    Parse {
        path: String,
        source: serde_yaml_ng::Error,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// Parses a YAML file (JSON is YAML too) into a config struct.
pub fn load_yaml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_yaml_ng::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.display().to_string(),
        source,
    })
}

/// The HTTP limits every service's config carries: room for a request, and time for it.
pub fn check_http_limits(body_limit: usize, request_timeout_secs: u64) -> Result<(), ConfigError> {
    if body_limit < 1024 {
        return Err(ConfigError::Invalid(
            "body_limit must be at least 1024".into(),
        ));
    }
    if request_timeout_secs == 0 {
        return Err(ConfigError::Invalid(
            "request_timeout_secs must be positive".into(),
        ));
    }
    Ok(())
}
