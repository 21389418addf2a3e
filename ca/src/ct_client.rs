//! The CA's client of an RFC 6962 CT log: submits the precertificate with
//! `add-pre-chain` and accepts the SCT only once it verifies under the
//! configured log key, for exactly this precertificate.

use atesto_common::ct::sct::{SHA256_ECDSA, parse_digitally_signed};
use atesto_common::ct::{AddChainResponse, Sct, SignedEntry, TimestampedEntry};
use atesto_common::pubkey::{HashAlgorithm, KeyAlgorithm, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::issuance::Precertificate;

/// Longest log answer quoted in an error.
const MESSAGE_LIMIT: usize = 300;

/// Why no SCT was obtained. `Unreachable`, `Rejected` and `MalformedResponse`
/// are the log's fault (a gateway error, 502/503); `InvalidSct` means the log
/// answered with an SCT that must not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum CtClientError {
    #[error("CT log public key: {0}")]
    InvalidKey(String),
    #[error("the CT log at {url} could not be reached or did not answer in time: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("the CT log answered HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error("the CT log's answer is not an RFC 6962 SCT: {0}")]
    MalformedResponse(String),
    #[error("the CT log's SCT failed verification: {0}")]
    InvalidSct(String),
}

impl CtClientError {
    /// True when the log could not be reached or timed out (503); the other
    /// log failures are bad answers (502).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, CtClientError::Unreachable { .. })
    }
}

pub struct CtLogClient {
    add_pre_chain_url: String,
    http: reqwest::Client,
    key: PublicKey,
    log_id: [u8; 32],
}

impl CtLogClient {
    /// `url` is the log's base URL (without `/ct/v1`); `public_key_pem` its
    /// ECDSA P-256 key as PEM "PUBLIC KEY". Timeouts are the `http` client's.
    pub fn new(
        url: &str,
        public_key_pem: &str,
        http: reqwest::Client,
    ) -> Result<Self, CtClientError> {
        let (label, der) = pem_rfc7468::decode_vec(public_key_pem.trim().as_bytes())
            .map_err(|e| CtClientError::InvalidKey(format!("not PEM: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(CtClientError::InvalidKey(format!(
                "PEM label is {label:?}, expected PUBLIC KEY"
            )));
        }
        let key =
            PublicKey::from_spki_der(&der).map_err(|e| CtClientError::InvalidKey(e.to_string()))?;
        if key.algorithm() != KeyAlgorithm::EcdsaP256 {
            return Err(CtClientError::InvalidKey(format!(
                "{:?} key: a CT log key must be ECDSA P-256, the only type every sigstore client accepts",
                key.algorithm()
            )));
        }
        let log_id = Sha256::digest(key.spki_der()).into();
        Ok(Self {
            add_pre_chain_url: format!("{}/ct/v1/add-pre-chain", url.trim_end_matches('/')),
            http,
            key,
            log_id,
        })
    }

    /// SHA-256 of the log key's DER SPKI.
    pub fn log_id(&self) -> &[u8; 32] {
        &self.log_id
    }

    /// Submits the precertificate and its issuers (`chain_der`: issuing CA
    /// .. root) and returns the log's SCT once verified.
    pub async fn add_pre_chain(
        &self,
        precert: &Precertificate,
        chain_der: &[Vec<u8>],
    ) -> Result<Sct, CtClientError> {
        let chain: Vec<String> = std::iter::once(precert.der())
            .chain(chain_der.iter().map(Vec::as_slice))
            .map(|der| STANDARD.encode(der))
            .collect();
        let unreachable = |source| CtClientError::Unreachable {
            url: self.add_pre_chain_url.clone(),
            source,
        };
        let response = self
            .http
            .post(&self.add_pre_chain_url)
            .json(&serde_json::json!({ "chain": chain }))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(CtClientError::Rejected {
                status: status.as_u16(),
                message: text.chars().take(MESSAGE_LIMIT).collect(),
            });
        }
        let answer: AddChainResponse = serde_json::from_slice(&body)
            .map_err(|e| CtClientError::MalformedResponse(e.to_string()))?;
        self.verify(precert, &answer)
    }

    fn verify(
        &self,
        precert: &Precertificate,
        answer: &AddChainResponse,
    ) -> Result<Sct, CtClientError> {
        let invalid = |problem: &str| CtClientError::InvalidSct(problem.to_string());
        if answer.sct_version != 0 {
            return Err(invalid("sct_version is not v1 (0)"));
        }
        let id = STANDARD
            .decode(&answer.id)
            .map_err(|e| CtClientError::MalformedResponse(format!("id: {e}")))?;
        if id != self.log_id {
            return Err(invalid(
                "its log id is not SHA-256 of the configured CT log key",
            ));
        }
        if !answer.extensions.is_empty() {
            return Err(invalid(
                "it has extensions, which sigstore certificates do not carry",
            ));
        }
        let digitally_signed = STANDARD
            .decode(&answer.signature)
            .map_err(|e| CtClientError::MalformedResponse(format!("signature: {e}")))?;
        let signature = match parse_digitally_signed(&digitally_signed) {
            Some((SHA256_ECDSA, signature)) => signature,
            _ => {
                return Err(invalid(
                    "the signature is not a TLS DigitallySigned ECDSA with SHA-256",
                ));
            }
        };
        let input = TimestampedEntry {
            timestamp: answer.timestamp,
            entry: SignedEntry::Precert {
                issuer_key_hash: *precert.issuer_key_hash(),
                tbs: precert.tbs_without_poison().to_vec(),
            },
        }
        .merkle_tree_leaf();
        self.key
            .verify(HashAlgorithm::Sha256, &input, signature)
            .map_err(|_| {
                invalid("its signature does not verify over this precertificate's entry")
            })?;
        Ok(Sct::new(&self.log_id, answer.timestamp, &digitally_signed))
    }
}
