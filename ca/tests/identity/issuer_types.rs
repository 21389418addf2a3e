//! Each issuer type's claims mapped to a certificate identity, as Fulcio maps them.

use super::*;

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
