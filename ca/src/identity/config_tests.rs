//! Parsing and validation of upstream-format issuer configurations.

use super::*;

/// Upstream's shipped layout (kebab-case YAML, anchors under `define`).
const SHIPPED_STYLE_YAML: &str = r#"
define:
  - &github-type "github-workflow"
oidc-issuers:
  https://accounts.google.com:
    issuer-url: https://accounts.google.com
    client-id: sigstore
    type: email
    contact: tac@sigstore.dev
    description: "Google OIDC auth"
  https://oauth2.sigstore.dev/auth:
    issuer-url: https://oauth2.sigstore.dev/auth
    client-id: sigstore
    type: email
    issuer-claim: $.federated_claims.connector_id
    environment: production
  https://kubernetes.default.svc:
    issuer-url: https://kubernetes.default.svc
    client-id: sigstore
    type: kubernetes
    ca-cert-file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
    service-account-token: true
  https://spire.example.org:
    issuer-url: https://spire.example.org
    client-id: sigstore
    type: spiffe
    spiffe-trust-domain: example.org
  https://token.actions.githubusercontent.com:
    issuer-url: https://token.actions.githubusercontent.com
    client-id: sigstore
    type: ci-provider
    ci-provider: *github-type
meta-issuers:
  https://oidc.eks.*.amazonaws.com/id/*:
    client-id: sigstore
    type: kubernetes
ci-issuer-metadata:
  *github-type:
    default-template-values:
      url: "https://github.com"
      environment: ""
    extension-templates:
      github-workflow-trigger: "event_name"
      build-signer-uri: "{{ .url }}/{{ .job_workflow_ref }}"
      run-invocation-uri: "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}"
      deployment-environment: "environment"
    subject-alternative-name-template: "{{ .url }}/{{ .job_workflow_ref }}"
"#;

const GO_FIELD_NAMES_JSON: &str = r#"{
  "OIDCIssuers": {
    "https://accounts.google.com": {"IssuerURL": "https://accounts.google.com", "ClientID": "sigstore", "Type": "email"},
    "https://auth.example.com": {"IssuerURL": "https://auth.example.com", "ClientID": "sigstore", "Type": "uri", "SubjectDomain": "https://example.com"},
    "https://login.example.com": {"IssuerURL": "https://login.example.com", "ClientID": "sigstore", "Type": "username", "SubjectDomain": "example.com"},
    "https://token.actions.githubusercontent.com": {"IssuerURL": "https://token.actions.githubusercontent.com", "ClientID": "sigstore", "Type": "github-workflow"}
  },
  "MetaIssuers": {
    "https://oidc.eks.*.amazonaws.com/id/*": {"ClientID": "sigstore", "Type": "kubernetes"}
  }
}"#;

#[test]
fn shipped_style_yaml_parses() {
    let config = IssuerConfig::from_str(SHIPPED_STYLE_YAML).unwrap();
    assert_eq!(config.issuers.len(), 5);
    let google = &config.issuers["https://accounts.google.com"];
    assert_eq!(google.issuer_type, IssuerType::Email);
    assert_eq!(google.challenge_claim(), "email");
    let k8s = &config.issuers["https://kubernetes.default.svc"];
    assert_eq!(k8s.challenge_claim(), "sub");
    assert_eq!(
        k8s.bearer_token_file(),
        Some(Path::new(DEFAULT_SERVICE_ACCOUNT_TOKEN_FILE))
    );
    let github = &config.issuers["https://token.actions.githubusercontent.com"];
    assert_eq!(github.ci_provider, "github-workflow");
    let metadata = &config.ci_providers["github-workflow"];
    let arcs: Vec<u64> = metadata.extensions.iter().map(|(f, _)| f.arc()).collect();
    assert_eq!(arcs, vec![2, 9, 21, 23]);
    assert_eq!(config.meta_issuers.len(), 1);
}

#[test]
fn go_field_names_json_parses() {
    let config = IssuerConfig::from_str(GO_FIELD_NAMES_JSON).unwrap();
    assert_eq!(config.issuers.len(), 4);
    assert_eq!(
        config.issuers["https://login.example.com"].issuer_type,
        IssuerType::Username
    );
    assert_eq!(
        config.meta_issuers[0].pattern,
        "https://oidc.eks.*.amazonaws.com/id/*"
    );
}

#[test]
fn wildcards_are_anchored_and_stay_in_one_label() {
    let config = IssuerConfig::from_str(GO_FIELD_NAMES_JSON).unwrap();
    let eks = &config.meta_issuers[0];
    assert!(
        eks.matches("https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D30341AD01E1B6D48164CB")
    );
    for rejected in [
        // extra path after the last wildcard
        "https://oidc.eks.us-west-2.amazonaws.com/id/ABC/extra",
        // extra host label inside a wildcard
        "https://oidc.eks.us.west.amazonaws.com/id/ABC",
        // the pattern embedded in another URL
        "http://localhost:3000?https://oidc.eks.us-west-2.amazonaws.com/id/ABC",
        "https://oidc.eks.us-west-2.amazonaws.com.evil.com/id/ABC",
        "https://oidc.eks.us-west-2.amazonaws.com/id/ABC?x=1",
        // a wildcard matches one or more characters, never none
        "https://oidc.eks..amazonaws.com/id/ABC",
        "https://oidc.eks.us-west-2.amazonaws.com/id/",
    ] {
        assert!(!eks.matches(rejected), "{rejected} matched");
    }
    let meta = MetaIssuer::new(
        "https://*.example.com/*-tenant".into(),
        IssuerSettings::default(),
    )
    .unwrap();
    // Backtracking: the wildcard must not swallow the literal's first char.
    assert!(meta.matches("https://a.example.com/acme-tenant"));
    assert!(!meta.matches("https://a.example.com/-tenant"));
}

#[test]
fn wildcard_matching_is_linear_in_the_issuer_length() {
    let meta = MetaIssuer::new(
        "https://ex.com/bt/*-*-*/z".into(),
        IssuerSettings::default(),
    )
    .unwrap();
    assert!(meta.matches("https://ex.com/bt/a-b-c/z"));
    assert!(meta.matches("https://ex.com/bt/a-b-c-d/z"));
    assert!(!meta.matches("https://ex.com/bt/a-b/z"));
    // 64 KiB of class characters and separators with no match at the end:
    // the backtracking matcher took 6.7 s for 3 KiB of this.
    let hostile = format!("https://ex.com/bt/{}!", "a-".repeat(32 * 1024));
    let started = std::time::Instant::now();
    assert!(!meta.matches(&hostile));
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_millis(500), "{took:?}");
}

#[test]
fn unknown_keys_and_types_are_refused() {
    let typo = r#"{"OIDCIssuers": {"https://a.example.com": {"ClientID": "sigstore", "Type": "email", "SkipEmailVerfication": true}}}"#;
    let err = IssuerConfig::from_str(typo).unwrap_err().to_string();
    assert!(err.contains("SkipEmailVerfication"), "{err}");
    let top = "oidc-issuers: {}\nextra-thing: 1\n";
    assert!(IssuerConfig::from_str(top).is_err());
    let gitlab = "oidc-issuers:\n  https://gitlab.com:\n    type: gitlab-pipeline\n";
    let err = IssuerConfig::from_str(gitlab).unwrap_err().to_string();
    assert!(err.contains("gitlab-pipeline"), "{err}");
    let extension = r#"{"CIIssuerMetadata": {"p": {"ExtensionTemplates": {"Issuer": "iss"}, "SubjectAlternativeNameTemplate": "x"}}}"#;
    assert!(IssuerConfig::from_str(extension).is_err());
}

#[test]
fn upstream_validation_rules() {
    let cases = [
        (
            "oidc-issuers:\n  https://s.example.org:\n    type: spiffe\n",
            "SPIFFETrustDomain",
        ),
        (
            "oidc-issuers:\n  https://s.example.org:\n    type: spiffe\n    spiffe-trust-domain: Bad_Domain!\n",
            "not a valid SPIFFE trust domain",
        ),
        (
            "oidc-issuers:\n  https://a.example.com:\n    type: uri\n    subject-domain: https://other.org\n",
            "not in the issuer's domain",
        ),
        (
            "oidc-issuers:\n  https://a.example.com:\n    type: username\n    subject-domain: https://example.com\n",
            "should not contain scheme",
        ),
        (
            "oidc-issuers:\n  https://a.example.com:\n    type: kubernetes\n    issuer-claim: $.x\n",
            "only email issuers",
        ),
        (
            "oidc-issuers:\n  https://a.example.com:\n    type: ci-provider\n    ci-provider: nowhere\n",
            "no CIIssuerMetadata",
        ),
        (
            "meta-issuers:\n  https://*.example.org:\n    type: spiffe\n    spiffe-trust-domain: example.org\n",
            "SPIFFE meta issuers",
        ),
        (
            "oidc-issuers:\n  https://a.example.com:\n    issuer-url: https://b.example.com\n    type: email\n",
            "differs from its key",
        ),
    ];
    for (text, expected) in cases {
        let err = IssuerConfig::from_str(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text}: {err}");
    }
    let ok = "oidc-issuers:\n  https://accounts.example.com:\n    type: uri\n    subject-domain: https://users.example.com\n";
    assert!(IssuerConfig::from_str(ok).is_ok());
}

#[test]
fn unsupported_templates_are_refused_at_load() {
    let text = r#"
ci-issuer-metadata:
  p:
    extension-templates:
      build-signer-uri: "{{ .url | printf \"%s\" }}"
    subject-alternative-name-template: "{{ .url }}"
"#;
    let err = IssuerConfig::from_str(text).unwrap_err().to_string();
    assert!(err.contains("CI provider p, BuildSignerUri"), "{err}");
    let empty_san = "ci-issuer-metadata:\n  p:\n    extension-templates: {}\n";
    let err = IssuerConfig::from_str(empty_san).unwrap_err().to_string();
    assert!(err.contains("SubjectAlternativeNameTemplate"), "{err}");
}
