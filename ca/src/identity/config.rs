//! Fulcio's issuer configuration file (`--config-path`), in either of the
//! forms upstream reads: JSON with Go field names (`OIDCIssuers`, `IssuerURL`,
//! ...) or YAML with kebab-case names (`oidc-issuers`, `issuer-url`, ...).
//! Both spellings are accepted in both formats; any other key is refused so a
//! typo cannot silently disable a check. Validation follows upstream's.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;
use serde::de::IgnoredAny;
use url::Url;

use super::error::IdentityConfigError;
use super::template::ValueTemplate;

/// Where Kubernetes mounts a pod's projected service-account token.
pub const DEFAULT_SERVICE_ACCOUNT_TOKEN_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The parsed and validated issuer configuration.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// Exact issuers by URL.
    pub(crate) issuers: BTreeMap<String, IssuerSettings>,
    /// Wildcard issuers, tried in pattern order after the exact ones.
    pub(crate) meta_issuers: Vec<MetaIssuer>,
    pub(crate) ci_providers: BTreeMap<String, CiProviderMetadata>,
}

/// One `OIDCIssuers` or `MetaIssuers` entry.
///
/// Upstream keys: `IssuerURL`, `ClientID` (empty means the verifier's default
/// client id), `Type`, `CIProvider`, `IssuerClaim` (email issuers only, a
/// `$.a.b` path naming the claim that holds the issuer to certify, as Dex's
/// `$.federated_claims.connector_id`), `SubjectDomain`, `SPIFFETrustDomain`,
/// `ChallengeClaim`, `Description`, `Contact`, `Environment`, `CACert` (PEM
/// text trusted for TLS to the issuer), `SkipEmailVerification`.
///
/// Atesto additions:
/// - `CACertFile` / `ca-cert-file`: a PEM file trusted for TLS to the issuer
///   (like `CACert`, but a path).
/// - `JWKSFile` / `jwks-file`: a JWKS file used instead of discovery and
///   fetching, for issuers this CA cannot or should not reach.
/// - `ServiceAccountToken` / `service-account-token`: send the pod's
///   service-account token as a bearer credential to discovery and JWKS
///   requests on the issuer's host, for Kubernetes API servers that refuse
///   anonymous reads. `ServiceAccountTokenFile` /
///   `service-account-token-file` names another token file (and implies
///   the former); the default is [`DEFAULT_SERVICE_ACCOUNT_TOKEN_FILE`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    #[serde(rename = "IssuerURL", alias = "issuer-url", default)]
    pub issuer_url: String,
    #[serde(rename = "ClientID", alias = "client-id", default)]
    pub client_id: String,
    #[serde(rename = "Type", alias = "type")]
    pub issuer_type: IssuerType,
    #[serde(rename = "CIProvider", alias = "ci-provider", default)]
    pub ci_provider: String,
    #[serde(rename = "IssuerClaim", alias = "issuer-claim", default)]
    pub issuer_claim: String,
    #[serde(rename = "SubjectDomain", alias = "subject-domain", default)]
    pub subject_domain: String,
    #[serde(rename = "SPIFFETrustDomain", alias = "spiffe-trust-domain", default)]
    pub spiffe_trust_domain: String,
    #[serde(rename = "ChallengeClaim", alias = "challenge-claim", default)]
    pub challenge_claim: String,
    #[serde(rename = "Description", alias = "description", default)]
    pub description: String,
    #[serde(rename = "Contact", alias = "contact", default)]
    pub contact: String,
    #[serde(rename = "Environment", alias = "environment", default)]
    pub environment: String,
    #[serde(rename = "CACert", alias = "ca-cert", default)]
    pub ca_cert: String,
    #[serde(
        rename = "SkipEmailVerification",
        alias = "skip-email-verification",
        default
    )]
    pub skip_email_verification: bool,
    #[serde(rename = "CACertFile", alias = "ca-cert-file", default)]
    pub ca_cert_file: Option<PathBuf>,
    #[serde(rename = "JWKSFile", alias = "jwks-file", default)]
    pub jwks_file: Option<PathBuf>,
    #[serde(
        rename = "ServiceAccountToken",
        alias = "service-account-token",
        default
    )]
    pub service_account_token: bool,
    #[serde(
        rename = "ServiceAccountTokenFile",
        alias = "service-account-token-file",
        default
    )]
    pub service_account_token_file: Option<PathBuf>,
}

/// How a token's claims become a certificate identity. Upstream's dedicated
/// CI types (gitlab-pipeline, buildkite-job, ...) are expressed here as
/// `ci-provider` with `CIIssuerMetadata`, as upstream's own config does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssuerType {
    #[default]
    Email,
    Kubernetes,
    Spiffe,
    GithubWorkflow,
    CiProvider,
    Uri,
    Username,
}

impl IssuerType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Kubernetes => "kubernetes",
            Self::Spiffe => "spiffe",
            Self::GithubWorkflow => "github-workflow",
            Self::CiProvider => "ci-provider",
            Self::Uri => "uri",
            Self::Username => "username",
        }
    }
}

impl IssuerSettings {
    /// The claim the client signs: `ChallengeClaim` if set, else `email` for
    /// email issuers and `sub` for the rest (upstream's rule).
    pub fn challenge_claim(&self) -> &str {
        match (self.challenge_claim.as_str(), self.issuer_type) {
            ("", IssuerType::Email) => "email",
            ("", _) => "sub",
            (claim, _) => claim,
        }
    }

    /// The bearer-token file to send to the issuer, if any.
    pub fn bearer_token_file(&self) -> Option<&Path> {
        match (&self.service_account_token_file, self.service_account_token) {
            (Some(path), _) => Some(path),
            (None, true) => Some(Path::new(DEFAULT_SERVICE_ACCOUNT_TOKEN_FILE)),
            (None, false) => None,
        }
    }
}

/// A `MetaIssuers` entry: `*` stands for one or more of `[-_a-zA-Z0-9]`
/// (never `.` or `/`), and the whole URL must match (upstream anchors the
/// regex since GHSA-59jp-pj84-45mr).
#[derive(Debug, Clone)]
pub(crate) struct MetaIssuer {
    pub pattern: String,
    pub settings: IssuerSettings,
    /// The pattern compiled as upstream compiles it. The regex crate matches
    /// in time linear in the input: a hand-written backtracking matcher
    /// took seconds per token on patterns like `*-*-*` and a long `iss`.
    matcher: Regex,
}

impl MetaIssuer {
    pub fn new(pattern: String, settings: IssuerSettings) -> Result<Self, IdentityConfigError> {
        let anchored = format!(
            "^{}$",
            pattern
                .split('*')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join("[-_a-zA-Z0-9]+")
        );
        let matcher = Regex::new(&anchored)
            .map_err(|e| invalid(&pattern, format!("pattern cannot be compiled: {e}")))?;
        Ok(Self {
            pattern,
            settings,
            matcher,
        })
    }

    pub fn matches(&self, issuer_url: &str) -> bool {
        self.matcher.is_match(issuer_url)
    }
}

/// A certificate extension a CI provider's templates may fill, named as in
/// upstream's `certificate.Extensions`. `Issuer` and `Subject` are not among
/// them: they always come from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[repr(u64)]
pub enum ExtensionField {
    #[serde(rename = "GithubWorkflowTrigger", alias = "github-workflow-trigger")]
    GithubWorkflowTrigger = 2,
    #[serde(rename = "GithubWorkflowSHA", alias = "github-workflow-sha")]
    GithubWorkflowSha = 3,
    #[serde(rename = "GithubWorkflowName", alias = "github-workflow-name")]
    GithubWorkflowName = 4,
    #[serde(
        rename = "GithubWorkflowRepository",
        alias = "github-workflow-repository"
    )]
    GithubWorkflowRepository = 5,
    #[serde(rename = "GithubWorkflowRef", alias = "github-workflow-ref")]
    GithubWorkflowRef = 6,
    #[serde(rename = "BuildSignerURI", alias = "build-signer-uri")]
    BuildSignerUri = 9,
    #[serde(rename = "BuildSignerDigest", alias = "build-signer-digest")]
    BuildSignerDigest = 10,
    #[serde(rename = "RunnerEnvironment", alias = "runner-environment")]
    RunnerEnvironment = 11,
    #[serde(rename = "SourceRepositoryURI", alias = "source-repository-uri")]
    SourceRepositoryUri = 12,
    #[serde(rename = "SourceRepositoryDigest", alias = "source-repository-digest")]
    SourceRepositoryDigest = 13,
    #[serde(rename = "SourceRepositoryRef", alias = "source-repository-ref")]
    SourceRepositoryRef = 14,
    #[serde(
        rename = "SourceRepositoryIdentifier",
        alias = "source-repository-identifier"
    )]
    SourceRepositoryIdentifier = 15,
    #[serde(
        rename = "SourceRepositoryOwnerURI",
        alias = "source-repository-owner-uri"
    )]
    SourceRepositoryOwnerUri = 16,
    #[serde(
        rename = "SourceRepositoryOwnerIdentifier",
        alias = "source-repository-owner-identifier"
    )]
    SourceRepositoryOwnerIdentifier = 17,
    #[serde(rename = "BuildConfigURI", alias = "build-config-uri")]
    BuildConfigUri = 18,
    #[serde(rename = "BuildConfigDigest", alias = "build-config-digest")]
    BuildConfigDigest = 19,
    #[serde(rename = "BuildTrigger", alias = "build-trigger")]
    BuildTrigger = 20,
    #[serde(rename = "RunInvocationURI", alias = "run-invocation-uri")]
    RunInvocationUri = 21,
    #[serde(
        rename = "SourceRepositoryVisibilityAtSigning",
        alias = "source-repository-visibility-at-signing"
    )]
    SourceRepositoryVisibilityAtSigning = 22,
    #[serde(rename = "DeploymentEnvironment", alias = "deployment-environment")]
    DeploymentEnvironment = 23,
}

impl ExtensionField {
    /// The last arc of the extension's OID under 1.3.6.1.4.1.57264.1.
    pub fn arc(self) -> u64 {
        self as u64
    }
}

/// A CI provider's templates, parsed.
#[derive(Debug, Clone)]
pub(crate) struct CiProviderMetadata {
    pub defaults: HashMap<String, String>,
    pub extensions: Vec<(ExtensionField, ValueTemplate)>,
    pub subject_alternative_name: ValueTemplate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(rename = "OIDCIssuers", alias = "oidc-issuers", default)]
    oidc_issuers: BTreeMap<String, IssuerSettings>,
    #[serde(rename = "MetaIssuers", alias = "meta-issuers", default)]
    meta_issuers: BTreeMap<String, IssuerSettings>,
    #[serde(rename = "CIIssuerMetadata", alias = "ci-issuer-metadata", default)]
    ci_issuer_metadata: BTreeMap<String, CiMetadataFile>,
    /// Upstream's shipped YAML keeps its anchors (`&github-type`) under a
    /// top-level `define` list that the Go loader ignores; so do we.
    #[serde(rename = "define", default)]
    _anchors: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CiMetadataFile {
    #[serde(
        rename = "DefaultTemplateValues",
        alias = "default-template-values",
        default
    )]
    default_template_values: HashMap<String, String>,
    #[serde(rename = "ExtensionTemplates", alias = "extension-templates", default)]
    extension_templates: BTreeMap<ExtensionField, String>,
    #[serde(
        rename = "SubjectAlternativeNameTemplate",
        alias = "subject-alternative-name-template",
        default
    )]
    subject_alternative_name_template: String,
}

impl IssuerConfig {
    /// Parses JSON when the text starts with `{`, YAML otherwise, then
    /// validates it as upstream does.
    #[allow(clippy::should_implement_trait)] // the HTTP layer calls it by this name
    pub fn from_str(text: &str) -> Result<Self, IdentityConfigError> {
        let file: ConfigFile = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| IdentityConfigError::Parse {
                format: "JSON",
                message: e.to_string(),
            })?
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| IdentityConfigError::Parse {
                format: "YAML",
                message: e.to_string(),
            })?
        };
        Self::validate(file)
    }

    /// Adds `other`'s issuers (`atesto dev --oidc-config`). An issuer URL,
    /// meta-issuer pattern or CI provider in both is refused: which one an
    /// operator meant cannot be guessed.
    pub fn merge(&mut self, other: IssuerConfig) -> Result<(), IdentityConfigError> {
        for (url, settings) in other.issuers {
            if self.issuers.contains_key(&url) {
                return Err(IdentityConfigError::Issuer {
                    issuer: url,
                    reason: "configured twice".into(),
                });
            }
            self.issuers.insert(url, settings);
        }
        for meta in other.meta_issuers {
            if self.meta_issuers.iter().any(|m| m.pattern == meta.pattern) {
                return Err(IdentityConfigError::Issuer {
                    issuer: meta.pattern,
                    reason: "configured twice".into(),
                });
            }
            self.meta_issuers.push(meta);
        }
        for (provider, metadata) in other.ci_providers {
            if self.ci_providers.contains_key(&provider) {
                return Err(IdentityConfigError::Issuer {
                    issuer: provider,
                    reason: "CI provider metadata configured twice".into(),
                });
            }
            self.ci_providers.insert(provider, metadata);
        }
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Self, IdentityConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| IdentityConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_str(&text)
    }

    fn validate(file: ConfigFile) -> Result<Self, IdentityConfigError> {
        let mut ci_providers = BTreeMap::new();
        for (provider, metadata) in file.ci_issuer_metadata {
            ci_providers.insert(provider.clone(), parse_ci_metadata(&provider, metadata)?);
        }

        let mut issuers = BTreeMap::new();
        for (url, mut settings) in file.oidc_issuers {
            if settings.issuer_url.is_empty() {
                settings.issuer_url = url.clone();
            }
            if settings.issuer_url != url {
                return Err(invalid(
                    &url,
                    format!("IssuerURL {} differs from its key", settings.issuer_url),
                ));
            }
            validate_issuer(&url, &settings, &ci_providers)?;
            issuers.insert(url, settings);
        }

        let mut meta_issuers = Vec::new();
        for (pattern, settings) in file.meta_issuers {
            if settings.issuer_type == IssuerType::Spiffe {
                // One SPIFFE trust domain for many issuers is refused upstream.
                return Err(invalid(
                    &pattern,
                    "SPIFFE meta issuers are not supported".into(),
                ));
            }
            if settings.jwks_file.is_some() {
                return Err(invalid(
                    &pattern,
                    "a meta issuer cannot have a JWKSFile: each matching issuer has its own keys"
                        .into(),
                ));
            }
            validate_issuer(&pattern, &settings, &ci_providers)?;
            meta_issuers.push(MetaIssuer::new(pattern, settings)?);
        }

        Ok(Self {
            issuers,
            meta_issuers,
            ci_providers,
        })
    }
}

fn invalid(issuer: &str, reason: String) -> IdentityConfigError {
    IdentityConfigError::Issuer {
        issuer: issuer.to_string(),
        reason,
    }
}

fn parse_ci_metadata(
    provider: &str,
    file: CiMetadataFile,
) -> Result<CiProviderMetadata, IdentityConfigError> {
    let template_error = |field: String, reason: String| IdentityConfigError::Template {
        provider: provider.to_string(),
        field,
        reason,
    };
    let mut extensions = Vec::new();
    for (field, text) in file.extension_templates {
        if text.trim().is_empty() {
            continue; // upstream skips empty templates
        }
        let template = ValueTemplate::parse(&text)
            .map_err(|reason| template_error(format!("{field:?}"), reason))?;
        extensions.push((field, template));
    }
    if file.subject_alternative_name_template.trim().is_empty() {
        return Err(template_error(
            "SubjectAlternativeNameTemplate".into(),
            "must not be empty".into(),
        ));
    }
    let subject_alternative_name = ValueTemplate::parse(&file.subject_alternative_name_template)
        .map_err(|reason| template_error("SubjectAlternativeNameTemplate".into(), reason))?;
    Ok(CiProviderMetadata {
        defaults: file.default_template_values,
        extensions,
        subject_alternative_name,
    })
}

fn validate_issuer(
    name: &str,
    settings: &IssuerSettings,
    ci_providers: &BTreeMap<String, CiProviderMetadata>,
) -> Result<(), IdentityConfigError> {
    let fail = |reason: &str| Err(invalid(name, reason.to_string()));
    if !settings.issuer_claim.is_empty() {
        if settings.issuer_type != IssuerType::Email {
            return fail("only email issuers can use IssuerClaim");
        }
        if claim_path(&settings.issuer_claim).is_none() {
            return fail(
                "IssuerClaim must be a path of claim names like $.federated_claims.connector_id",
            );
        }
    }
    match settings.issuer_type {
        IssuerType::Spiffe => {
            if settings.spiffe_trust_domain.is_empty() {
                return fail("spiffe issuer must have SPIFFETrustDomain set");
            }
            if !is_valid_trust_domain(&settings.spiffe_trust_domain) {
                return fail("SPIFFETrustDomain is not a valid SPIFFE trust domain");
            }
        }
        IssuerType::Uri => {
            let Some(domain) = parse_url_with_host(&settings.subject_domain) else {
                return fail("uri issuer must have SubjectDomain set to a URL with a scheme");
            };
            let Some(issuer) = parse_url_with_host(&settings.issuer_url) else {
                return fail("issuer for uri must contain scheme");
            };
            if domain.scheme() != issuer.scheme() {
                return fail("SubjectDomain and issuer URL schemes do not match");
            }
            check_same_registered_domain(
                name,
                domain.host_str().unwrap_or_default(),
                issuer.host_str().unwrap_or_default(),
            )?;
        }
        IssuerType::Username => {
            if settings.subject_domain.is_empty() {
                return fail("username issuer must have SubjectDomain set");
            }
            if settings.subject_domain.contains("://") {
                return fail("SubjectDomain for username should not contain scheme");
            }
            let Some(issuer) = parse_url_with_host(&settings.issuer_url) else {
                return fail("issuer for username must contain scheme");
            };
            check_same_registered_domain(
                name,
                &settings.subject_domain,
                issuer.host_str().unwrap_or_default(),
            )?;
        }
        IssuerType::CiProvider => {
            if !ci_providers.contains_key(&settings.ci_provider) {
                return Err(invalid(
                    name,
                    format!(
                        "CIProvider {:?} has no CIIssuerMetadata entry",
                        settings.ci_provider
                    ),
                ));
            }
        }
        IssuerType::Email | IssuerType::Kubernetes | IssuerType::GithubWorkflow => {}
    }
    Ok(())
}

/// `$.a.b` -> `["a", "b"]`: the only JSONPath form upstream's config uses.
pub(crate) fn claim_path(path: &str) -> Option<Vec<&str>> {
    let names: Vec<&str> = path.strip_prefix("$.")?.split('.').collect();
    names
        .iter()
        .all(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .then_some(names)
}

/// A SPIFFE trust domain: lowercase letters, digits, `.`, `-`, `_`.
pub(crate) fn is_valid_trust_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

/// A URL with a host, parsed as reqwest parses the URLs it fetches: one
/// parser for both, so what is checked is what is connected to.
pub(crate) fn parse_url_with_host(text: &str) -> Option<Url> {
    Url::parse(text)
        .ok()
        .filter(|url| url.host_str().is_some_and(|host| !host.is_empty()))
}

/// Upstream's ownership proxy: the two hostnames are equal or share their
/// last two labels (it admits this is wrong for co.uk-style suffixes).
fn check_same_registered_domain(
    name: &str,
    subject_host: &str,
    issuer_host: &str,
) -> Result<(), IdentityConfigError> {
    if subject_host == issuer_host {
        return Ok(());
    }
    let last_two = |host: &str| -> Option<(String, String)> {
        let labels: Vec<&str> = host.split('.').collect();
        (labels.len() >= 2).then(|| {
            (
                labels[labels.len() - 2].to_string(),
                labels[labels.len() - 1].to_string(),
            )
        })
    };
    match (last_two(subject_host), last_two(issuer_host)) {
        (Some(subject), Some(issuer)) if subject == issuer => Ok(()),
        _ => Err(invalid(
            name,
            format!(
                "SubjectDomain host {subject_host} is not in the issuer's domain {issuer_host}"
            ),
        )),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
