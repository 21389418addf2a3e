//! Fulcio's gRPC API (`dev.sigstore.fulcio.v2.CA`, ca/proto/fulcio.proto),
//! served over HTTP/2 on the CA's port beside REST: sigstore-java asks for
//! certificates this way. Every RPC runs the REST handlers' flow and refuses
//! with the same messages; the HTTP status a REST client would get becomes
//! the matching gRPC code.

use std::sync::Arc;

use atesto_common::error::ApiError;
use axum::http::StatusCode;
use serde_json::Value;
use tonic::{Code, Request, Response, Status};

use super::CaState;
use super::signing_cert::{self, KeyMaterial};
use proto::ca_server::{Ca, CaServer};
use proto::create_signing_certificate_request::Key;
use proto::{
    CertificateChain, Configuration, CreateSigningCertificateRequest, GetConfigurationRequest,
    GetTrustBundleRequest, OidcIssuer, SigningCertificate, SigningCertificateDetachedSct,
    SigningCertificateEmbeddedSct, TrustBundle, credentials, oidc_issuer, signing_certificate,
};

/// The code generated from ca/proto/fulcio.proto (server, and a client for tests).
#[allow(clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("dev.sigstore.fulcio.v2");
}

/// The metadata key upstream Fulcio's gRPC server reads a token from when
/// the request carries none.
const TOKEN_METADATA: &str = "oidcidentitytoken";

/// The gRPC routes, to merge into the CA's router. Messages are held to the
/// REST body limit.
pub fn routes(state: Arc<CaState>, body_limit: usize) -> axum::Router {
    let service = CaServer::new(GrpcCa { state }).max_decoding_message_size(body_limit);
    tonic::service::Routes::new(service).into_axum_router()
}

struct GrpcCa {
    state: Arc<CaState>,
}

#[tonic::async_trait]
impl Ca for GrpcCa {
    async fn create_signing_certificate(
        &self,
        request: Request<CreateSigningCertificateRequest>,
    ) -> Result<Response<SigningCertificate>, Status> {
        let headers = request.metadata().clone().into_headers();
        let request = request.into_inner();
        let from_body = request
            .credentials
            .and_then(|c| c.credentials)
            .map(|credentials::Credentials::OidcIdentityToken(token)| token)
            .filter(|token| !token.is_empty());
        let from_metadata = headers
            .get(TOKEN_METADATA)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let token =
            signing_cert::identity_token(from_body.or(from_metadata), &headers).map_err(status)?;
        let key = key_material(request.key).map_err(status)?;
        let issued = signing_cert::issue(&self.state, &token, &key)
            .await
            .map_err(status)?;
        let chain = Some(CertificateChain {
            certificates: issued.certificates,
        });
        let certificate = if issued.embedded_sct {
            signing_certificate::Certificate::SignedCertificateEmbeddedSct(
                SigningCertificateEmbeddedSct { chain },
            )
        } else {
            signing_certificate::Certificate::SignedCertificateDetachedSct(
                SigningCertificateDetachedSct {
                    chain,
                    signed_certificate_timestamp: Vec::new(),
                },
            )
        };
        Ok(Response::new(SigningCertificate {
            certificate: Some(certificate),
        }))
    }

    async fn get_trust_bundle(
        &self,
        _request: Request<GetTrustBundleRequest>,
    ) -> Result<Response<TrustBundle>, Status> {
        let chain = CertificateChain {
            certificates: self.state.issuer.chain_pem().to_vec(),
        };
        Ok(Response::new(TrustBundle {
            chains: vec![chain],
        }))
    }

    async fn get_configuration(
        &self,
        _request: Request<GetConfigurationRequest>,
    ) -> Result<Response<Configuration>, Status> {
        Ok(Response::new(configuration(
            &self.state.identity.configuration(),
        )))
    }
}

fn key_material(key: Option<Key>) -> Result<KeyMaterial, ApiError> {
    match key {
        Some(Key::CertificateSigningRequest(csr)) if !csr.is_empty() => Ok(KeyMaterial::Csr(csr)),
        Some(Key::PublicKeyRequest(request)) => Ok(KeyMaterial::PublicKey {
            content: super::v2::public_key_content(
                request.public_key.map(|k| k.content).unwrap_or_default(),
            )?,
            proof: request.proof_of_possession,
        }),
        _ => Err(ApiError::bad_request(
            "the request carries no public key: send public_key_request or certificate_signing_request",
        )),
    }
}

/// The REST configuration (`GET /api/v2/configuration`, in protobuf JSON)
/// as its protobuf message, so both APIs describe the issuers alike.
fn configuration(rest: &Value) -> Configuration {
    let text = |issuer: &Value, name: &str| {
        issuer
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let issuers = rest
        .get("issuers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|issuer| OidcIssuer {
            issuer: match issuer.get("wildcardIssuerUrl") {
                Some(_) => Some(oidc_issuer::Issuer::WildcardIssuerUrl(text(
                    issuer,
                    "wildcardIssuerUrl",
                ))),
                None => Some(oidc_issuer::Issuer::IssuerUrl(text(issuer, "issuerUrl"))),
            },
            audience: text(issuer, "audience"),
            challenge_claim: text(issuer, "challengeClaim"),
            spiffe_trust_domain: text(issuer, "spiffeTrustDomain"),
            issuer_type: text(issuer, "issuerType"),
            subject_domain: text(issuer, "subjectDomain"),
            skip_email_verification: issuer
                .get("skipEmailVerification")
                .and_then(Value::as_bool)
                .unwrap_or_default(),
        })
        .collect();
    Configuration { issuers }
}

/// A REST refusal as a gRPC status: same message, the code matching its
/// HTTP status. Upstream Fulcio answers InvalidArgument for a bad token;
/// Atesto's REST answers 401 there, so gRPC says Unauthenticated.
fn status(error: ApiError) -> Status {
    let code = match error.status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Code::InvalidArgument,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::REQUEST_TIMEOUT => Code::DeadlineExceeded,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        _ => Code::Internal,
    };
    Status::new(code, error.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_keep_their_message_and_map_to_grpc_codes() {
        let cases = [
            (StatusCode::BAD_REQUEST, Code::InvalidArgument),
            (StatusCode::UNAUTHORIZED, Code::Unauthenticated),
            (StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted),
            (StatusCode::BAD_GATEWAY, Code::Unavailable),
            (StatusCode::INTERNAL_SERVER_ERROR, Code::Internal),
        ];
        for (http, grpc) in cases {
            let status = status(ApiError::new(http, "why"));
            assert_eq!((status.code(), status.message()), (grpc, "why"), "{http}");
        }
    }

    #[test]
    fn configuration_carries_every_issuer_field() {
        let rest = json!({"issuers": [
            {"issuerUrl": "https://a", "audience": "sigstore", "challengeClaim": "email",
             "issuerType": "email", "skipEmailVerification": true},
            {"wildcardIssuerUrl": "https://*.b", "audience": "x", "challengeClaim": "sub",
             "issuerType": "spiffe", "spiffeTrustDomain": "b", "subjectDomain": "d"},
        ]});
        let issuers = configuration(&rest).issuers;
        assert_eq!(
            issuers[0].issuer,
            Some(oidc_issuer::Issuer::IssuerUrl("https://a".into()))
        );
        assert!(issuers[0].skip_email_verification);
        assert_eq!(issuers[0].challenge_claim, "email");
        assert_eq!(
            issuers[1].issuer,
            Some(oidc_issuer::Issuer::WildcardIssuerUrl("https://*.b".into()))
        );
        assert_eq!(
            (
                issuers[1].spiffe_trust_domain.as_str(),
                issuers[1].subject_domain.as_str(),
                issuers[1].issuer_type.as_str()
            ),
            ("b", "d", "spiffe")
        );
    }
}
