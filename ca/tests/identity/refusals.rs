//! Tokens refused, each with the check that failed named.

use super::*;

#[tokio::test]
async fn refuses_expired_token() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let mut claims = email_claims();
    claims["iat"] = json!(now() - 700);
    claims["exp"] = json!(now() - 100);
    let error = assert_refused(&verifier, &issuer.mint(claims), "identity token is expired").await;
    assert!(error.is_client_error());
}

#[tokio::test]
async fn refuses_token_not_yet_valid() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let mut claims = email_claims();
    claims["nbf"] = json!(now() + 3600);
    claims["exp"] = json!(now() + 7200);
    let token = issuer.mint(claims);
    assert_refused(
        &verifier,
        &token,
        "identity token is not yet valid (nbf is in the future)",
    )
    .await;
}

#[tokio::test]
async fn refuses_wrong_audience() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let mut claims = email_claims();
    claims["aud"] = json!(["other-client"]);
    let token = issuer.mint(claims);
    assert_refused(
        &verifier,
        &token,
        "identity token audience does not contain sigstore",
    )
    .await;
}

#[tokio::test]
async fn refuses_unknown_issuer() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let mut claims = email_claims();
    claims["iss"] = json!("https://unknown.example.com");
    let token = issuer.mint(claims);
    assert_refused(
        &verifier,
        &token,
        "unknown issuer https://unknown.example.com: no configured issuer or meta-issuer matches it",
    )
    .await;
}

/// A token with `header` and the claims of a valid email token, unsigned.
fn forged(issuer: &DevIssuer, header: Value, signature: &str) -> String {
    let mut claims = email_claims();
    claims["iss"] = json!(issuer.issuer_url());
    claims["exp"] = json!(now() + 600);
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn refuses_alg_none() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let token = forged(&issuer, json!({"alg": "none", "typ": "JWT"}), "");
    assert_refused(
        &verifier,
        &token,
        "identity token algorithm \"none\" is refused: tokens must be signed",
    )
    .await;
}

#[tokio::test]
async fn refuses_hmac() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let token = forged(
        &issuer,
        json!({"alg": "HS256", "kid": issuer.current_kid()}),
        "c2lnbmF0dXJlLWJ5dGVzLWhlcmU",
    );
    assert_refused(
        &verifier,
        &token,
        "identity token algorithm HS256 is refused: HMAC tokens cannot be verified by a third party",
    )
    .await;
}

#[tokio::test]
async fn refuses_bad_signature() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let token = issuer.mint(email_claims());
    let (signed, signature) = token.rsplit_once('.').unwrap();
    // Flip one character in the middle of the signature.
    let mut signature = signature.as_bytes().to_vec();
    signature[10] = if signature[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{signed}.{}", String::from_utf8(signature).unwrap());
    assert_refused(&verifier, &tampered, "identity token signature is invalid").await;

    // Claims changed after signing: same verdict.
    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let mut claims = email_claims();
    claims["email"] = json!("mallory@example.com");
    claims["iss"] = json!(issuer.issuer_url());
    claims["exp"] = json!(now() + 600);
    let swapped = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_refused(&verifier, &swapped, "identity token signature is invalid").await;
}

#[tokio::test]
async fn refuses_missing_claim_and_wrong_type() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let mut claims = email_claims();
    claims.as_object_mut().unwrap().remove("email");
    let token = issuer.mint(claims);
    assert_refused(&verifier, &token, "identity token is missing claim email").await;

    let mut claims = email_claims();
    claims["email"] = json!(42);
    let token = issuer.mint(claims);
    assert_refused(
        &verifier,
        &token,
        "identity token claim email must be a string",
    )
    .await;
}

#[tokio::test]
async fn refuses_unverified_email() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    for verified in [json!(false), json!("true")] {
        let mut claims = email_claims();
        claims["email_verified"] = verified;
        let token = issuer.mint(claims);
        assert_refused(
            &verifier,
            &token,
            "email not verified: the email_verified claim is not true",
        )
        .await;
    }
    let skipping = verifier_for(
        issuer.issuer_url(),
        json!({"Type": "email", "SkipEmailVerification": true}),
    );
    let mut claims = email_claims();
    claims["email_verified"] = json!(false);
    assert!(skipping.verify(&issuer.mint(claims)).await.is_ok());
}

#[tokio::test]
async fn refuses_oversized_token_and_wrong_part_count() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier(&issuer);
    let mut claims = email_claims();
    claims["padding"] = json!("x".repeat(20_000));
    let token = issuer.mint(claims);
    assert_refused(
        &verifier,
        &token,
        "identity token is too large: over 16384 bytes",
    )
    .await;
    let fetches = issuer.jwks_fetches();
    assert_eq!(fetches, 0, "an oversized token must not reach the issuer");

    let valid = issuer.mint(email_claims());
    let two_parts = valid.rsplit_once('.').unwrap().0.to_string();
    let message = "identity token is malformed: a JWT has exactly three dot-separated parts";
    assert_refused(&verifier, &two_parts, message).await;
    assert_refused(&verifier, &format!("{valid}.extra"), message).await;
    assert_refused(&verifier, "not a token", message).await;
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let served_url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = serve_as(
        listener,
        DevIssuer::new("https://elsewhere.example.com".into()),
    );
    let verifier = verifier_for(&served_url, json!({"Type": "email"}));
    let mut claims = email_claims();
    claims["iss"] = json!(served_url);
    let token = issuer.mint(claims);
    let expected = format!(
        "issuer mismatch in discovery: {served_url}'s openid-configuration names issuer https://elsewhere.example.com"
    );
    let error = assert_refused(&verifier, &token, &expected).await;
    assert!(!error.is_client_error());
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn unreachable_issuer_is_not_a_client_error() {
    // Bind then drop: nothing listens on that port any more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let issuer = DevIssuer::new(url.clone());
    let verifier = verifier_for(&url, json!({"Type": "email"}));
    let error = verifier
        .verify(&issuer.mint(email_claims()))
        .await
        .unwrap_err();
    assert!(!error.is_client_error());
    assert!(
        error
            .to_string()
            .starts_with(&format!("issuer {url} could not be reached")),
        "{error}"
    );
}
