//! `atesto tsa`: an RFC 3161 timestamp authority speaking the HTTP API of
//! sigstore's timestamp-authority, so that cosign, sigstore-python,
//! sigstore-js and sigstore-go timestamp their signatures with it.
//!
//! - `config`: the YAML config.
//! - `request`: DER and JSON timestamp requests and their checks.
//! - `token`: the TSTInfo in a CMS SignedData.
//! - `chain`: the certificate profile, checked at start-up.
//! - `init`: `atesto tsa init`, a root and a TSA certificate that fit it.
//! - `api`: the HTTP routes and metrics.
//! - `oid`: policy OIDs from text.
//! - `error`: why a request or the set-up failed.

pub mod api;
pub mod chain;
pub mod config;
pub mod error;
pub mod init;
pub mod oid;
pub mod request;
pub mod token;

use std::time::SystemTime;

use atesto_ca::issuance::signer::CaSigner;
use atesto_common::pubkey::PublicKey;
use cms::cert::x509::Certificate;
use der::Decode;
use der::asn1::ObjectIdentifier;
use rcgen::PublicKeyData;

pub use error::TsaError;

use chain::TsaChain;
use config::TsaConfig;
use request::TimestampRequest;
use token::{Stamp, Template, algorithms};

/// A loaded, self-checked timestamp authority. Cheap to share (`Arc`) and to
/// call from blocking threads: `timestamp` takes `&self` and only signs.
pub struct Tsa {
    signer: CaSigner,
    chain: TsaChain,
    /// What every reply repeats, DER-encoded once.
    template: Template,
    policies: Vec<ObjectIdentifier>,
    accuracy_secs: u64,
}

impl Tsa {
    /// Loads the chain and key, checks the chain's profile and that the key
    /// is the TSA certificate's, then signs and verifies one timestamp.
    pub fn open(config: &TsaConfig) -> Result<Self, TsaError> {
        config.validate()?;
        let chain = TsaChain::load(&config.base_dir.join(&config.signer.chain))?;
        let signer = CaSigner::open(&config.signer, &config.base_dir)?;
        if signer.curve() != chain.curve || signer.der_bytes() != chain.leaf_point.as_slice() {
            return Err(TsaError::KeyDoesNotMatchCertificate);
        }
        let leaf = Certificate::from_der(&chain.der[0]).map_err(|e| TsaError::Chain {
            index: 0,
            problem: e.to_string(),
        })?;
        let template = Template::new(chain.curve, &leaf, &chain.der[0])?;
        let tsa = Self {
            signer,
            chain,
            template,
            policies: config.policies()?,
            accuracy_secs: config.accuracy_secs,
        };
        tsa.self_check()?;
        Ok(tsa)
    }

    /// Signs a timestamp and verifies its signature with the certificate's key:
    /// a key that signs something else (a wrong PKCS#11 object) fails here.
    fn self_check(&self) -> Result<(), TsaError> {
        let probe = TimestampRequest::probe()?;
        let signed = token::sign(&probe, &self.stamp(self.policies[0]))
            .map_err(|e| TsaError::SelfCheck(e.to_string()))?;
        let (hash, _, _) = algorithms(self.chain.curve);
        PublicKey::from_spki_der(&self.chain.leaf_spki)
            .and_then(|key| key.verify(hash, &signed.signed_attributes, &signed.signature))
            .map_err(|_| TsaError::KeyDoesNotMatchCertificate)
    }

    fn stamp(&self, policy: ObjectIdentifier) -> Stamp<'_> {
        Stamp {
            signer: &self.signer,
            template: &self.template,
            policy,
            accuracy_secs: self.accuracy_secs,
            time: SystemTime::now(),
        }
    }

    /// The policy a request gets: the one it names if accepted, else the default.
    pub fn policy_for(&self, request: &TimestampRequest) -> Result<ObjectIdentifier, TsaError> {
        match request.policy {
            None => Ok(self.policies[0]),
            Some(asked) if self.policies.contains(&asked) => Ok(asked),
            Some(asked) => Err(TsaError::BadRequest(format!(
                "Error generating timestamp response: policy {asked} is not accepted; this TSA timestamps under {}",
                self.policies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The DER TimeStampResp granting `request`.
    pub fn timestamp(&self, request: &TimestampRequest) -> Result<Vec<u8>, TsaError> {
        let policy = self.policy_for(request)?;
        Ok(token::sign(request, &self.stamp(policy))?.response)
    }

    /// The chain as PEM, the TSA certificate first.
    pub fn chain_pem(&self) -> &str {
        &self.chain.pem
    }

    /// The chain as DER, the TSA certificate first.
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain.der
    }
}
