//! Where the CA key and chain are, and reading the secrets (key password,
//! token PIN) from the environment variables the configuration names.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::IssuanceError;

/// Where the CA key and chain are. Exactly one of `key` and `pkcs11`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// PEM certificates: the issuing CA first, the root last.
    pub chain: PathBuf,
    /// PKCS#8 PEM private key of the issuing CA, optionally ENCRYPTED PRIVATE KEY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Environment variable holding the password of an encrypted `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs11: Option<Pkcs11Config>,
}

/// A CA key on a PKCS#11 token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library).
    pub module: PathBuf,
    pub token_label: String,
    /// Environment variable holding the user PIN.
    pub pin_env: String,
    /// CKA_LABEL of the private key and of its public key object.
    pub key_label: String,
}

/// Reads a secret from the environment, refusing an unset or empty variable.
pub(crate) fn password_from_env(env: &str) -> Result<String, IssuanceError> {
    match std::env::var(env) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(IssuanceError::MissingSecret(env.to_string())),
    }
}
