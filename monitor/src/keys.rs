//! The keys a monitor trusts to sign tree heads, found by their 4-byte hint
//! (checkpoints) or 32-byte log ID (CT), both cut from SHA-256(DER SPKI).

use std::path::Path;

use atesto_common::keys::KeyType;
use atesto_common::note::key_hash;
use atesto_common::pubkey::{HashAlgorithm, KeyAlgorithm, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// One trusted key and the identifiers signatures name it by.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub key: PublicKey,
    /// SHA-256 of the DER SPKI: a CT log ID, a Rekor logID, and (first 4
    /// bytes) a checkpoint key hint.
    pub id: [u8; 32],
}

impl TrustedKey {
    pub fn new(key: PublicKey) -> Self {
        let id = sha256(key.spki_der());
        Self { key, id }
    }

    pub fn hint(&self) -> [u8; 4] {
        [self.id[0], self.id[1], self.id[2], self.id[3]]
    }

    /// ECDSA (or RSA) over SHA-256, as Rekor and CT logs sign; Ed25519 pure.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key
            .verify(HashAlgorithm::Sha256, message, signature)
            .is_ok()
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&HashAlgorithm::Sha256.digest(data));
    out
}

/// Every key a monitor accepts for one log.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

impl TrustedKeys {
    pub fn new(keys: Vec<PublicKey>) -> Self {
        Self {
            keys: keys.into_iter().map(TrustedKey::new).collect(),
        }
    }

    /// A PEM (or DER) public key file, as `GET /api/v1/log/publicKey` serves it.
    pub fn from_public_key_file(path: &Path) -> Result<Self, KeyError> {
        let bytes = read(path)?;
        let key = PublicKey::parse(&bytes).map_err(|e| KeyError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self::new(vec![key]))
    }

    /// The log keys of a sigstore trusted root (`trusted_root.json`) or of a
    /// ClientTrustConfig that holds one (`trust_config.json`): every `tlogs`
    /// and `ctlogs` key, since a signature names its key by hint anyway. With
    /// `base_url`, only the logs whose `baseUrl` is that URL (ignoring a
    /// trailing slash), so a key of one log never vouches for another.
    pub fn from_trust_root_file(path: &Path, base_url: Option<&str>) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::Invalid {
            path: path.display().to_string(),
            reason,
        };
        let bytes = read(path)?;
        let document: Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let root = document.get("trustedRoot").unwrap_or(&document);
        let wanted = base_url.map(|u| u.trim_end_matches('/'));
        let mut keys = Vec::new();
        for member in ["tlogs", "ctlogs"] {
            for log in root
                .get(member)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let url = log.get("baseUrl").and_then(Value::as_str).unwrap_or("");
                if wanted.is_some_and(|w| w != url.trim_end_matches('/')) {
                    continue;
                }
                let raw = log
                    .pointer("/publicKey/rawBytes")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(format!("a {member} entry has no publicKey.rawBytes"))
                    })?;
                let der = STANDARD
                    .decode(raw)
                    .map_err(|e| invalid(format!("publicKey.rawBytes is not base64: {e}")))?;
                let key = PublicKey::from_spki_der(&der)
                    .map_err(|e| invalid(format!("{member} key of {url}: {e}")))?;
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Err(invalid(match wanted {
                Some(url) => format!("no tlogs or ctlogs entry has baseUrl {url}"),
                None => "no tlogs or ctlogs keys".into(),
            }));
        }
        Ok(Self::new(keys))
    }

    /// The keys a checkpoint signature line by `name` with `hint` may be
    /// from: an ECDSA (or RSA) key by its SPKI hint, an Ed25519 key (a
    /// Rekor v2 log, a witness) by its C2SP key id, which covers the name.
    pub fn by_hint<'a>(
        &'a self,
        name: &'a str,
        hint: [u8; 4],
    ) -> impl Iterator<Item = &'a TrustedKey> {
        self.keys.iter().filter(move |k| match k.key.algorithm() {
            KeyAlgorithm::Ed25519 => {
                key_hash(name, KeyType::Ed25519, k.key.raw_key(), k.key.spki_der())[..4] == hint
            }
            _ => k.hint() == hint,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &TrustedKey> {
        self.keys.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })
}
