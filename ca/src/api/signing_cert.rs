//! The one issuance flow behind both API versions: token -> principal,
//! key + proof of possession, precertificate, SCT from the CT log (only once
//! the log has made the entry durable), final certificate.

use std::time::Instant;

use atesto_common::error::ApiError;
use axum::http::{HeaderMap, StatusCode, header};
use pem_rfc7468::LineEnding;

use super::CaState;
use crate::client_key::{self, KeySubmission};
use crate::identity::IdentityError;
use crate::principal::SubjectAltName;

/// The client's key as the request carried it.
#[derive(Clone)]
pub enum KeyMaterial {
    /// A PEM or DER public key and the signature over the challenge.
    PublicKey { content: Vec<u8>, proof: Vec<u8> },
    /// A PKCS#10 request (PEM or DER).
    Csr(Vec<u8>),
}

/// A certificate chain, leaf first, root last, each a PEM block.
pub struct IssuedChain {
    pub certificates: Vec<String>,
    /// False only when the operator allowed issuing without a CT log.
    pub embedded_sct: bool,
}

/// The token from the body, else from `Authorization: Bearer`, as Fulcio reads it.
pub fn identity_token(from_body: Option<String>, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(token) = from_body.filter(|t| !t.is_empty()) {
        return Ok(token);
    }
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    match header.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no identity token: send it as `Authorization: Bearer <token>` or in credentials.oidcIdentityToken",
        )),
    }
}

pub async fn issue(
    state: &CaState,
    token: &str,
    key: &KeyMaterial,
) -> Result<IssuedChain, ApiError> {
    let refuse = |check: &str, error: ApiError| {
        state.metrics.refusals.with_label_values(&[check]).inc();
        error
    };
    let principal = state.identity.verify(token).await.map_err(|err| {
        // An unreachable provider (discovery, JWKS) is not the token's fault.
        let check = if err.is_client_error() {
            "token"
        } else {
            "identity_provider"
        };
        refuse(check, identity_failure(&err))
    })?;

    let challenge_claim = match principal.san {
        SubjectAltName::Email(_) => "email",
        SubjectAltName::Uri(_) | SubjectAltName::Username(_) => "sub",
    };
    // Signature checks and certificate signing are CPU work (or an HSM
    // round trip): they run in the bounded pool, off the async workers.
    let (key, challenge) = (key.clone(), principal.challenge.clone());
    let client_key = state
        .cpu
        .run(move || {
            let submission = match &key {
                KeyMaterial::PublicKey { content, proof } => {
                    KeySubmission::PublicKey { content, proof }
                }
                KeyMaterial::Csr(csr) => KeySubmission::Csr(csr),
            };
            client_key::verify(submission, &challenge, challenge_claim)
        })
        .await?
        .map_err(|err| refuse("key", ApiError::bad_request(err.to_string())))?;
    let subject_spki = client_key.spki_der().to_vec();

    let issuer = &state.issuer;
    let Some(ct_log) = &state.ct_log else {
        let (signer, principal) = (issuer.clone(), principal.clone());
        let leaf = state
            .cpu
            .run(move || signer.issue_without_sct(&subject_spki, &principal))
            .await?
            .map_err(|err| refuse("issuance", internal("issuing a certificate", &err)))?;
        state
            .metrics
            .certificates
            .with_label_values(&["none"])
            .inc();
        return Ok(chain(issuer, &leaf, false));
    };
    let (signer, signed_for) = (issuer.clone(), principal.clone());
    let precert = state
        .cpu
        .run(move || signer.precertificate(&subject_spki, &signed_for))
        .await?
        .map_err(|err| refuse("issuance", internal("making the precertificate", &err)))?;
    let started = Instant::now();
    let sct = ct_log
        .add_pre_chain(&precert, issuer.chain_der())
        .await
        .map_err(|err| {
            tracing::error!(%err, "the CT log gave no usable SCT");
            refuse(
                "ct_log",
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("the CT log did not provide a valid SCT: {err}"),
                ),
            )
        })?;
    state
        .metrics
        .ct_seconds
        .observe(started.elapsed().as_secs_f64());
    let signer = issuer.clone();
    let leaf = state
        .cpu
        .run(move || signer.finish(precert, &sct))
        .await?
        .map_err(|err| refuse("issuance", internal("finishing the certificate", &err)))?;
    state
        .metrics
        .certificates
        .with_label_values(&["embedded"])
        .inc();
    Ok(chain(issuer, &leaf, true))
}

fn chain(
    issuer: &crate::issuance::CertificateIssuer,
    leaf_der: &[u8],
    embedded_sct: bool,
) -> IssuedChain {
    let mut certificates = Vec::with_capacity(1 + issuer.chain_pem().len());
    certificates.push(certificate_pem(leaf_der));
    certificates.extend(issuer.chain_pem().iter().cloned());
    IssuedChain {
        certificates,
        embedded_sct,
    }
}

fn certificate_pem(der: &[u8]) -> String {
    // Encoding into a String only fails on a length overflow, impossible for a certificate.
    pem_rfc7468::encode_string("CERTIFICATE", LineEnding::LF, der).unwrap_or_default()
}

/// Token problems are the client's (401, with the precise reason); an
/// identity provider that cannot be reached is not (503).
fn identity_failure(err: &IdentityError) -> ApiError {
    if err.is_uncertifiable_identity() {
        ApiError::bad_request(err.to_string())
    } else if err.is_client_error() {
        ApiError::new(StatusCode::UNAUTHORIZED, err.to_string())
    } else {
        tracing::warn!(%err, "identity provider unavailable");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
    }
}

fn internal(doing: &str, err: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(%err, "{doing} failed");
    ApiError::internal()
}
