//! Timestamp requests as clients send them: a DER `TimeStampReq`
//! (`application/timestamp-query`, RFC 3161) or the JSON form of sigstore's
//! timestamp-authority (`application/json`). Both become a `TimestampRequest`
//! whose imprint has passed the hash checks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cms::cert::x509::spki::AlgorithmIdentifier;
use der::asn1::OctetString;
use der::asn1::{Int, ObjectIdentifier};
use der::{Decode, Tagged};
use serde::Deserialize;
use x509_tsp::{MessageImprint, TimeStampReq};

use crate::TsaError;
use crate::oid::parse_oid;

/// The hash functions whose imprints are timestamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImprintHash {
    Sha256,
    Sha384,
    Sha512,
}

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
pub(crate) const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub(crate) const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

impl ImprintHash {
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            ImprintHash::Sha256 => SHA256,
            ImprintHash::Sha384 => SHA384,
            ImprintHash::Sha512 => SHA512,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ImprintHash::Sha256 => "SHA-256",
            ImprintHash::Sha384 => "SHA-384",
            ImprintHash::Sha512 => "SHA-512",
        }
    }

    fn len(self) -> usize {
        match self {
            ImprintHash::Sha256 => 32,
            ImprintHash::Sha384 => 48,
            ImprintHash::Sha512 => 64,
        }
    }

    fn from_oid(oid: ObjectIdentifier) -> Result<Self, TsaError> {
        match oid {
            SHA256 => Ok(ImprintHash::Sha256),
            SHA384 => Ok(ImprintHash::Sha384),
            SHA512 => Ok(ImprintHash::Sha512),
            SHA1 => Err(weak_sha1()),
            other => Err(TsaError::BadRequest(format!(
                "Weak hash algorithm in timestamp request: unknown hash algorithm OID {other}; use SHA-256, SHA-384 or SHA-512"
            ))),
        }
    }

    /// The names sigstore's JSON requests use.
    fn from_json_name(name: &str) -> Result<Self, TsaError> {
        match name.to_ascii_lowercase().as_str() {
            "sha256" => Ok(ImprintHash::Sha256),
            "sha384" => Ok(ImprintHash::Sha384),
            "sha512" => Ok(ImprintHash::Sha512),
            "sha1" => Err(weak_sha1()),
            _ => Err(TsaError::BadRequest(format!(
                "Weak hash algorithm in timestamp request: unknown hashAlgorithm {name:?}; use sha256, sha384 or sha512"
            ))),
        }
    }
}

fn weak_sha1() -> TsaError {
    TsaError::BadRequest(
        "Weak hash algorithm in timestamp request: SHA-1 is not accepted; use SHA-256, SHA-384 or SHA-512".into(),
    )
}

/// A request that passed the checks every request must pass; the policy
/// is checked against the TSA's own list when the timestamp is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRequest {
    pub hash: ImprintHash,
    /// The imprint as the client encoded it: the timestamp repeats it.
    pub imprint: MessageImprint,
    /// Echoed in the timestamp as sent (DER INTEGER contents).
    pub nonce: Option<Int>,
    /// Whether the reply carries the TSA certificate.
    pub cert_req: bool,
    pub policy: Option<ObjectIdentifier>,
}

impl TimestampRequest {
    fn new(
        hash: ImprintHash,
        imprint: MessageImprint,
        nonce: Option<Int>,
        cert_req: bool,
        policy: Option<ObjectIdentifier>,
    ) -> Result<Self, TsaError> {
        let digest = imprint.hashed_message.as_bytes();
        if digest.len() != hash.len() {
            return Err(TsaError::BadRequest(format!(
                "Message digest has incorrect length for specified algorithm: {} digests are {} bytes, the request has {}",
                hash.name(),
                hash.len(),
                digest.len()
            )));
        }
        Ok(Self {
            hash,
            imprint,
            nonce,
            cert_req,
            policy,
        })
    }

    /// A request for the start-up self-check.
    pub(crate) fn probe() -> Result<Self, TsaError> {
        Ok(Self {
            hash: ImprintHash::Sha256,
            imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifier {
                    oid: SHA256,
                    parameters: None,
                },
                hashed_message: OctetString::new([0u8; 32].to_vec())
                    .map_err(|e| TsaError::Internal(e.to_string()))?,
            },
            nonce: None,
            cert_req: true,
            policy: None,
        })
    }

    /// A DER `TimeStampReq`.
    pub fn from_der(body: &[u8]) -> Result<Self, TsaError> {
        let request = TimeStampReq::from_der(body).map_err(|e| {
            TsaError::BadRequest(format!(
                "Error parsing timestamp request: not a DER TimeStampReq (RFC 3161): {e}"
            ))
        })?;
        if request.extensions.is_some() {
            return Err(TsaError::BadRequest(
                "Error parsing timestamp request: request extensions are not supported".into(),
            ));
        }
        let imprint = request.message_imprint;
        // Hash parameters are absent or NULL; anything else is not a plain SHA-2.
        if let Some(parameters) = &imprint.hash_algorithm.parameters
            && parameters.tag() != der::Tag::Null
        {
            return Err(TsaError::BadRequest(
                "Error parsing timestamp request: hash algorithm parameters must be absent or NULL"
                    .into(),
            ));
        }
        let hash = ImprintHash::from_oid(imprint.hash_algorithm.oid)?;
        Self::new(
            hash,
            imprint,
            request.nonce,
            request.cert_req,
            request.req_policy,
        )
    }

    /// sigstore's JSON request.
    pub fn from_json(body: &[u8]) -> Result<Self, TsaError> {
        let request: JsonRequest = serde_json::from_slice(body)
            .map_err(|e| TsaError::BadRequest(format!("Error parsing timestamp request: {e}")))?;
        let hash = ImprintHash::from_json_name(&request.hash_algorithm)?;
        let digest = STANDARD.decode(&request.artifact_hash).map_err(|e| {
            TsaError::BadRequest(format!(
                "Error parsing timestamp request: artifactHash is not base64: {e}"
            ))
        })?;
        let nonce = request
            .nonce
            .map(|nonce| positive_int(&nonce.to_be_bytes()))
            .transpose()?;
        let policy = request
            .tsa_policy_oid
            .filter(|oid| !oid.is_empty())
            .map(|oid| {
                parse_oid(&oid).map_err(|e| {
                    TsaError::BadRequest(format!(
                        "Error parsing timestamp request: tsaPolicyOID {oid:?} is not an OID: {e}"
                    ))
                })
            })
            .transpose()?;
        let imprint = MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: hash.oid(),
                parameters: None,
            },
            hashed_message: OctetString::new(digest).map_err(|e| {
                TsaError::BadRequest(format!(
                    "Error parsing timestamp request: artifactHash: {e}"
                ))
            })?,
        };
        Self::new(hash, imprint, nonce, request.certificates, policy)
    }
}

/// The DER INTEGER of an unsigned big-endian number: leading zeros dropped,
/// one kept where the top bit would read as a sign.
pub(crate) fn positive_int(bytes: &[u8]) -> Result<Int, TsaError> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let mut minimal = bytes[start..].to_vec();
    if minimal.first().is_none_or(|b| b & 0x80 != 0) {
        minimal.insert(0, 0);
    }
    Int::new(&minimal).map_err(|e| TsaError::Internal(format!("encoding an INTEGER: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonRequest {
    artifact_hash: String,
    hash_algorithm: String,
    #[serde(default)]
    nonce: Option<u64>,
    #[serde(default)]
    certificates: bool,
    #[serde(default, rename = "tsaPolicyOID")]
    tsa_policy_oid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;
    use x509_tsp::TspVersion;

    fn der_request(oid: ObjectIdentifier, digest: &[u8]) -> Vec<u8> {
        TimeStampReq {
            version: TspVersion::V1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifier {
                    oid,
                    parameters: None,
                },
                hashed_message: OctetString::new(digest).unwrap(),
            },
            req_policy: None,
            nonce: Some(Int::new(&[0x01, 0x02]).unwrap()),
            cert_req: true,
            extensions: None,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn der_requests_pass_the_hash_checks_or_say_which_failed() {
        let good = TimestampRequest::from_der(&der_request(SHA384, &[7; 48])).unwrap();
        assert_eq!(good.hash, ImprintHash::Sha384);
        assert!(good.cert_req);
        let message = |result: Result<TimestampRequest, TsaError>| result.unwrap_err().to_string();
        assert!(
            message(TimestampRequest::from_der(&der_request(SHA1, &[7; 20]))).contains("SHA-1")
        );
        let unknown = ObjectIdentifier::new_unwrap("1.2.3.4");
        assert!(
            message(TimestampRequest::from_der(&der_request(unknown, &[7; 32])))
                .contains("1.2.3.4")
        );
        assert!(
            message(TimestampRequest::from_der(&der_request(SHA256, &[7; 31])))
                .contains("incorrect length")
        );
        assert!(message(TimestampRequest::from_der(b"\x30\x03\x02\x01")).contains("DER"));
    }

    #[test]
    fn json_requests_read_like_sigstore_sends_them() {
        let body = serde_json::json!({
            "artifactHash": STANDARD.encode([1u8; 32]),
            "hashAlgorithm": "sha256",
            "nonce": 1234,
            "certificates": true,
            "tsaPolicyOID": "1.3.6.1.4.1.57264.2",
        });
        let request = TimestampRequest::from_json(body.to_string().as_bytes()).unwrap();
        assert_eq!(request.imprint.hashed_message.as_bytes(), &[1u8; 32]);
        assert_eq!(request.nonce.unwrap().as_bytes(), &[0x04, 0xd2]);
        let sha1 = serde_json::json!({"artifactHash": STANDARD.encode([1u8; 20]), "hashAlgorithm": "sha1"});
        assert!(TimestampRequest::from_json(sha1.to_string().as_bytes()).is_err());
    }
}
