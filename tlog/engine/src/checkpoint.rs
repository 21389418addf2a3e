//! The log's keys and what the engine signs with them: one checkpoint per
//! batch (a C2SP signed note). A personality signs its own per-entry
//! promises (Rekor's SET, a CT SCT) with the same key through `LogKeys::sign`.

use std::sync::Arc;

use atesto_common::keys::{KeyError, KeyType, PrivateKey};
use atesto_common::note::{NoteError, NoteSigner, checkpoint_text, sign_note};

use crate::store::StoredCheckpoint;

/// A signature the log could not make: never the client's fault, never the
/// store's.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the log key must be ECDSA P-256 (the only type every sigstore client accepts)")]
    LogKeyType,
    #[error("the witness key must be Ed25519")]
    WitnessKeyType,
    #[error("signing {what}: {source}")]
    Key {
        what: &'static str,
        #[source]
        source: KeyError,
    },
    #[error("signing a checkpoint: {0}")]
    Note(#[from] NoteError),
    #[error("encoding {what} for signing: {reason}")]
    Encoding { what: &'static str, reason: String },
    #[error("{what} is {len} bytes: a stored entry signature is at most {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
}

/// The log's signing keys.
pub struct LogKeys {
    checkpoint_signer: NoteSigner,
    witness_signer: Option<NoteSigner>,
    /// SHA-256 of the DER SPKI, hex: Rekor's `logID`.
    pub log_id_hex: String,
    pub public_key_der: Vec<u8>,
    pub public_key_pem: String,
}

impl LogKeys {
    /// `key` signs checkpoints (and the personality's entry signatures) and
    /// must be ECDSA P-256; `witness`, if any, adds an Ed25519 checkpoint signature.
    pub fn new(
        hostname: &str,
        key: PrivateKey,
        witness: Option<PrivateKey>,
    ) -> Result<Self, SignError> {
        if key.key_type() != KeyType::EcdsaP256 {
            return Err(SignError::LogKeyType);
        }
        if witness
            .as_ref()
            .is_some_and(|w| w.key_type() != KeyType::Ed25519)
        {
            return Err(SignError::WitnessKeyType);
        }
        let key = Arc::new(key);
        Ok(Self {
            log_id_hex: hex::encode(key.log_id()),
            public_key_der: key.public_key_der(),
            public_key_pem: key.public_key_pem(),
            checkpoint_signer: NoteSigner::new(hostname, key),
            witness_signer: witness.map(|w| NoteSigner::new(hostname, Arc::new(w))),
        })
    }

    /// Keys of a log that signs checkpoints only, no per-entry promises (a
    /// C2SP log such as Rekor v2): `key` may be Ed25519 or ECDSA P-256.
    pub fn checkpoints_only(hostname: &str, key: PrivateKey) -> Self {
        let key = Arc::new(key);
        Self {
            log_id_hex: hex::encode(key.log_id()),
            public_key_der: key.public_key_der(),
            public_key_pem: key.public_key_pem(),
            checkpoint_signer: NoteSigner::new(hostname, key),
            witness_signer: None,
        }
    }

    /// The key hint of the checkpoint signature line, as a whole SHA-256
    /// (`atesto_common::note::key_hash`): Rekor v2's `logId.keyId`.
    pub fn checkpoint_key_hash(&self) -> [u8; 32] {
        self.checkpoint_signer.key_hash()
    }

    /// ECDSA P-256 signature (ASN.1) over `message` with SHA-256; `what`
    /// names it in the error.
    pub fn sign(&self, what: &'static str, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.checkpoint_signer
            .key()
            .sign(message)
            .map_err(|source| SignError::Key { what, source })
    }

    /// Signs the checkpoint of a tree: the ECDSA line first (the one Rekor v1
    /// clients read), then the witness line.
    pub fn checkpoint(
        &self,
        origin: &str,
        size: u64,
        root: [u8; 32],
    ) -> Result<StoredCheckpoint, SignError> {
        let text = checkpoint_text(origin, size, &root);
        let mut signers = vec![&self.checkpoint_signer];
        signers.extend(self.witness_signer.as_ref());
        let note = sign_note(&text, &signers)?;
        Ok(StoredCheckpoint { size, root, note })
    }
}
