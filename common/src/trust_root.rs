//! The documents sigstore clients load to trust a deployment: the trusted
//! root (keys and CA chains with their validity windows), the signing config
//! (service URLs) and the ClientTrustConfig holding both. Formats per
//! sigstore's protobuf-specs JSON mapping (see wire-compat.md).
//!
//! Rotation and shards are several entries with `validFor` windows: a key
//! stays listed with an `end` so that bundles made while it signed still
//! verify.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::keys::KeyType;
use crate::note::key_hash;
use crate::pubkey::{KeyAlgorithm, PublicKey};

pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
pub const SIGNING_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

#[derive(Debug, thiserror::Error)]
pub enum TrustRootError {
    #[error("public key of {url}: {source}")]
    Key {
        url: String,
        source: crate::pubkey::PubKeyError,
    },
    #[error(
        "public key of {url} is {algorithm}: clients accept ECDSA P-256/P-384 or Ed25519 log keys"
    )]
    KeyType {
        url: String,
        algorithm: KeyAlgorithm,
    },
    #[error("CA {url}: {reason}")]
    Chain { url: String, reason: String },
    #[error("log URL {0:?} has no host name: an Ed25519 log signs checkpoints under it")]
    BaseUrl(String),
    #[error("timestamp out of range: {0}")]
    Time(String),
}

/// When an entry may be used: from `start`, until `end` when it was retired.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub start: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
}

impl Validity {
    pub fn since(start: OffsetDateTime) -> Self {
        Self { start, end: None }
    }

    fn to_json(self) -> Result<Value, TrustRootError> {
        let mut value = json!({ "start": rfc3339(self.start)? });
        if let Some(end) = self.end {
            value["end"] = json!(rfc3339(end)?);
        }
        Ok(value)
    }
}

fn rfc3339(at: OffsetDateTime) -> Result<String, TrustRootError> {
    at.replace_nanosecond(0)
        .map_err(|e| TrustRootError::Time(e.to_string()))?
        .format(&Rfc3339)
        .map_err(|e| TrustRootError::Time(e.to_string()))
}

/// A transparency log or CT log: its URL and key (DER SubjectPublicKeyInfo).
#[derive(Debug, Clone)]
pub struct LogKey {
    pub base_url: String,
    pub public_key_der: Vec<u8>,
    pub valid: Validity,
}

/// A CA or a timestamp authority: its URL and chain, issuing CA (or TSA
/// certificate) first, root last (DER).
#[derive(Debug, Clone)]
pub struct CaChain {
    pub url: String,
    pub chain_der: Vec<Vec<u8>>,
    pub valid: Validity,
}

/// A service in the signing config.
#[derive(Debug, Clone)]
pub struct Service {
    pub url: String,
    pub major_api_version: u32,
    pub valid: Validity,
    pub operator: String,
}

/// The trusted root: what verifiers need.
pub fn trusted_root(
    tlogs: &[LogKey],
    ctlogs: &[LogKey],
    cas: &[CaChain],
    tsas: &[CaChain],
) -> Result<Value, TrustRootError> {
    Ok(json!({
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": tlogs.iter().map(|log| log_json(log, LogIdRule::Checkpoint)).collect::<Result<Vec<_>, _>>()?,
        "certificateAuthorities": cas.iter().map(ca_json).collect::<Result<Vec<_>, _>>()?,
        "ctlogs": ctlogs.iter().map(|log| log_json(log, LogIdRule::Spki)).collect::<Result<Vec<_>, _>>()?,
        "timestampAuthorities": tsas.iter().map(ca_json).collect::<Result<Vec<_>, _>>()?,
    }))
}

/// How a log's `logId.keyId` is derived from its key.
#[derive(Clone, Copy)]
enum LogIdRule {
    /// RFC 6962: SHA-256 of the DER SPKI (CT logs).
    Spki,
    /// A transparency log is named by its checkpoint key's hash: SHA-256 of
    /// the SPKI for ECDSA (Rekor v1 and v2 alike), the C2SP key id of the
    /// log's host name for Ed25519 (Rekor v2). sigstore-go finds a v2
    /// entry's log by it, sigstore-python the checkpoint signature's hint.
    Checkpoint,
}

fn log_json(log: &LogKey, rule: LogIdRule) -> Result<Value, TrustRootError> {
    let key =
        PublicKey::from_spki_der(&log.public_key_der).map_err(|source| TrustRootError::Key {
            url: log.base_url.clone(),
            source,
        })?;
    let key_details = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        KeyAlgorithm::EcdsaP384 => "PKIX_ECDSA_P384_SHA_384",
        KeyAlgorithm::Ed25519 => "PKIX_ED25519",
        algorithm => {
            return Err(TrustRootError::KeyType {
                url: log.base_url.clone(),
                algorithm,
            });
        }
    };
    Ok(json!({
        "baseUrl": log.base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": STANDARD.encode(&log.public_key_der),
            "keyDetails": key_details,
            "validFor": log.valid.to_json()?,
        },
        "logId": {"keyId": STANDARD.encode(log_id(log, &key, rule)?)},
    }))
}

fn log_id(log: &LogKey, key: &PublicKey, rule: LogIdRule) -> Result<[u8; 32], TrustRootError> {
    match (rule, key.algorithm()) {
        (LogIdRule::Checkpoint, KeyAlgorithm::Ed25519) => {
            let host = url::Url::parse(&log.base_url)
                .ok()
                .and_then(|url| {
                    url.host_str()
                        .map(|h| h.trim_matches(['[', ']']).to_owned())
                })
                .ok_or_else(|| TrustRootError::BaseUrl(log.base_url.clone()))?;
            Ok(key_hash(
                &host,
                KeyType::Ed25519,
                key.raw_key(),
                key.spki_der(),
            ))
        }
        _ => Ok(Sha256::digest(&log.public_key_der).into()),
    }
}

fn ca_json(ca: &CaChain) -> Result<Value, TrustRootError> {
    let chain_error = |reason: String| TrustRootError::Chain {
        url: ca.url.clone(),
        reason,
    };
    let issuing = ca
        .chain_der
        .first()
        .ok_or_else(|| chain_error("the chain is empty".into()))?;
    let (_, cert) = X509Certificate::from_der(issuing)
        .map_err(|e| chain_error(format!("issuing certificate: {e}")))?;
    let attribute = |values: Vec<&str>| values.first().map_or("", |v| v).to_owned();
    let subject = cert.subject();
    let organization = attribute(
        subject
            .iter_organization()
            .filter_map(|a| a.as_str().ok())
            .collect(),
    );
    let common_name = attribute(
        subject
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .collect(),
    );
    Ok(json!({
        "subject": {"organization": organization, "commonName": common_name},
        "uri": ca.url,
        "certChain": {"certificates": ca.chain_der.iter()
            .map(|der| json!({"rawBytes": STANDARD.encode(der)}))
            .collect::<Vec<_>>()},
        "validFor": ca.valid.to_json()?,
    }))
}

/// The signing config: where clients get certificates and log entries.
pub fn signing_config(
    ca_urls: &[Service],
    oidc_urls: &[Service],
    rekor_tlog_urls: &[Service],
    tsa_urls: &[Service],
) -> Result<Value, TrustRootError> {
    let services = |list: &[Service]| -> Result<Vec<Value>, TrustRootError> {
        list.iter()
            .map(|s| {
                Ok(json!({
                    "url": s.url,
                    "majorApiVersion": s.major_api_version,
                    "validFor": s.valid.to_json()?,
                    "operator": s.operator,
                }))
            })
            .collect()
    };
    Ok(json!({
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": services(ca_urls)?,
        "oidcUrls": services(oidc_urls)?,
        "rekorTlogUrls": services(rekor_tlog_urls)?,
        "tsaUrls": services(tsa_urls)?,
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }))
}

/// The ClientTrustConfig of sigstore-python (`--trust-config`) and sigstore-rs.
pub fn client_trust_config(trusted_root: Value, signing_config: Value) -> Value {
    json!({
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": trusted_root,
        "signingConfig": signing_config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyType, PrivateKey};

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    #[test]
    fn logs_carry_key_id_details_and_windows() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let der = key.public_key_der();
        let retired = LogKey {
            base_url: "https://rekor.example".into(),
            public_key_der: der.clone(),
            valid: Validity {
                start: at(1_700_000_000),
                end: Some(at(1_800_000_000)),
            },
        };
        let root = trusted_root(&[retired], &[], &[], &[]).unwrap();
        let tlog = &root["tlogs"][0];
        assert_eq!(tlog["publicKey"]["keyDetails"], "PKIX_ECDSA_P256_SHA_256");
        assert_eq!(
            tlog["publicKey"]["validFor"]["start"],
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(tlog["publicKey"]["validFor"]["end"], "2027-01-15T08:00:00Z");
        assert_eq!(
            tlog["logId"]["keyId"],
            STANDARD.encode(Sha256::digest(&der))
        );
        assert_eq!(root["mediaType"], TRUSTED_ROOT_MEDIA_TYPE);
    }

    #[test]
    fn ed25519_keys_are_described_and_cas_named_by_their_issuing_certificate() {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let log = LogKey {
            base_url: "https://witnessed.example".into(),
            public_key_der: key.public_key_der(),
            valid: Validity::since(at(0)),
        };
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "SIG Release");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "release intermediate");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&ca_key).unwrap();
        let ca = CaChain {
            url: "https://fulcio.example".into(),
            chain_der: vec![cert.der().to_vec()],
            valid: Validity::since(at(0)),
        };
        let root = trusted_root(
            &[],
            &[log],
            std::slice::from_ref(&ca),
            std::slice::from_ref(&ca),
        )
        .unwrap();
        assert_eq!(root["ctlogs"][0]["publicKey"]["keyDetails"], "PKIX_ED25519");
        let authority = &root["certificateAuthorities"][0];
        assert_eq!(authority["subject"]["organization"], "SIG Release");
        assert_eq!(authority["subject"]["commonName"], "release intermediate");
        assert_eq!(
            authority["certChain"]["certificates"][0]["rawBytes"],
            STANDARD.encode(cert.der())
        );
        // A TSA is described the same way, with its own window.
        assert_eq!(root["timestampAuthorities"][0], *authority);
        let empty = CaChain {
            url: "https://fulcio.example".into(),
            chain_der: Vec::new(),
            valid: Validity::since(at(0)),
        };
        assert!(trusted_root(&[], &[], &[empty], &[]).is_err());
    }

    #[test]
    fn an_ed25519_tlog_is_named_by_its_checkpoint_key_id_a_ct_log_by_its_spki() {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let log = LogKey {
            base_url: "https://log2026.rekor.example:8443".into(),
            public_key_der: key.public_key_der(),
            valid: Validity::since(at(0)),
        };
        let root = trusted_root(
            std::slice::from_ref(&log),
            std::slice::from_ref(&log),
            &[],
            &[],
        )
        .unwrap();
        let mut material = b"log2026.rekor.example\n\x01".to_vec();
        material.extend(key.public_key_raw());
        assert_eq!(
            root["tlogs"][0]["logId"]["keyId"],
            STANDARD.encode(Sha256::digest(&material))
        );
        assert_eq!(
            root["ctlogs"][0]["logId"]["keyId"],
            STANDARD.encode(Sha256::digest(key.public_key_der()))
        );
        let no_host = LogKey {
            base_url: "not a url".into(),
            ..log
        };
        assert!(trusted_root(&[no_host], &[], &[], &[]).is_err());
    }

    #[test]
    fn signing_config_lists_services_with_operator_and_window() {
        let service = |url: &str, version| Service {
            url: url.into(),
            major_api_version: version,
            valid: Validity::since(at(0)),
            operator: "sig-release".into(),
        };
        let config = signing_config(
            &[service("https://fulcio.example", 1)],
            &[service("https://oidc.example", 1)],
            &[service("https://rekor.example", 1)],
            &[service("https://tsa.example/api/v1/timestamp", 1)],
        )
        .unwrap();
        assert_eq!(
            config["tsaUrls"][0]["url"],
            "https://tsa.example/api/v1/timestamp"
        );
        assert_eq!(config["caUrls"][0]["operator"], "sig-release");
        assert_eq!(config["rekorTlogUrls"][0]["majorApiVersion"], 1);
        assert_eq!(config["rekorTlogConfig"]["selector"], "ANY");
        let both = client_trust_config(json!({}), config);
        assert_eq!(both["mediaType"], CLIENT_TRUST_CONFIG_MEDIA_TYPE);
    }
}
