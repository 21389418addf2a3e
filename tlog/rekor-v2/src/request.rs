//! The CreateEntryRequest of `POST /api/v2/log/entries`, as protobuf JSON:
//! upstream's gateway refuses unknown fields, takes the camelCase JSON names
//! and the snake_case proto names alike, reads `null` as absent, and
//! decodes bytes from standard or URL-safe base64, padded or not.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEntryRequest {
    #[serde(
        rename = "hashedRekordRequestV002",
        alias = "hashed_rekord_request_v002"
    )]
    pub hashed_rekord: Option<HashedRekordRequest>,
    /// Removed from rekor-tiles in v2.3: present only to be refused by name.
    #[serde(rename = "dsseRequestV002", alias = "dsse_request_v002")]
    pub dsse: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashedRekordRequest {
    pub digest: Option<Bytes>,
    pub signature: Option<Signature>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub content: Option<Bytes>,
    pub verifier: Option<Verifier>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verifier {
    #[serde(rename = "publicKey", alias = "public_key")]
    pub public_key: Option<RawBytes>,
    #[serde(rename = "x509Certificate", alias = "x509_certificate")]
    pub x509_certificate: Option<RawBytes>,
    #[serde(rename = "keyDetails", alias = "key_details")]
    pub key_details: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBytes {
    #[serde(rename = "rawBytes", alias = "raw_bytes")]
    pub raw_bytes: Option<Bytes>,
}

/// A protobuf `bytes` field: base64 text on the wire. Kept as text here so
/// that the refusal can name the field (`Bytes::decode`).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Bytes(pub String);

const PADDING_OPTIONAL: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, PADDING_OPTIONAL);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, PADDING_OPTIONAL);

impl Bytes {
    /// The bytes, or why not (`None`: not base64).
    pub fn decode(&self) -> Option<Vec<u8>> {
        STANDARD
            .decode(&self.0)
            .or_else(|_| URL_SAFE.decode(&self.0))
            .ok()
    }
}

/// Parses a request body; the message is serde's, which names the field.
pub fn parse(body: &[u8]) -> Result<CreateEntryRequest, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}
