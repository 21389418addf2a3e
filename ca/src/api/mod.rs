//! The CA's HTTP surface: Fulcio's v2 API (`v2`), the legacy v1 API that
//! cosign 2.x uses (`v1`), Fulcio's gRPC API (`grpc`, HTTP/2 on the same
//! port), all built on one issuance flow (`signing_cert`), and operations
//! (`ops`: health and metrics).
//!
//! Every failure a client can cause answers 4xx in the `{"code","message"}`
//! shape, naming the check that failed; the CT log or an identity provider
//! being unreachable is a 502/503, never blamed on the client.

pub mod grpc;
pub mod ops;
pub mod signing_cert;
pub mod v1;
pub mod v2;

use std::sync::Arc;

use atesto_common::cpu_pool::CpuPool;
use atesto_common::error::ApiError;
use atesto_common::http::{ApiOptions, with_common_layers};
use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::de::DeserializeOwned;

use crate::ct_client::CtLogClient;
use crate::identity::IdentityVerifier;
use crate::issuance::CertificateIssuer;
use crate::metrics::Metrics;

/// What every handler shares.
pub struct CaState {
    pub identity: IdentityVerifier,
    pub issuer: Arc<CertificateIssuer>,
    /// None only when the operator allowed certificates without SCTs.
    pub ct_log: Option<CtLogClient>,
    pub metrics: Arc<Metrics>,
    /// Where key checks and certificate signing run, off the async workers.
    pub cpu: CpuPool,
}

pub fn router(state: Arc<CaState>, options: &ApiOptions) -> Router {
    let metrics = state.metrics.http.clone();
    let routes = Router::new()
        .merge(v2::routes())
        .merge(v1::routes())
        .merge(ops::routes())
        .with_state(state.clone())
        .merge(grpc::routes(state, options.body_limit));
    with_common_layers(routes, metrics, options)
}

/// The JSON body of a signing request; malformed JSON is a 400 saying where.
pub(crate) fn parse_request<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("malformed signing request: {err}")))
}

/// An optional `bytes` field, empty when absent; bad base64 is a 400.
pub(crate) fn decode_optional(field: &str, value: Option<String>) -> Result<Vec<u8>, ApiError> {
    match value {
        Some(value) => decode_bytes(field, &value).map_err(ApiError::bad_request),
        None => Ok(Vec::new()),
    }
}

/// Decodes a protobuf-JSON `bytes` field: standard or URL-safe base64, with
/// or without padding, as protobuf's JSON mapping accepts.
pub(crate) fn decode_bytes(field: &str, value: &str) -> Result<Vec<u8>, String> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value).ok())
        .ok_or_else(|| format!("{field} is not valid base64"))
}

#[cfg(test)]
mod tests {
    use super::decode_bytes;

    #[test]
    fn bytes_fields_accept_every_base64_flavour() {
        for encoded in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(
                decode_bytes("f", encoded).unwrap(),
                vec![0xfb, 0xff],
                "{encoded}"
            );
        }
        assert_eq!(
            decode_bytes("proof", "*").unwrap_err(),
            "proof is not valid base64"
        );
    }
}
