//! Private keys as operators keep them: PKCS#8 PEM files, mode 0600.
//!
//! Every signature is made with aws-lc-rs. ECDSA P-256 signs checkpoints and
//! SignedEntryTimestamps (the only type every sigstore client accepts for a
//! log); Ed25519 adds the witness-friendly checkpoint signature.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use pem_rfc7468::LineEnding;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("writing key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("key file is not a PEM \"PRIVATE KEY\" (PKCS#8): {0}")]
    Pem(String),
    #[error("PKCS#8 key is neither ECDSA P-256 nor Ed25519")]
    UnsupportedKey,
    #[error("key operation failed")]
    Crypto,
}

/// The kinds of key Atesto creates and signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    EcdsaP256,
    Ed25519,
}

impl std::str::FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ecdsa-p256" => Ok(KeyType::EcdsaP256),
            "ed25519" => Ok(KeyType::Ed25519),
            other => Err(format!(
                "unknown key type {other:?}: expected ecdsa-p256 or ed25519"
            )),
        }
    }
}

/// A private key able to sign.
pub enum PrivateKey {
    EcdsaP256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("type", &self.key_type())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    pub fn generate(key_type: KeyType) -> Result<Self, KeyError> {
        match key_type {
            KeyType::EcdsaP256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .map(PrivateKey::EcdsaP256)
                .map_err(|_| KeyError::Crypto),
            KeyType::Ed25519 => Ed25519KeyPair::generate()
                .map(PrivateKey::Ed25519)
                .map_err(|_| KeyError::Crypto),
        }
    }

    pub fn key_type(&self) -> KeyType {
        match self {
            PrivateKey::EcdsaP256(_) => KeyType::EcdsaP256,
            PrivateKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// Parses a PKCS#8 PEM ("PRIVATE KEY") holding an ECDSA P-256 or Ed25519 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) =
            pem_rfc7468::decode_vec(pem.as_bytes()).map_err(|e| KeyError::Pem(e.to_string()))?;
        if label != "PRIVATE KEY" {
            return Err(KeyError::Pem(format!("unexpected PEM label {label:?}")));
        }
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der) {
            return Ok(PrivateKey::EcdsaP256(key));
        }
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map(PrivateKey::Ed25519)
            .map_err(|_| KeyError::UnsupportedKey)
    }

    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let der = match self {
            PrivateKey::EcdsaP256(k) => k.to_pkcs8v1().map_err(|_| KeyError::Crypto)?,
            PrivateKey::Ed25519(k) => k.to_pkcs8v1().map_err(|_| KeyError::Crypto)?,
        };
        pem_rfc7468::encode_string("PRIVATE KEY", LineEnding::LF, der.as_ref())
            .map_err(|e| KeyError::Pem(e.to_string()))
    }

    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pkcs8_pem(&pem)
    }

    /// Writes the key as PKCS#8 PEM, mode 0600, refusing to overwrite a file.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let pem = self.to_pkcs8_pem()?;
        let write_err = |source| KeyError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(write_err)?;
        file.write_all(pem.as_bytes()).map_err(write_err)?;
        file.sync_all().map_err(write_err)
    }

    /// Loads the key at `path`, or creates one of `key_type` there on first use.
    pub fn load_or_create(path: &Path, key_type: KeyType) -> Result<Self, KeyError> {
        if path.exists() {
            return Self::load(path);
        }
        let key = Self::generate(key_type)?;
        key.write_new(path)?;
        Ok(key)
    }

    /// DER SubjectPublicKeyInfo of the public half.
    pub fn public_key_der(&self) -> Vec<u8> {
        match self {
            PrivateKey::EcdsaP256(k) => k
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .unwrap_or_default(),
            PrivateKey::Ed25519(k) => k
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .unwrap_or_default(),
        }
    }

    /// Raw public key bytes (32 bytes for Ed25519, SEC1 point for ECDSA).
    pub fn public_key_raw(&self) -> Vec<u8> {
        match self {
            PrivateKey::EcdsaP256(k) => k.public_key().as_ref().to_vec(),
            PrivateKey::Ed25519(k) => k.public_key().as_ref().to_vec(),
        }
    }

    pub fn public_key_pem(&self) -> String {
        pem_rfc7468::encode_string("PUBLIC KEY", LineEnding::LF, &self.public_key_der())
            .unwrap_or_default()
    }

    /// SHA-256 of the DER SPKI: Rekor's `logID` and the CT log id.
    pub fn log_id(&self) -> [u8; 32] {
        Sha256::digest(self.public_key_der()).into()
    }

    /// Signs `message`: ECDSA with SHA-256 (ASN.1 DER signature) or pure Ed25519.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            PrivateKey::EcdsaP256(k) => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto),
            PrivateKey::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ED25519, UnparsedPublicKey};

    #[test]
    fn pem_round_trip_and_signatures_verify() {
        for key_type in [KeyType::EcdsaP256, KeyType::Ed25519] {
            let key = PrivateKey::generate(key_type).unwrap();
            let again = PrivateKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
            assert_eq!(key.public_key_der(), again.public_key_der());
            let sig = again.sign(b"message").unwrap();
            let alg: &dyn aws_lc_rs::signature::VerificationAlgorithm = match key_type {
                KeyType::EcdsaP256 => &ECDSA_P256_SHA256_ASN1,
                KeyType::Ed25519 => &ED25519,
            };
            let public = UnparsedPublicKey::new(alg, key.public_key_raw());
            assert!(public.verify(b"message", &sig).is_ok());
            assert!(public.verify(b"other", &sig).is_err());
        }
    }

    #[test]
    fn written_key_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let first = PrivateKey::load_or_create(&path, KeyType::EcdsaP256).unwrap();
        let second = PrivateKey::load_or_create(&path, KeyType::EcdsaP256).unwrap();
        assert_eq!(first.public_key_der(), second.public_key_der());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(first.write_new(&path).is_err(), "must not overwrite a key");
    }

    #[test]
    fn rejects_other_pem() {
        let err = PrivateKey::from_pkcs8_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        assert!(err.is_err());
    }
}
