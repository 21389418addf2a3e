//! The CA's signing key: a PKCS#8 file (plain or PBES2-encrypted) signed
//! with aws-lc-rs, or a PKCS#11 token key. Both sign through rcgen's
//! `SigningKey`, so every certificate is built by the same code.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair};
use pem_rfc7468::LineEnding;
use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey};

use super::IssuanceError;
use super::curve::CaCurve;
use super::pkcs11::Pkcs11Key;
use super::signer_config::password_from_env;

/// A CA key in a PKCS#8 file.
pub struct FileKey {
    key_pair: EcdsaKeyPair,
    curve: CaCurve,
    rng: SystemRandom,
}

impl FileKey {
    pub fn generate(curve: CaCurve) -> Result<Self, IssuanceError> {
        let key_pair = EcdsaKeyPair::generate(curve.aws_lc_signing())
            .map_err(|_| IssuanceError::Crypto("generating an ECDSA key"))?;
        Ok(Self {
            key_pair,
            curve,
            rng: SystemRandom::new(),
        })
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, IssuanceError> {
        [CaCurve::P256, CaCurve::P384]
            .into_iter()
            .find_map(|curve| {
                EcdsaKeyPair::from_pkcs8(curve.aws_lc_signing(), der)
                    .ok()
                    .map(|key_pair| Self {
                        key_pair,
                        curve,
                        rng: SystemRandom::new(),
                    })
            })
            .ok_or(IssuanceError::UnsupportedCaKey)
    }

    /// Reads a "PRIVATE KEY" or, with the password in `password_env`, an
    /// "ENCRYPTED PRIVATE KEY" PEM file.
    pub fn load(path: &Path, password_env: Option<&str>) -> Result<Self, IssuanceError> {
        let text = std::fs::read_to_string(path).map_err(|source| IssuanceError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let key_pem = |reason: String| IssuanceError::KeyPem {
            path: path.display().to_string(),
            reason,
        };
        let (label, der) =
            pem_rfc7468::decode_vec(text.as_bytes()).map_err(|e| key_pem(e.to_string()))?;
        match (label, password_env) {
            ("PRIVATE KEY", None) => Self::from_pkcs8_der(&der),
            ("PRIVATE KEY", Some(_)) => Err(key_pem(
                "key_password_env is set but the key is not encrypted: remove key_password_env or encrypt the key".into(),
            )),
            ("ENCRYPTED PRIVATE KEY", None) => Err(key_pem(
                "the key is encrypted: set key_password_env to the variable holding its password".into(),
            )),
            ("ENCRYPTED PRIVATE KEY", Some(env)) => {
                let password = password_from_env(env)?;
                let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
                    .map_err(|e| key_pem(e.to_string()))?;
                let plain =
                    encrypted
                        .decrypt(password.as_bytes())
                        .map_err(|_| IssuanceError::KeyDecrypt {
                            path: path.display().to_string(),
                        })?;
                Self::from_pkcs8_der(plain.as_bytes())
            }
            (other, _) => Err(key_pem(format!(
                "PEM label is {other:?}: expected PRIVATE KEY or ENCRYPTED PRIVATE KEY (PKCS#8)"
            ))),
        }
    }

    /// Writes the key as PKCS#8 PEM, encrypted with `password` when given
    /// (PBES2, scrypt + AES-256-CBC), mode 0600, never over an existing file.
    pub fn write_new(&self, path: &Path, password: Option<&str>) -> Result<(), IssuanceError> {
        let der = self
            .key_pair
            .to_pkcs8v1()
            .map_err(|_| IssuanceError::Crypto("exporting the key as PKCS#8"))?;
        let pem = match password {
            None => pem_rfc7468::encode_string("PRIVATE KEY", LineEnding::LF, der.as_ref())
                .map_err(|e| IssuanceError::Encoding(e.to_string()))?,
            Some(password) => {
                let info = pkcs8::PrivateKeyInfo::try_from(der.as_ref())
                    .map_err(|e| IssuanceError::Encoding(e.to_string()))?;
                let encrypted = info
                    .encrypt(rand::rngs::OsRng, password.as_bytes())
                    .map_err(|e| IssuanceError::Encoding(e.to_string()))?;
                encrypted
                    .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
                    .map_err(|e| IssuanceError::Encoding(e.to_string()))?
                    .to_string()
            }
        };
        write_new_file(path, pem.as_bytes(), 0o600)
    }
}

/// Creates `path` with `mode`, refusing to replace an existing file.
pub fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), IssuanceError> {
    let write_err = |source| IssuanceError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(write_err)?;
    file.write_all(bytes).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

impl PublicKeyData for FileKey {
    /// The uncompressed EC point.
    fn der_bytes(&self) -> &[u8] {
        self.key_pair.public_key().as_ref()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.curve.rcgen_algorithm()
    }
}

impl SigningKey for FileKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key_pair
            .sign(&self.rng, msg)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| rcgen::Error::RingUnspecified)
    }
}

/// The key the CA signs with.
pub enum CaSigner {
    File(FileKey),
    Pkcs11(Pkcs11Key),
}

impl CaSigner {
    pub fn curve(&self) -> CaCurve {
        match self {
            CaSigner::File(key) => key.curve,
            CaSigner::Pkcs11(key) => key.curve(),
        }
    }
}

impl PublicKeyData for CaSigner {
    fn der_bytes(&self) -> &[u8] {
        match self {
            CaSigner::File(key) => key.der_bytes(),
            CaSigner::Pkcs11(key) => key.der_bytes(),
        }
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.curve().rcgen_algorithm()
    }
}

impl SigningKey for CaSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        match self {
            CaSigner::File(key) => key.sign(msg),
            CaSigner::Pkcs11(key) => key.sign(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_round_trip_plain_and_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let key = FileKey::generate(CaCurve::P384).unwrap();
        let plain = dir.path().join("plain.pem");
        key.write_new(&plain, None).unwrap();
        assert!(key.write_new(&plain, None).is_err(), "must not overwrite");
        let loaded = FileKey::load(&plain, None).unwrap();
        assert_eq!(loaded.curve, CaCurve::P384);
        assert_eq!(loaded.der_bytes(), key.der_bytes());

        let encrypted = dir.path().join("encrypted.pem");
        key.write_new(&encrypted, Some("pw")).unwrap();
        let env = "ATESTO_CA_SIGNER_UNIT_TEST_PASSWORD";
        // SAFETY: only this test reads or writes this variable.
        unsafe { std::env::set_var(env, "pw") };
        let loaded = FileKey::load(&encrypted, Some(env)).unwrap();
        assert_eq!(loaded.der_bytes(), key.der_bytes());
        assert!(matches!(
            FileKey::load(&encrypted, None),
            Err(IssuanceError::KeyPem { .. })
        ));
        assert!(matches!(
            FileKey::load(&plain, Some(env)),
            Err(IssuanceError::KeyPem { .. })
        ));
    }
}
