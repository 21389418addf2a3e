//! Identity tokens crafted to hurt the CA, sent over HTTP to a real
//! `atesto ca` with loopback issuers: each is refused promptly with a 4xx
//! naming the problem, and the same request with a genuine token succeeds.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use support::ca::*;
use support::*;

/// Sends an email-identity signing request with `token` and the proof over
/// `challenge`.
fn sign_request(stack: &CaStack, token: &str, challenge: &str) -> Reply {
    stack.ca.post_bearer(
        "/api/v2/signingCert",
        &v2_request(&Signer::new(), challenge, None),
        token,
    )
}

/// An unsigned token with `header` and `claims`: refused before any key
/// lookup, so no signature is needed to reach the code under test.
fn unsigned(header: Value, claims: Value) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn issues(stack: &CaStack, token: &str, challenge: &str) {
    let reply = sign_request(stack, token, challenge);
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// The issue's repro: a meta-issuer whose `*`s are separated by class
/// characters, and a long `iss` that almost matches. It cost 6.7 s of CPU
/// per 3 KB token; now the `iss` is capped and the match is linear.
#[test]
fn a_long_iss_against_a_wildcard_pattern_is_refused_at_once() {
    let stack = CaStack::start_with_issuers(
        "",
        "MetaIssuers:\n  https://ex.com/bt/*-*-*/z:\n    ClientID: sigstore\n    Type: email\n",
    );
    let claims = |iss: String| {
        let mut claims = email_claims(&stack.email.url, "dev@k8s.io");
        claims["iss"] = json!(iss);
        claims
    };
    let header = json!({"alg": "ES256", "kid": "k"});
    let cases = [
        // Over the cap: refused by length.
        (6 * 1024, "iss is longer than 1024 bytes"),
        // Under the cap: matched, linearly, and not found.
        (1000, "unknown issuer"),
    ];
    for (length, expected) in cases {
        let iss = format!("https://ex.com/bt/{}!", "a-".repeat((length - 19) / 2));
        let started = Instant::now();
        let message = sign_request(&stack, &unsigned(header.clone(), claims(iss)), "dev@k8s.io")
            .expect_error(401);
        assert!(message.contains(expected), "{message}");
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "{length} bytes took {took:?}"
        );
    }
    issues(&stack, &stack.email_token("dev@k8s.io"), "dev@k8s.io");
}

/// RFC 7515 4.1.11: an extension marked critical that is not understood
/// makes the token invalid.
#[test]
fn a_token_with_a_critical_header_extension_is_refused() {
    let stack = CaStack::start();
    let mut claims = email_claims(&stack.email.url, "dev@k8s.io");
    claims["exp"] = json!(now() + 300);
    let token = unsigned(
        json!({"alg": "ES256", "kid": "k", "crit": ["exp2"], "exp2": now()}),
        claims,
    );
    let message = sign_request(&stack, &token, "dev@k8s.io").expect_error(401);
    assert!(
        message.contains("critical") && message.contains("exp2"),
        "{message}"
    );
    issues(&stack, &stack.email_token("dev@k8s.io"), "dev@k8s.io");
}

/// A genuine token whose identity a certificate cannot carry (IA5String
/// SANs are ASCII) got a bare 500; now a 400 names the claim.
#[test]
fn non_ascii_identities_are_a_400_naming_the_claim() {
    let stack = CaStack::start();

    let email = "böb@example.com";
    let message = sign_request(&stack, &stack.email_token(email), email).expect_error(400);
    assert!(message.contains("claim email"), "{message}");
    issues(
        &stack,
        &stack.email_token("bob@example.com"),
        "bob@example.com",
    );

    let namespace = "bück";
    let token = stack.kubernetes_token(namespace, "signer");
    let subject = format!("system:serviceaccount:{namespace}:signer");
    let message = sign_request(&stack, &token, &subject).expect_error(400);
    assert!(
        message.contains("claim kubernetes.io.namespace"),
        "{message}"
    );
    let token = stack.kubernetes_token("build", "signer");
    issues(&stack, &token, "system:serviceaccount:build:signer");

    let mut claims = github_claims(&stack.github.url);
    claims["job_workflow_ref"] = json!(format!(
        "{GITHUB_REPO}/.github/workflows/rélease.yml@refs/heads/main"
    ));
    let subject = claims["sub"].as_str().unwrap().to_owned();
    let message = sign_request(&stack, &stack.github.dev.mint(claims), &subject).expect_error(400);
    assert!(message.contains("claim job_workflow_ref"), "{message}");
    issues(&stack, &stack.github_token(), &subject);
}
