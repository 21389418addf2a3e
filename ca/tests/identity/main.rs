//! End-to-end token verification against an in-process OIDC issuer.

mod issuer_types;
mod key_fetching;
mod refusals;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atesto_ca::identity::dev_issuer::DevIssuer;
use atesto_ca::identity::{IdentityError, IdentityVerifier, IssuerConfig, VerifierOptions};
use atesto_ca::principal::{FulcioExtension, Principal, SubjectAltName};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A DevIssuer served on 127.0.0.1:0, named by its real URL.
async fn serve_issuer() -> DevIssuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    serve_as(listener, DevIssuer::new(url))
}

fn serve_as(listener: tokio::net::TcpListener, issuer: DevIssuer) -> DevIssuer {
    let router = issuer.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    issuer
}

fn verifier_with(config: Value, options: VerifierOptions) -> IdentityVerifier {
    let config = IssuerConfig::from_str(&config.to_string()).unwrap();
    IdentityVerifier::new(config, options).unwrap()
}

/// One OIDCIssuers entry for `url` with `fields` (Go field names).
fn verifier_for(url: &str, fields: Value) -> IdentityVerifier {
    verifier_with(
        json!({ "OIDCIssuers": { url: fields } }),
        VerifierOptions::default(),
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn email_claims() -> Value {
    json!({"aud": "sigstore", "sub": "1234", "email": "alice@example.com", "email_verified": true})
}

/// Asserts the precise message, and that the token is not in it.
async fn assert_refused(verifier: &IdentityVerifier, token: &str, expected: &str) -> IdentityError {
    let error = verifier.verify(token).await.unwrap_err();
    let message = error.to_string();
    assert_eq!(message, expected);
    assert!(!message.contains(token), "message echoes the token");
    for part in token.split('.').filter(|part| part.len() > 8) {
        assert!(!message.contains(part), "message echoes part of the token");
    }
    error
}

fn issuer_extensions(issuer: &str, subject: &str) -> Vec<FulcioExtension> {
    vec![
        FulcioExtension::raw(1, issuer),
        FulcioExtension::utf8_string(8, issuer),
        FulcioExtension::utf8_string(24, subject),
    ]
}

fn email_verifier(issuer: &DevIssuer) -> IdentityVerifier {
    verifier_for(issuer.issuer_url(), json!({"Type": "email"}))
}
