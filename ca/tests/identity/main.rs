//! End-to-end token verification against an in-process OIDC issuer.

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

#[tokio::test]
async fn email_issuer_maps_to_rfc822_san() {
    let issuer = serve_issuer().await;
    let verifier = verifier_for(
        issuer.issuer_url(),
        json!({"ClientID": "sigstore", "Type": "email"}),
    );
    let principal = verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(
        principal,
        Principal {
            challenge: "alice@example.com".into(),
            san: SubjectAltName::Email("alice@example.com".into()),
            extensions: issuer_extensions(issuer.issuer_url(), "1234"),
        }
    );
}

#[tokio::test]
async fn email_issuer_claim_names_the_federated_issuer() {
    let issuer = serve_issuer().await;
    let verifier = verifier_for(
        issuer.issuer_url(),
        json!({"Type": "email", "IssuerClaim": "$.federated_claims.connector_id"}),
    );
    let mut claims = email_claims();
    claims["federated_claims"] = json!({"connector_id": "https://github.com/login/oauth"});
    let principal = verifier.verify(&issuer.mint(claims)).await.unwrap();
    assert_eq!(
        principal.extensions,
        issuer_extensions("https://github.com/login/oauth", "1234")
    );
    let token = issuer.mint(email_claims());
    assert_refused(
        &verifier,
        &token,
        "identity token is missing claim $.federated_claims.connector_id",
    )
    .await;
}

#[tokio::test]
async fn kubernetes_issuer_maps_service_account_uri() {
    let issuer = serve_issuer().await;
    let verifier = verifier_for(issuer.issuer_url(), json!({"Type": "kubernetes"}));
    let token = issuer.mint(json!({
        "aud": ["https://kubernetes.default.svc", "sigstore"],
        "sub": "system:serviceaccount:build:signer",
        "kubernetes.io": {"namespace": "build", "serviceaccount": {"name": "signer", "uid": "u"}},
    }));
    let principal = verifier.verify(&token).await.unwrap();
    assert_eq!(principal.challenge, "system:serviceaccount:build:signer");
    assert_eq!(
        principal.san,
        SubjectAltName::Uri("https://kubernetes.io/namespaces/build/serviceaccounts/signer".into())
    );
    assert_eq!(
        principal.extensions,
        issuer_extensions(issuer.issuer_url(), "system:serviceaccount:build:signer")
    );
}

#[tokio::test]
async fn meta_issuer_pattern_matches_served_issuer() {
    let issuer = serve_issuer().await;
    let verifier = verifier_with(
        json!({"MetaIssuers": {"http://127.0.0.1:*": {"Type": "kubernetes"}}}),
        VerifierOptions::default(),
    );
    let token = issuer.mint(json!({
        "aud": "sigstore", "sub": "s",
        "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "sa"}},
    }));
    let principal = verifier.verify(&token).await.unwrap();
    assert_eq!(
        principal.san,
        SubjectAltName::Uri("https://kubernetes.io/namespaces/ns/serviceaccounts/sa".into())
    );
    assert_eq!(
        principal.extensions[0],
        FulcioExtension::raw(1, issuer.issuer_url())
    );
}

#[tokio::test]
async fn spiffe_issuer_checks_trust_domain() {
    let issuer = serve_issuer().await;
    let verifier = verifier_for(
        issuer.issuer_url(),
        json!({"Type": "spiffe", "SPIFFETrustDomain": "example.org"}),
    );
    let id = "spiffe://example.org/ns/prod/sa/signer";
    let principal = verifier
        .verify(&issuer.mint(json!({"aud": "sigstore", "sub": id})))
        .await
        .unwrap();
    assert_eq!(principal.challenge, id);
    assert_eq!(principal.san, SubjectAltName::Uri(id.into()));
    let token = issuer.mint(json!({"aud": "sigstore", "sub": "spiffe://evil.org/ns/prod"}));
    assert_refused(
        &verifier,
        &token,
        "SPIFFE trust domain mismatch: the token's SPIFFE ID is not in trust domain example.org",
    )
    .await;
}

#[tokio::test]
async fn uri_issuer_checks_subject_domain() {
    let issuer = serve_issuer().await;
    let verifier = verifier_for(
        issuer.issuer_url(),
        json!({"Type": "uri", "SubjectDomain": "http://127.0.0.1"}),
    );
    let sub = "http://127.0.0.1/users/alice";
    let principal = verifier
        .verify(&issuer.mint(json!({"aud": "sigstore", "sub": sub})))
        .await
        .unwrap();
    assert_eq!(principal.san, SubjectAltName::Uri(sub.into()));
    assert_eq!(principal.challenge, sub);
    let token = issuer.mint(json!({"aud": "sigstore", "sub": "https://other.example/alice"}));
    assert_refused(
        &verifier,
        &token,
        "identity token sub must be a URI with the scheme and host of http://127.0.0.1",
    )
    .await;
}

#[tokio::test]
async fn username_issuer_maps_other_name() {
    let issuer = serve_issuer().await;
    let verifier = verifier_for(
        issuer.issuer_url(),
        json!({"Type": "username", "SubjectDomain": "127.0.0.1"}),
    );
    let principal = verifier
        .verify(&issuer.mint(json!({"aud": "sigstore", "sub": "alice"})))
        .await
        .unwrap();
    assert_eq!(
        principal.san,
        SubjectAltName::Username("alice!127.0.0.1".into())
    );
    assert_eq!(principal.challenge, "alice");
    assert_eq!(
        principal.extensions,
        issuer_extensions(issuer.issuer_url(), "alice")
    );
}

fn github_actions_claims() -> Value {
    json!({
        "aud": "sigstore",
        "sub": "repo:octo-org/octo-repo:environment:prod",
        "job_workflow_ref": "octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main",
        "job_workflow_sha": "1111111111111111111111111111111111111111",
        "sha": "2222222222222222222222222222222222222222",
        "event_name": "push",
        "repository": "octo-org/octo-repo",
        "workflow": "release",
        "ref": "refs/heads/main",
        "runner_environment": "github-hosted",
        "repository_id": "74",
        "repository_owner": "octo-org",
        "repository_owner_id": "65",
        "repository_visibility": "private",
        "workflow_ref": "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main",
        "workflow_sha": "3333333333333333333333333333333333333333",
        "run_id": "1001",
        "run_attempt": "2",
        "environment": "prod",
    })
}

/// What upstream Fulcio writes for `github_actions_claims`, arcs 2-23.
fn github_actions_extensions() -> Vec<FulcioExtension> {
    let der = FulcioExtension::utf8_string;
    vec![
        FulcioExtension::raw(2, "push"),
        FulcioExtension::raw(3, "2222222222222222222222222222222222222222"),
        FulcioExtension::raw(4, "release"),
        FulcioExtension::raw(5, "octo-org/octo-repo"),
        FulcioExtension::raw(6, "refs/heads/main"),
        der(
            9,
            "https://github.com/octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main",
        ),
        der(10, "1111111111111111111111111111111111111111"),
        der(11, "github-hosted"),
        der(12, "https://github.com/octo-org/octo-repo"),
        der(13, "2222222222222222222222222222222222222222"),
        der(14, "refs/heads/main"),
        der(15, "74"),
        der(16, "https://github.com/octo-org"),
        der(17, "65"),
        der(
            18,
            "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main",
        ),
        der(19, "3333333333333333333333333333333333333333"),
        der(20, "push"),
        der(
            21,
            "https://github.com/octo-org/octo-repo/actions/runs/1001/attempts/2",
        ),
        der(22, "private"),
        der(23, "prod"),
    ]
}

/// `issuer` at arcs 1 and 8, `between` in arc order, `sub` at 24.
fn with_issuer_and_subject(
    issuer: &str,
    between: Vec<FulcioExtension>,
    sub: &str,
) -> Vec<FulcioExtension> {
    let mut all = between;
    all.push(FulcioExtension::raw(1, issuer));
    all.push(FulcioExtension::utf8_string(8, issuer));
    all.push(FulcioExtension::utf8_string(24, sub));
    all.sort_by_key(|extension| extension.arc);
    all
}

const WORKFLOW_SAN: &str =
    "https://github.com/octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main";

/// Upstream's shipped `github-workflow` CI metadata, verbatim in substance.
const GITHUB_CI_METADATA_YAML: &str = r#"
    default-template-values:
      url: "https://github.com"
      environment: ""
    extension-templates:
      github-workflow-trigger: "event_name"
      github-workflow-sha: "sha"
      github-workflow-name: "workflow"
      github-workflow-repository: "repository"
      github-workflow-ref: "ref"
      build-signer-uri: "{{ .url }}/{{ .job_workflow_ref }}"
      build-signer-digest: "job_workflow_sha"
      runner-environment: "runner_environment"
      source-repository-uri: "{{ .url }}/{{ .repository }}"
      source-repository-digest: "sha"
      source-repository-ref: "ref"
      source-repository-identifier: "repository_id"
      source-repository-owner-uri: "{{ .url }}/{{ .repository_owner }}"
      source-repository-owner-identifier: "repository_owner_id"
      build-config-uri: "{{ .url }}/{{ .workflow_ref }}"
      build-config-digest: "workflow_sha"
      build-trigger: "event_name"
      run-invocation-uri: "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}"
      source-repository-visibility-at-signing: "repository_visibility"
      deployment-environment: "environment"
    subject-alternative-name-template: "{{ .url }}/{{ .job_workflow_ref }}"
"#;

fn ci_provider_verifier(issuer_url: &str) -> IdentityVerifier {
    let yaml = format!(
        "oidc-issuers:\n  {issuer_url}:\n    issuer-url: {issuer_url}\n    client-id: sigstore\n    type: ci-provider\n    ci-provider: github-workflow\nci-issuer-metadata:\n  github-workflow:{GITHUB_CI_METADATA_YAML}"
    );
    IdentityVerifier::new(
        IssuerConfig::from_str(&yaml).unwrap(),
        VerifierOptions::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn github_actions_via_ci_provider_maps_every_extension() {
    let issuer = serve_issuer().await;
    let verifier = ci_provider_verifier(issuer.issuer_url());
    let claims = github_actions_claims();
    let principal = verifier.verify(&issuer.mint(claims.clone())).await.unwrap();
    let sub = claims["sub"].as_str().unwrap();
    assert_eq!(principal.challenge, sub);
    assert_eq!(principal.san, SubjectAltName::Uri(WORKFLOW_SAN.into()));
    assert_eq!(
        principal.extensions,
        with_issuer_and_subject(issuer.issuer_url(), github_actions_extensions(), sub)
    );

    // The optional `environment` falls back to its empty default: no .1.23.
    let mut without_environment = claims.clone();
    without_environment
        .as_object_mut()
        .unwrap()
        .remove("environment");
    let principal = verifier
        .verify(&issuer.mint(without_environment))
        .await
        .unwrap();
    assert!(
        principal
            .extensions
            .iter()
            .all(|extension| extension.arc != 23)
    );

    let mut without_run_id = claims;
    without_run_id.as_object_mut().unwrap().remove("run_id");
    let token = issuer.mint(without_run_id);
    assert_refused(&verifier, &token, "identity token is missing claim run_id").await;
}

#[tokio::test]
async fn github_workflow_type_maps_like_upstream() {
    let issuer = serve_issuer().await;
    let verifier = verifier_for(issuer.issuer_url(), json!({"Type": "github-workflow"}));
    let claims = github_actions_claims();
    let principal = verifier.verify(&issuer.mint(claims.clone())).await.unwrap();
    let sub = claims["sub"].as_str().unwrap();
    let mut expected = github_actions_extensions();
    expected.retain(|extension| extension.arc != 23);
    assert_eq!(principal.challenge, sub);
    assert_eq!(principal.san, SubjectAltName::Uri(WORKFLOW_SAN.into()));
    assert_eq!(
        principal.extensions,
        with_issuer_and_subject(issuer.issuer_url(), expected, sub)
    );
}

fn email_verifier(issuer: &DevIssuer) -> IdentityVerifier {
    verifier_for(issuer.issuer_url(), json!({"Type": "email"}))
}

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

fn fast_options(ttl: Duration, cooldown: Duration) -> VerifierOptions {
    VerifierOptions {
        jwks_ttl: ttl,
        unknown_kid_cooldown: cooldown,
        ..VerifierOptions::default()
    }
}

fn email_verifier_with(issuer: &DevIssuer, options: VerifierOptions) -> IdentityVerifier {
    verifier_with(
        json!({"OIDCIssuers": {issuer.issuer_url(): {"Type": "email"}}}),
        options,
    )
}

#[tokio::test]
async fn key_rotation_is_picked_up_with_one_refetch() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier_with(
        &issuer,
        fast_options(Duration::from_secs(3600), Duration::from_millis(100)),
    );
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);

    tokio::time::sleep(Duration::from_millis(150)).await;
    issuer.rotate_key(false);
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2);
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2, "the new key is cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_burst_fetches_at_most_once_per_cooldown() {
    let issuer = serve_issuer().await;
    let cooldown = Duration::from_millis(300);
    let verifier = Arc::new(email_verifier_with(
        &issuer,
        fast_options(Duration::from_secs(3600), cooldown),
    ));
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);
    tokio::time::sleep(cooldown + Duration::from_millis(50)).await;

    // Same issuer URL, keys never published by the served issuer.
    let impostor = DevIssuer::new(issuer.issuer_url().to_string());
    for round in 0..2 {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let verifier = verifier.clone();
            let token = impostor.mint(email_claims());
            tasks.spawn(async move { verifier.verify(&token).await });
        }
        while let Some(result) = tasks.join_next().await {
            let message = result.unwrap().unwrap_err().to_string();
            assert_eq!(
                message,
                format!(
                    "no key {} in the JWKS of issuer {}",
                    impostor.current_kid(),
                    issuer.issuer_url()
                )
            );
        }
        // The first burst may refetch once; the second is inside the cooldown.
        assert_eq!(issuer.jwks_fetches(), 2, "round {round}");
    }
}

#[tokio::test]
async fn keys_are_refetched_after_the_ttl() {
    let issuer = serve_issuer().await;
    let ttl = Duration::from_millis(300);
    let verifier = email_verifier_with(&issuer, fast_options(ttl, Duration::from_secs(60)));
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn withdrawn_key_stops_verifying_after_the_ttl() {
    let issuer = serve_issuer().await;
    let ttl = Duration::from_millis(200);
    let verifier = email_verifier_with(&issuer, fast_options(ttl, Duration::from_secs(60)));
    let old_token = issuer.mint(email_claims());
    verifier.verify(&old_token).await.unwrap();
    issuer.rotate_key(false);
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let error = verifier.verify(&old_token).await.unwrap_err();
    assert!(matches!(error, IdentityError::NoKey { .. }), "{error}");
}

#[tokio::test]
async fn static_jwks_file_needs_no_network() {
    // Never served: any fetch would fail.
    let issuer = DevIssuer::new("https://static.example.com".into());
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, issuer.jwks_json().to_string()).unwrap();
    let verifier = verifier_for(
        issuer.issuer_url(),
        json!({"Type": "email", "JWKSFile": jwks_path}),
    );
    let principal = verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(principal.challenge, "alice@example.com");
    assert_eq!(issuer.jwks_fetches(), 0);

    issuer.rotate_key(false);
    let token = issuer.mint(email_claims());
    let expected = format!(
        "no key {} in the JWKS of issuer https://static.example.com",
        issuer.current_kid()
    );
    assert_refused(&verifier, &token, &expected).await;
}

#[tokio::test]
async fn bearer_token_file_is_sent_to_the_issuer() {
    use axum::http::{HeaderMap, StatusCode};
    // An issuer that, like a locked-down API server, refuses anonymous reads.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = DevIssuer::new(url.clone());
    let guarded = issuer.router().layer(axum::middleware::from_fn(
        |headers: HeaderMap, request: axum::extract::Request, next: axum::middleware::Next| async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer sa-token") {
                next.run(request).await
            } else {
                axum::response::IntoResponse::into_response(StatusCode::UNAUTHORIZED)
            }
        },
    ));
    tokio::spawn(async move { axum::serve(listener, guarded).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, "sa-token\n").unwrap();

    let anonymous = verifier_for(&url, json!({"Type": "email"}));
    let error = anonymous
        .verify(&issuer.mint(email_claims()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("HTTP 401"), "{error}");

    let authenticated = verifier_for(
        &url,
        json!({"Type": "email", "ServiceAccountTokenFile": token_path}),
    );
    authenticated
        .verify(&issuer.mint(email_claims()))
        .await
        .unwrap();
}

#[test]
fn configuration_lists_issuers_as_upstream() {
    let config = json!({
        "OIDCIssuers": {
            "https://accounts.google.com": {"ClientID": "sigstore", "Type": "email"},
            "https://spire.example.org": {"Type": "spiffe", "SPIFFETrustDomain": "example.org"},
            "https://ci.example.org": {"Type": "github-workflow", "ChallengeClaim": "repository"},
        },
        "MetaIssuers": {"https://oidc.eks.*.amazonaws.com/id/*": {"ClientID": "sigstore", "Type": "kubernetes"}},
    });
    let verifier = verifier_with(config, VerifierOptions::default());
    assert_eq!(
        verifier.configuration(),
        json!({"issuers": [
            {"issuerUrl": "https://accounts.google.com", "audience": "sigstore", "challengeClaim": "email", "issuerType": "email"},
            {"issuerUrl": "https://ci.example.org", "audience": "sigstore", "challengeClaim": "repository", "issuerType": "github-workflow"},
            {"issuerUrl": "https://spire.example.org", "audience": "sigstore", "challengeClaim": "sub", "issuerType": "spiffe", "spiffeTrustDomain": "example.org"},
            {"wildcardIssuerUrl": "https://oidc.eks.*.amazonaws.com/id/*", "audience": "sigstore", "challengeClaim": "sub", "issuerType": "kubernetes"},
        ]})
    );
}

#[tokio::test]
async fn challenge_claim_override_is_honored() {
    let issuer = serve_issuer().await;
    let verifier = verifier_for(
        issuer.issuer_url(),
        json!({"Type": "github-workflow", "ChallengeClaim": "repository"}),
    );
    let principal = verifier
        .verify(&issuer.mint(github_actions_claims()))
        .await
        .unwrap();
    assert_eq!(principal.challenge, "octo-org/octo-repo");
}

#[test]
fn verifier_options_deserialize_from_seconds() {
    let options: VerifierOptions =
        serde_json::from_value(json!({"client_id": "atesto", "jwks_ttl_secs": 5})).unwrap();
    assert_eq!(options.client_id, "atesto");
    assert_eq!(options.jwks_ttl, Duration::from_secs(5));
    assert_eq!(options.max_token_bytes, 16384);
    assert!(serde_json::from_value::<VerifierOptions>(json!({"jwks_ttl": 5})).is_err());
}

/// The `jwks_uri` a discovery document names, from the issuer's port and
/// another listener's.
type JwksUri = fn(u16, u16) -> String;

/// Requests for keys seen by [`serve_sa_issuer`]: path and Authorization.
type SeenRequests = Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// An issuer at `listener` whose discovery names `jwks_uri` and which
/// serves `issuer`'s keys on every other path, recording each request.
fn serve_sa_issuer(
    listener: tokio::net::TcpListener,
    issuer: &DevIssuer,
    jwks_uri: String,
    seen: SeenRequests,
) {
    use axum::http::HeaderMap;
    let discovery = json!({"issuer": issuer.issuer_url(), "jwks_uri": jwks_uri});
    let keys = issuer.jwks_json();
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .fallback(move |uri: axum::http::Uri, headers: HeaderMap| async move {
            let authorization = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            seen.lock()
                .unwrap()
                .push((uri.path().to_owned(), authorization));
            axum::Json(keys)
        });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
}

/// The service-account token goes to the configured issuer's scheme, host
/// and port only. A `jwks_uri` that a hand-written splitter read as the
/// issuer's host (`localhost:P\@127.0.0.1:P`, which the URL parser of the
/// HTTP client reads as host `localhost`) got the bearer sent to another host.
#[tokio::test]
async fn service_account_token_goes_to_the_issuer_origin_only() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, "sa-token\n").unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_port = other.local_addr().unwrap().port();
    let other_seen = SeenRequests::default();
    let placeholder = DevIssuer::new("http://unused".into());
    serve_sa_issuer(other, &placeholder, String::new(), other_seen.clone());

    let cases: [(&str, JwksUri); 3] = [
        ("same origin", |port, _| {
            format!("http://127.0.0.1:{port}/sa/keys")
        }),
        ("backslash before @", |port, _| {
            format!("http://localhost:{port}\\@127.0.0.1:{port}/sa/keys")
        }),
        ("same host, another port", |_, other| {
            format!("http://127.0.0.1:{other}/sa/keys")
        }),
    ];
    for (case, jwks_uri) in cases {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let issuer = DevIssuer::new(url.clone());
        let seen = SeenRequests::default();
        serve_sa_issuer(listener, &issuer, jwks_uri(port, other_port), seen.clone());
        let verifier = verifier_for(
            &url,
            json!({"Type": "email", "ServiceAccountTokenFile": token_path}),
        );
        let result = verifier.verify(&issuer.mint(email_claims())).await;
        let bearer = Some("Bearer sa-token".to_owned());
        match case {
            "same origin" => {
                result.unwrap();
                assert_eq!(
                    seen.lock().unwrap().as_slice(),
                    [("/sa/keys".to_owned(), bearer)]
                );
            }
            "backslash before @" => {
                let requests = seen.lock().unwrap().clone();
                assert_eq!(requests.len(), 1, "{case}: {requests:?}");
                assert_eq!(
                    requests[0].1, None,
                    "{case}: the bearer left the issuer's origin"
                );
                result.unwrap();
            }
            _ => {
                // The other listener holds another key set: verification
                // fails, but what matters is what it was sent.
                let _ = result;
                let requests = other_seen.lock().unwrap().clone();
                assert_eq!(requests.len(), 1, "{case}: {requests:?}");
                assert_eq!(
                    requests[0].1, None,
                    "{case}: the bearer went to another port"
                );
            }
        }
    }
}
