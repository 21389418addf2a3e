//! The legacy v1 API (cosign 2.x): signingCert answers 201 with a PEM chain,
//! rootCert answers the CA chain as PEM.

use std::sync::Arc;

use atesto_common::error::ApiError;
use atesto_common::http::Body;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::signing_cert::{self, KeyMaterial};
use super::{CaState, decode_bytes, decode_optional, parse_request};

const PEM_CHAIN: &str = "application/pem-certificate-chain";

pub fn routes() -> Router<Arc<CaState>> {
    Router::new()
        .route("/api/v1/signingCert", post(signing_cert))
        .route("/api/v1/rootCert", get(root_cert))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SigningCertRequest {
    public_key: Option<PublicKey>,
    /// base64 signature over the challenge (named after its first use, email).
    signed_email_address: Option<String>,
    certificate_signing_request: Option<String>,
}

#[derive(Deserialize)]
struct PublicKey {
    /// base64 of a DER or PEM public key.
    content: Option<String>,
}

async fn signing_cert(
    State(state): State<Arc<CaState>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let request: SigningCertRequest = parse_request(&body)?;
    // v1 takes the token from the Authorization header only.
    let token = signing_cert::identity_token(None, &headers)?;
    let key = match request
        .certificate_signing_request
        .filter(|c| !c.is_empty())
    {
        Some(csr) => KeyMaterial::Csr(
            decode_bytes("certificateSigningRequest", &csr).map_err(ApiError::bad_request)?,
        ),
        None => KeyMaterial::PublicKey {
            content: decode_optional(
                "publicKey.content",
                request.public_key.and_then(|k| k.content),
            )?,
            proof: decode_optional("signedEmailAddress", request.signed_email_address)?,
        },
    };
    let issued = signing_cert::issue(&state, &token, &key).await?;
    Ok(pem_chain(StatusCode::CREATED, &issued.certificates))
}

async fn root_cert(State(state): State<Arc<CaState>>) -> Response {
    pem_chain(StatusCode::OK, state.issuer.chain_pem())
}

/// PEM blocks joined by newlines, as upstream answers.
fn pem_chain(status: StatusCode, certificates: &[String]) -> Response {
    let joined: Vec<&str> = certificates.iter().map(|pem| pem.trim_end()).collect();
    (
        status,
        [(header::CONTENT_TYPE, PEM_CHAIN)],
        joined.join("\n"),
    )
        .into_response()
}
