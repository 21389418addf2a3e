//! OIDC identity tokens -> [`Principal`]: which issuers are trusted (Fulcio's
//! issuer configuration), how their keys are found and cached, how a token is
//! checked, and what each issuer type puts in the certificate.
//!
//! [`IdentityVerifier::verify`] is the one entry point for the HTTP layer.

mod claim_mapping;
mod config;
pub mod dev_issuer;
mod error;
mod keys;
mod template;
mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

pub use config::{
    DEFAULT_SERVICE_ACCOUNT_TOKEN_FILE, ExtensionField, IssuerConfig, IssuerSettings, IssuerType,
};
pub use error::{IdentityConfigError, IdentityError};

use crate::principal::Principal;
use claim_mapping::{VerifiedClaims, map_principal};
use keys::{CachePolicy, IssuerKeys, issuer_http_client};
use token::ClaimRules;

/// `iss` values longer than this are refused before any issuer lookup:
/// real issuer URLs are well under 200 bytes, and matching cost grows with
/// the length.
const MAX_ISSUER_BYTES: usize = 1024;

/// How many concrete issuers matched by meta-issuer patterns keep their keys
/// cached (upstream keeps 100 too); the least recently used is dropped.
const MAX_CACHED_META_ISSUERS: usize = 100;

/// Tuning for token verification. Deserializes from seconds fields
/// (`jwks_ttl_secs`, ...); missing fields take the defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifierOptions {
    /// The audience tokens must carry, unless an issuer sets `ClientID`.
    pub client_id: String,
    /// Tokens longer than this are refused before any parsing.
    pub max_token_bytes: usize,
    /// How long discovery and JWKS answers are reused. Ten minutes: a key an
    /// issuer withdraws stops being trusted soon after, at the cost of two
    /// small requests per issuer per ten minutes; rotation to a new key does
    /// not wait for it (an unknown kid refetches early).
    #[serde(rename = "jwks_ttl_secs", deserialize_with = "seconds")]
    pub jwks_ttl: Duration,
    /// At most one early refetch per issuer within this window, so tokens
    /// with made-up kids cannot make us hammer the issuer.
    #[serde(rename = "unknown_kid_cooldown_secs", deserialize_with = "seconds")]
    pub unknown_kid_cooldown: Duration,
    /// Clock skew allowed for `nbf` and `iat` (never for `exp`).
    #[serde(rename = "nbf_leeway_secs", deserialize_with = "seconds")]
    pub nbf_leeway: Duration,
    /// Per request to an issuer (upstream's discovery timeout is 10 s).
    #[serde(rename = "http_timeout_secs", deserialize_with = "seconds")]
    pub http_timeout: Duration,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        Self {
            client_id: "sigstore".into(),
            max_token_bytes: 16 * 1024,
            jwks_ttl: Duration::from_secs(600),
            unknown_kid_cooldown: Duration::from_secs(30),
            nbf_leeway: Duration::from_secs(60),
            http_timeout: Duration::from_secs(10),
        }
    }
}

fn seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

/// Keys of issuers matched through meta-issuer patterns, bounded.
#[derive(Default)]
struct MetaIssuerKeys {
    by_url: HashMap<String, (Arc<IssuerKeys>, u64)>,
    clock: u64,
}

/// Verifies identity tokens against the configured issuers. Cheap to share
/// in an `Arc`; all caches are internal.
pub struct IdentityVerifier {
    config: IssuerConfig,
    options: VerifierOptions,
    exact_keys: HashMap<String, Arc<IssuerKeys>>,
    /// One HTTP client per meta-issuer pattern (same order as the config).
    meta_clients: Vec<reqwest::Client>,
    meta_keys: Mutex<MetaIssuerKeys>,
}

impl IdentityVerifier {
    /// Builds the HTTP clients and loads static JWKS files; fetches nothing.
    pub fn new(
        issuers: IssuerConfig,
        options: VerifierOptions,
    ) -> Result<Self, IdentityConfigError> {
        let policy = cache_policy(&options);
        let mut exact_keys = HashMap::new();
        for (url, settings) in &issuers.issuers {
            let client = issuer_http_client(url, settings, options.http_timeout)?;
            exact_keys.insert(
                url.clone(),
                Arc::new(IssuerKeys::new(settings, client, policy)?),
            );
        }
        let meta_clients = issuers
            .meta_issuers
            .iter()
            .map(|meta| issuer_http_client(&meta.pattern, &meta.settings, options.http_timeout))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            config: issuers,
            options,
            exact_keys,
            meta_clients,
            meta_keys: Mutex::new(MetaIssuerKeys::default()),
        })
    }

    /// Checks `token` completely and returns what it proves.
    pub async fn verify(&self, token: &str) -> Result<Principal, IdentityError> {
        let unverified = token::parse(token, self.options.max_token_bytes)?;
        let issuer = match unverified.claims.get("iss") {
            Some(Value::String(iss)) => iss.clone(),
            Some(_) => {
                return Err(IdentityError::WrongClaimType {
                    claim: "iss".into(),
                    expected: "a string",
                });
            }
            None => return Err(IdentityError::MissingClaim("iss".into())),
        };
        if issuer.len() > MAX_ISSUER_BYTES {
            return Err(IdentityError::ClaimTooLong {
                claim: "iss",
                limit: MAX_ISSUER_BYTES,
            });
        }
        let (settings, keys) = self.issuer_keys(&issuer)?;
        let key = keys.key_for(unverified.kid.as_deref()).await?;
        unverified.verify_signature(&key, &issuer)?;

        let client_id = match settings.client_id.as_str() {
            "" => self.options.client_id.as_str(),
            configured => configured,
        };
        ClaimRules {
            client_id,
            nbf_leeway_secs: self.options.nbf_leeway.as_secs(),
            now: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        }
        .check(&unverified.claims)?;

        let verified = VerifiedClaims {
            claims: &unverified.claims,
            issuer: &issuer,
            settings: &settings,
        };
        map_principal(&verified, &self.config)
    }

    /// The body of `GET /api/v2/configuration`, in upstream's shape.
    pub fn configuration(&self) -> Value {
        let describe = |key: &str, url: &str, settings: &IssuerSettings| {
            let audience = match settings.client_id.as_str() {
                "" => self.options.client_id.as_str(),
                configured => configured,
            };
            let mut entry = json!({
                key: url,
                "audience": audience,
                "challengeClaim": settings.challenge_claim(),
                "issuerType": settings.issuer_type.as_str(),
            });
            // Upstream's protobuf JSON omits empty fields.
            let optional = [
                (
                    "spiffeTrustDomain",
                    Value::from(settings.spiffe_trust_domain.as_str()),
                ),
                (
                    "subjectDomain",
                    Value::from(settings.subject_domain.as_str()),
                ),
                (
                    "skipEmailVerification",
                    Value::from(settings.skip_email_verification),
                ),
            ];
            for (name, value) in optional {
                if value != "" && value != false {
                    entry[name] = value;
                }
            }
            entry
        };
        let issuers: Vec<Value> = self
            .config
            .issuers
            .iter()
            .map(|(url, settings)| describe("issuerUrl", url, settings))
            .chain(
                self.config
                    .meta_issuers
                    .iter()
                    .map(|meta| describe("wildcardIssuerUrl", &meta.pattern, &meta.settings)),
            )
            .collect();
        json!({ "issuers": issuers })
    }

    /// The settings and key cache for a token's `iss`.
    fn issuer_keys(
        &self,
        issuer: &str,
    ) -> Result<(IssuerSettings, Arc<IssuerKeys>), IdentityError> {
        let unknown = || IdentityError::UnknownIssuer(printable_issuer(issuer));
        if let (Some(settings), Some(keys)) =
            (self.config.issuers.get(issuer), self.exact_keys.get(issuer))
        {
            return Ok((settings.clone(), keys.clone()));
        }
        let (index, meta) = self
            .config
            .meta_issuers
            .iter()
            .enumerate()
            .find(|(_, meta)| meta.matches(issuer))
            .ok_or_else(unknown)?;
        let mut settings = meta.settings.clone();
        settings.issuer_url = issuer.to_string();

        let mut cache = self
            .meta_keys
            .lock()
            .map_err(|_| IdentityError::IssuerUnavailable {
                issuer: issuer.to_string(),
                reason: "key cache poisoned by an earlier panic".into(),
            })?;
        cache.clock += 1;
        let now = cache.clock;
        if let Some((keys, last_used)) = cache.by_url.get_mut(issuer) {
            *last_used = now;
            return Ok((settings, keys.clone()));
        }
        if cache.by_url.len() >= MAX_CACHED_META_ISSUERS
            && let Some(oldest) = cache
                .by_url
                .iter()
                .min_by_key(|(_, (_, last_used))| *last_used)
                .map(|(url, _)| url.clone())
        {
            cache.by_url.remove(&oldest);
        }
        let client = self.meta_clients.get(index).cloned().ok_or_else(unknown)?;
        // Meta issuers never have a JWKS file (refused at load), so this
        // only records the client.
        let keys =
            IssuerKeys::new(&settings, client, cache_policy(&self.options)).map_err(|e| {
                IdentityError::IssuerUnavailable {
                    issuer: issuer.to_string(),
                    reason: e.to_string(),
                }
            })?;
        let keys = Arc::new(keys);
        cache.by_url.insert(issuer.to_string(), (keys.clone(), now));
        Ok((settings, keys))
    }
}

fn cache_policy(options: &VerifierOptions) -> CachePolicy {
    CachePolicy {
        ttl: options.jwks_ttl,
        unknown_kid_cooldown: options.unknown_kid_cooldown,
    }
}

/// An unknown `iss` is shown to the client, but it is token content: cap it.
fn printable_issuer(issuer: &str) -> String {
    const MAX_SHOWN: usize = 200;
    if issuer.len() <= MAX_SHOWN && !issuer.chars().any(char::is_control) {
        issuer.to_string()
    } else {
        let shown: String = issuer
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_SHOWN)
            .collect();
        format!("{shown}...")
    }
}
