//! Requests refused, each with the failed check named: tokens, keys,
//! proofs of possession, CSRs, malformed requests, a CA without a CT log.

use super::*;

// ---------------------------------------------------------------- refusals

/// Sends an email-identity request with `token` and the proof over
/// `challenge`; expects `status` and returns the message, checking it does
/// not echo the token.
fn refused(stack: &CaStack, token: &str, challenge: &str, status: u16) -> String {
    let signer = Signer::new();
    let reply = stack.ca.post_bearer(
        "/api/v2/signingCert",
        &v2_request(&signer, challenge, None),
        token,
    );
    let message = reply.expect_error(status);
    if token.len() > 8 {
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(
                !message.contains(part),
                "message echoes the token: {message}"
            );
        }
    }
    message.to_lowercase()
}

fn with_claims(stack: &CaStack, change: impl FnOnce(&mut Value)) -> String {
    let mut claims = email_claims(&stack.email.url, "dev@k8s.io");
    change(&mut claims);
    stack.email.dev.mint(claims)
}

/// Expects the email token with `change` applied to its claims to be refused
/// with 401 and a message containing `expected`.
fn refused_claims(change: impl FnOnce(&mut Value, &CaStack), expected: &str) {
    let stack = CaStack::start();
    let token = with_claims(&stack, |claims| change(claims, &stack));
    let message = refused(&stack, &token, "dev@k8s.io", 401);
    assert!(message.contains(expected), "{message}");
}

#[test]
fn refuses_a_request_without_a_token() {
    let stack = CaStack::start();
    let message = stack
        .ca
        .post(
            "/api/v2/signingCert",
            &v2_request(&Signer::new(), "x", None),
        )
        .expect_error(401);
    assert!(message.contains("no identity token"), "{message}");
}

#[test]
fn refuses_an_unknown_issuer() {
    refused_claims(
        |c, _| c["iss"] = json!("https://issuer.invalid"),
        "unknown issuer",
    );
}

#[test]
fn refuses_an_expired_token() {
    refused_claims(
        |c, _| {
            c["exp"] = json!(now() - 120);
            c["iat"] = json!(now() - 600);
            c["nbf"] = json!(now() - 600);
        },
        "expired",
    );
}

#[test]
fn refuses_a_token_not_yet_valid() {
    refused_claims(|c, _| c["nbf"] = json!(now() + 3600), "not yet valid");
}

#[test]
fn refuses_a_token_for_another_audience() {
    refused_claims(|c, _| c["aud"] = json!("someone-else"), "audience");
}

#[test]
fn refuses_a_token_missing_its_email_claim() {
    refused_claims(
        |c, _| {
            c.as_object_mut().unwrap().remove("email");
        },
        "email",
    );
}

#[test]
fn refuses_an_unverified_email() {
    refused_claims(|c, _| c["email_verified"] = json!(false), "verified");
}

#[test]
fn refuses_a_payload_swapped_under_a_valid_signature() {
    let stack = CaStack::start();
    let good = stack.email_token("dev@k8s.io");
    let other = stack.email_token("attacker@k8s.io");
    let parts: Vec<&str> = good.split('.').collect();
    let other_payload = other.split('.').nth(1).unwrap();
    let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    let message = refused(&stack, &forged, "attacker@k8s.io", 401);
    assert!(message.contains("signature"), "{message}");
}

#[test]
fn refuses_alg_none_and_hmac_before_any_key_lookup() {
    let stack = CaStack::start();
    let payload = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&email_claims(&stack.email.url, "dev@k8s.io")).unwrap());
    for alg in ["none", "HS256"] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let token = format!("{header}.{payload}.c2lnbmF0dXJl");
        let message = refused(&stack, &token, "dev@k8s.io", 401);
        assert!(message.contains(&alg.to_lowercase()), "{alg}: {message}");
    }
}

#[test]
fn refuses_malformed_and_oversized_tokens() {
    let stack = CaStack::start();
    let message = refused(&stack, "only.two", "x", 401);
    assert!(message.contains("three"), "{message}");
    let huge = format!("{}.{}.sig", "a".repeat(20_000), "b".repeat(20_000));
    let message = refused(&stack, &huge, "x", 401);
    assert!(message.contains("too large"), "{message}");
}

/// Posts `body` with a valid email token; expects `status` and returns the
/// message, lowercased.
fn refused_request(body: &Value, status: u16) -> String {
    let stack = CaStack::start();
    let token = stack.email_token("dev@k8s.io");
    let reply = stack.ca.post_bearer("/api/v2/signingCert", body, &token);
    reply.expect_error(status).to_lowercase()
}

#[test]
fn refuses_a_proof_of_possession_over_another_identity() {
    let body = v2_request(&Signer::new(), "someone-else@k8s.io", None);
    let message = refused_request(&body, 400);
    assert!(message.contains("proof of possession"), "{message}");
}

#[test]
fn refuses_a_weak_key() {
    let body = json!({"publicKeyRequest": {
        "publicKey": {"content": STANDARD.encode(rsa_spki(1024))},
        "proofOfPossession": STANDARD.encode(b"whatever"),
    }});
    let message = refused_request(&body, 400);
    assert!(
        message.contains("insecure") && message.contains("1024"),
        "{message}"
    );
}

#[test]
fn refuses_an_unparsable_key() {
    let body = json!({"publicKeyRequest": {
        "publicKey": {"content": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
        "proofOfPossession": STANDARD.encode(b"whatever"),
    }});
    let message = refused_request(&body, 400);
    assert!(message.contains("could not be parsed"), "{message}");
}

#[test]
fn refuses_a_csr_whose_signature_does_not_verify() {
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&key)
        .unwrap();
    let mut der = csr.der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let body = json!({"certificateSigningRequest": STANDARD.encode(&der)});
    let message = refused_request(&body, 400);
    assert!(
        message.contains("signing request") && message.contains("signature"),
        "{message}"
    );
}

#[test]
fn refuses_malformed_requests() {
    let stack = CaStack::start();
    let message = stack
        .ca
        .post_raw("/api/v2/signingCert", b"{not json".to_vec())
        .expect_error(400);
    assert!(message.contains("malformed"), "{message}");

    let token = stack.email_token("dev@k8s.io");
    let bad_base64 = json!({"publicKeyRequest": {
        "publicKey": {"content": Signer::new().public_key_pem()},
        "proofOfPossession": "***",
    }});
    let message = stack
        .ca
        .post_bearer("/api/v2/signingCert", &bad_base64, &token)
        .expect_error(400);
    assert!(
        message.contains("proofOfPossession is not valid base64"),
        "{message}"
    );

    let oversized = vec![b' '; 256 << 10];
    stack
        .ca
        .post_raw("/api/v2/signingCert", oversized)
        .expect_error(413);
}

#[test]
fn refuses_to_start_without_a_ct_log_unless_told_to() {
    let dir = tempfile::tempdir().unwrap();
    init_chain(dir.path());
    std::fs::write(
        dir.path().join("issuers.yaml"),
        "OIDCIssuers:\n  https://issuer.invalid:\n    IssuerURL: https://issuer.invalid\n    ClientID: sigstore\n    Type: email\n",
    )
    .unwrap();
    let addr = free_addr();
    let config = dir.path().join("ca.yaml");
    std::fs::write(
        &config,
        format!(
            "addr: {addr}\nsigner:\n  chain: ca/chain.pem\n  key: ca/intermediate-key.pem\nissuers: issuers.yaml\n"
        ),
    )
    .unwrap();
    let out = atesto(&["ca", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no ct_log configured"), "{stderr}");

    let ca = Tlog::start_args(
        &[
            "ca".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--issue-without-sct".as_ref(),
        ],
        &addr,
    );
    assert_eq!(ca.get("/healthz").status, 200);
}
