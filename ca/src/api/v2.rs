//! Fulcio's v2 API: signingCert, trustBundle, configuration.
//!
//! Replies are JSON whatever the Accept header says: sigstore-python asks
//! for `application/pem-certificate-chain` yet parses JSON.

use std::sync::Arc;

use atesto_common::error::ApiError;
use atesto_common::http::{Body, json_response};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::signing_cert::{self, KeyMaterial};
use super::{CaState, decode_bytes, decode_optional, parse_request};

pub fn routes() -> Router<Arc<CaState>> {
    Router::new()
        .route("/api/v2/signingCert", post(signing_cert))
        .route("/api/v2/trustBundle", get(trust_bundle))
        .route("/api/v2/configuration", get(configuration))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SigningCertRequest {
    credentials: Option<Credentials>,
    public_key_request: Option<PublicKeyRequest>,
    /// base64 of a PEM PKCS#10 request.
    certificate_signing_request: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    oidc_identity_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyRequest {
    public_key: Option<PublicKey>,
    /// base64 signature over the challenge.
    proof_of_possession: Option<String>,
}

#[derive(Deserialize)]
struct PublicKey {
    /// PEM (or base64 DER) SubjectPublicKeyInfo. `algorithm` is advisory:
    /// the key's type comes from the key itself.
    content: Option<String>,
}

async fn signing_cert(
    State(state): State<Arc<CaState>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let request: SigningCertRequest = parse_request(&body)?;
    let token = signing_cert::identity_token(
        request.credentials.and_then(|c| c.oidc_identity_token),
        &headers,
    )?;
    let key = key_material(
        request.public_key_request,
        request.certificate_signing_request,
    )?;
    let issued = signing_cert::issue(&state, &token, &key).await?;
    let variant = if issued.embedded_sct {
        "signedCertificateEmbeddedSct"
    } else {
        "signedCertificateDetachedSct"
    };
    let body = json!({ variant: { "chain": { "certificates": issued.certificates } } });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

fn key_material(
    public_key_request: Option<PublicKeyRequest>,
    csr: Option<String>,
) -> Result<KeyMaterial, ApiError> {
    if let Some(csr) = csr.filter(|c| !c.is_empty()) {
        return decode_bytes("certificateSigningRequest", &csr)
            .map(KeyMaterial::Csr)
            .map_err(ApiError::bad_request);
    }
    let request = public_key_request.ok_or_else(|| {
        ApiError::bad_request(
            "the request carries no public key: send publicKeyRequest or certificateSigningRequest",
        )
    })?;
    let content = public_key_content(
        request
            .public_key
            .and_then(|k| k.content)
            .unwrap_or_default(),
    )?;
    let proof = decode_optional("proofOfPossession", request.proof_of_possession)?;
    Ok(KeyMaterial::PublicKey { content, proof })
}

/// The key bytes of a `publicKey.content`: a PEM travels as text, a bare
/// base64 DER key is decoded. Shared with the gRPC API.
pub(super) fn public_key_content(content: String) -> Result<Vec<u8>, ApiError> {
    if content.trim_start().starts_with("-----BEGIN") || content.is_empty() {
        Ok(content.into_bytes())
    } else {
        decode_bytes("publicKey.content", content.trim()).map_err(ApiError::bad_request)
    }
}

async fn trust_bundle(State(state): State<Arc<CaState>>) -> Response {
    let body = json!({ "chains": [ { "certificates": state.issuer.chain_pem() } ] });
    json_response(StatusCode::OK, body.to_string())
}

async fn configuration(State(state): State<Arc<CaState>>) -> Response {
    json_response(StatusCode::OK, state.identity.configuration().to_string())
}
