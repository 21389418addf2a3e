//! Certificate issuance: the CA chain and key, the leaf profile, and the
//! precertificate -> SCT -> final certificate sequence.
//!
//! - `chain`: loading and checking the CA chain.
//! - `signer`: the CA key in a (possibly encrypted) PKCS#8 file, or on a token.
//! - `signer_config`: where the key and chain are, and the secrets' variables.
//! - `curve`: the curves a CA key may use.
//! - `pkcs11`: the CA key on a PKCS#11 token.
//! - `profile`: the leaf's fields and extensions.
//! - `init`: `atesto ca init`, a new root + intermediate.

pub mod chain;
pub mod curve;
pub mod error;
pub mod init;
pub mod pkcs11;
pub mod profile;
pub mod signer;
pub mod signer_config;

use std::path::{Path, PathBuf};

use atesto_common::ct::tbs_without_poison;
use rcgen::{CertificateParams, Issuer, SubjectPublicKeyInfo};
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER;
use x509_parser::prelude::FromDer;

use crate::principal::{Principal, SubjectAltName};
use atesto_common::ct::Sct;
use chain::CaChain;
use signer::{CaSigner, FileKey};

pub use error::IssuanceError;
pub use init::{InitOptions, InitOutput, init_chain};
pub use pkcs11::Pkcs11Key;
pub use signer_config::{Pkcs11Config, SignerConfig};

/// Issues leaf certificates. Cheap to share (`Arc`) and call from blocking
/// tasks: every method takes `&self` and only signs.
pub struct CertificateIssuer {
    issuer: Issuer<'static, CaSigner>,
    chain: CaChain,
    /// SHA-256 of the issuing CA's SPKI: the precert entry's issuer_key_hash.
    issuer_key_hash: [u8; 32],
}

/// A signed precertificate and what its SCT and final certificate need.
pub struct Precertificate {
    der: Vec<u8>,
    /// The leaf's parameters without the last extension.
    params: CertificateParams,
    subject: SubjectPublicKeyInfo,
    tbs_without_poison: Vec<u8>,
    issuer_key_hash: [u8; 32],
}

impl Precertificate {
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The TBSCertificate the SCT signs: the final certificate's TBS without
    /// the SCT list.
    pub(crate) fn tbs_without_poison(&self) -> &[u8] {
        &self.tbs_without_poison
    }

    pub(crate) fn issuer_key_hash(&self) -> &[u8; 32] {
        &self.issuer_key_hash
    }
}

fn resolve(base_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

impl CaSigner {
    /// Opens the key `config` names: its PKCS#8 file or its PKCS#11 token.
    /// The TSA signs with the same signers (`atesto-tsa`).
    pub fn open(config: &SignerConfig, base_dir: &Path) -> Result<Self, IssuanceError> {
        Ok(match (&config.key, &config.pkcs11) {
            (Some(key), None) => CaSigner::File(FileKey::load(
                &resolve(base_dir, key),
                config.key_password_env.as_deref(),
            )?),
            (None, Some(pkcs11)) => {
                if config.key_password_env.is_some() {
                    return Err(IssuanceError::Config(
                        "key_password_env applies to `key`, not to `pkcs11` (use pkcs11.pin_env)"
                            .into(),
                    ));
                }
                CaSigner::Pkcs11(Pkcs11Key::open(pkcs11, &resolve(base_dir, &pkcs11.module))?)
            }
            (Some(_), Some(_)) => {
                return Err(IssuanceError::Config(
                    "set either `key` or `pkcs11`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(IssuanceError::Config(
                    "no CA key: set `key` (PKCS#8 PEM file) or `pkcs11`".into(),
                ));
            }
        })
    }
}

impl CertificateIssuer {
    /// Loads the chain and key, then issues a throwaway certificate to prove
    /// they fit together (see `self_check`).
    pub fn load(config: &SignerConfig, base_dir: &Path) -> Result<Self, IssuanceError> {
        let chain = CaChain::load(&resolve(base_dir, &config.chain))?;
        let signer = CaSigner::open(config, base_dir)?;
        if signer.curve() != chain.issuer_curve {
            return Err(IssuanceError::KeyDoesNotMatchCertificate);
        }
        let issuer =
            Issuer::from_ca_cert_der(&chain.der[0].as_slice().into(), signer).map_err(|e| {
                IssuanceError::Chain {
                    index: 0,
                    problem: format!("cannot issue under this certificate: {e}"),
                }
            })?;
        let issuer_key_hash = Sha256::digest(&chain.issuer_spki).into();
        let ca = Self {
            issuer,
            chain,
            issuer_key_hash,
        };
        ca.self_check()?;
        Ok(ca)
    }

    /// Issues a certificate for the CA's own public key and checks it as a
    /// client would: its issuer Name is byte for byte the CA's subject (rcgen
    /// re-encodes the Name, which fails on multi-valued RDNs or repeated
    /// attribute types), its AKI is the CA's SKI, and its signature verifies
    /// under the CA certificate's key (so the key is the certificate's).
    fn self_check(&self) -> Result<(), IssuanceError> {
        let principal = Principal {
            challenge: String::new(),
            san: SubjectAltName::Uri("urn:atesto:ca-self-check".into()),
            extensions: Vec::new(),
        };
        let der = self.issue_without_sct(&self.chain.issuer_spki, &principal)?;
        let (_, leaf) = X509Certificate::from_der(&der)
            .map_err(|e| IssuanceError::SelfCheck(format!("unparsable: {e}")))?;
        let written = leaf.tbs_certificate.issuer.as_raw();
        if written != self.chain.issuer_subject.as_slice() {
            return Err(IssuanceError::IssuerNameMismatch {
                written: hex::encode(written),
                expected: hex::encode(&self.chain.issuer_subject),
            });
        }
        let aki = leaf
            .get_extension_unique(&OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
            .ok()
            .flatten()
            .and_then(|extension| match extension.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref(),
                _ => None,
            })
            .map(|id| id.0.to_vec());
        if aki.as_deref() != Some(self.chain.issuer_key_id.as_slice()) {
            return Err(IssuanceError::SelfCheck(
                "its authorityKeyIdentifier is not the CA's subjectKeyIdentifier".into(),
            ));
        }
        chain::signed_by(&leaf, &self.chain.issuer_spki, self.chain.issuer_curve)
            .map_err(|_| IssuanceError::KeyDoesNotMatchCertificate)
    }

    fn sign(
        &self,
        params: &CertificateParams,
        subject: &SubjectPublicKeyInfo,
    ) -> Result<Vec<u8>, IssuanceError> {
        params
            .signed_by(subject, &self.issuer)
            .map(|cert| cert.der().to_vec())
            .map_err(IssuanceError::Signing)
    }

    fn subject_key(subject_spki_der: &[u8]) -> Result<SubjectPublicKeyInfo, IssuanceError> {
        SubjectPublicKeyInfo::from_der(subject_spki_der)
            .map_err(|e| IssuanceError::InvalidSubjectKey(e.to_string()))
    }

    /// The precertificate (poisoned) to submit to the CT log.
    pub fn precertificate(
        &self,
        subject_spki_der: &[u8],
        principal: &Principal,
    ) -> Result<Precertificate, IssuanceError> {
        let subject = Self::subject_key(subject_spki_der)?;
        let params = profile::leaf_params(principal, subject_spki_der)?;
        let mut poisoned = params.clone();
        poisoned.custom_extensions.push(profile::poison_extension());
        let der = self.sign(&poisoned, &subject)?;
        let (_, parsed) = X509Certificate::from_der(&der)
            .map_err(|e| IssuanceError::Encoding(format!("precertificate: {e}")))?;
        let tbs_without_poison = tbs_without_poison(parsed.tbs_certificate.as_ref())
            .map_err(|e| IssuanceError::Encoding(format!("precertificate TBS: {e}")))?;
        Ok(Precertificate {
            der,
            params,
            subject,
            tbs_without_poison,
            issuer_key_hash: self.issuer_key_hash,
        })
    }

    /// The final certificate: the precertificate's fields with the SCT list
    /// in place of the poison.
    pub fn finish(&self, precert: Precertificate, sct: &Sct) -> Result<Vec<u8>, IssuanceError> {
        let mut params = precert.params;
        params
            .custom_extensions
            .push(profile::sct_list_extension(sct));
        self.sign(&params, &precert.subject)
    }

    /// A certificate with no SCT (no CT log configured).
    pub fn issue_without_sct(
        &self,
        subject_spki_der: &[u8],
        principal: &Principal,
    ) -> Result<Vec<u8>, IssuanceError> {
        let subject = Self::subject_key(subject_spki_der)?;
        let params = profile::leaf_params(principal, subject_spki_der)?;
        self.sign(&params, &subject)
    }

    /// DER certificates, issuing CA first, root last.
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain.der
    }

    /// The same, PEM.
    pub fn chain_pem(&self) -> &[String] {
        &self.chain.pem
    }

    /// DER SubjectPublicKeyInfo of the issuing CA.
    pub fn issuer_spki_der(&self) -> &[u8] {
        &self.chain.issuer_spki
    }
}
