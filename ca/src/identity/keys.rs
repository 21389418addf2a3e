//! An issuer's signing keys: OIDC discovery, the JWKS fetch, and the cache
//! that keeps both for a TTL and refetches early, at most once per cooldown,
//! when a token names a key it does not hold (the issuer rotated).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::config::{IssuerSettings, parse_url_with_host};
use super::error::{IdentityConfigError, IdentityError};

/// Discovery documents and key sets larger than this are refused: real ones
/// are a few kilobytes, and the body comes from a network peer.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// One usable signature-verification key from a JWKS.
pub(crate) struct VerifyingKey {
    pub kid: Option<String>,
    jwk: Jwk,
    pub decoding_key: DecodingKey,
}

impl VerifyingKey {
    /// Whether this key can verify `alg` signatures: its type (and curve)
    /// must fit, and so must its own `alg` member when it declares one.
    pub fn supports(&self, alg: Algorithm) -> bool {
        let type_fits = match &self.jwk.algorithm {
            AlgorithmParameters::RSA(_) => matches!(
                alg,
                Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256
            ),
            AlgorithmParameters::EllipticCurve(ec) => matches!(
                (&ec.curve, alg),
                (EllipticCurve::P256, Algorithm::ES256) | (EllipticCurve::P384, Algorithm::ES384)
            ),
            AlgorithmParameters::OctetKeyPair(okp) => {
                okp.curve == EllipticCurve::Ed25519 && alg == Algorithm::EdDSA
            }
            // HMAC secrets, unknown types, and any added later.
            _ => false,
        };
        let declared_fits = self
            .jwk
            .common
            .key_algorithm
            .is_none_or(|declared| declared == KeyAlgorithm::from(alg));
        type_fits && declared_fits
    }
}

/// The verification keys of one JWKS document.
pub(crate) struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Keeps the public signature keys it can use; skips the rest (other
    /// key types, encryption keys) so one odd entry does not break an issuer.
    fn from_json(body: &[u8]) -> Result<Self, String> {
        let document: JwksDocument =
            serde_json::from_slice(body).map_err(|e| format!("JWKS is not valid JSON: {e}"))?;
        let keys = document
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter(|jwk| jwk.common.public_key_use != Some(PublicKeyUse::Encryption))
            .filter(|jwk| !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)))
            .filter_map(|jwk| {
                let decoding_key = DecodingKey::from_jwk(&jwk).ok()?;
                Some(Arc::new(VerifyingKey {
                    kid: jwk.common.key_id.clone(),
                    jwk,
                    decoding_key,
                }))
            })
            .collect();
        Ok(Self { keys })
    }

    /// The key a token names, or the only key when the token names none.
    fn select(
        &self,
        kid: Option<&str>,
        issuer: &str,
    ) -> Result<Option<Arc<VerifyingKey>>, IdentityError> {
        match kid {
            Some(kid) => Ok(self
                .keys
                .iter()
                .find(|key| key.kid.as_deref() == Some(kid))
                .cloned()),
            None => match self.keys.as_slice() {
                [only] => Ok(Some(only.clone())),
                [] => Ok(None),
                keys => Err(IdentityError::NoKidAmbiguous {
                    issuer: issuer.to_string(),
                    count: keys.len(),
                }),
            },
        }
    }
}

/// How fresh keys are kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CachePolicy {
    pub ttl: Duration,
    pub unknown_kid_cooldown: Duration,
}

enum KeySource {
    /// A JWKS file from the configuration: never refetched.
    Static(Arc<KeySet>),
    Remote {
        client: reqwest::Client,
        bearer_token_file: Option<PathBuf>,
    },
}

#[derive(Default)]
struct CachedKeys {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
}

/// The keys of one concrete issuer URL.
pub(crate) struct IssuerKeys {
    issuer_url: String,
    source: KeySource,
    policy: CachePolicy,
    /// An async lock held across a fetch, so concurrent callers share the
    /// one in-flight fetch instead of starting their own.
    cached: tokio::sync::Mutex<CachedKeys>,
}

impl IssuerKeys {
    /// Keys for `settings.issuer_url`, fetched from it through `client`
    /// unless the settings name a static JWKS file.
    pub fn new(
        settings: &IssuerSettings,
        client: reqwest::Client,
        policy: CachePolicy,
    ) -> Result<Self, IdentityConfigError> {
        let source = match &settings.jwks_file {
            Some(path) => {
                KeySource::Static(Arc::new(load_static_jwks(&settings.issuer_url, path)?))
            }
            None => KeySource::Remote {
                client,
                bearer_token_file: settings.bearer_token_file().map(Path::to_path_buf),
            },
        };
        Ok(Self {
            issuer_url: settings.issuer_url.clone(),
            source,
            policy,
            cached: tokio::sync::Mutex::new(CachedKeys::default()),
        })
    }

    /// The key a token's header names. A kid not in the cached set causes
    /// one refetch, unless the keys were fetched within the cooldown.
    pub async fn key_for(&self, kid: Option<&str>) -> Result<Arc<VerifyingKey>, IdentityError> {
        let no_key = || IdentityError::NoKey {
            kid: kid.unwrap_or("(none)").to_string(),
            issuer: self.issuer_url.clone(),
        };
        let (client, bearer_token_file) = match &self.source {
            KeySource::Static(keys) => {
                return keys.select(kid, &self.issuer_url)?.ok_or_else(no_key);
            }
            KeySource::Remote {
                client,
                bearer_token_file,
            } => (client, bearer_token_file.as_deref()),
        };
        let mut cached = self.cached.lock().await;
        let fetched_within = |cached: &CachedKeys, window: Duration| {
            cached.fetched_at.is_some_and(|at| at.elapsed() < window)
        };
        if cached.keys.is_none() && fetched_within(&cached, self.policy.unknown_kid_cooldown) {
            return Err(IdentityError::IssuerUnavailable {
                issuer: self.issuer_url.clone(),
                reason: "its keys could not be fetched moments ago; retrying after the cooldown"
                    .into(),
            });
        }
        if cached.keys.is_none() || !fetched_within(&cached, self.policy.ttl) {
            self.refresh(&mut cached, client, bearer_token_file).await?;
        }
        if let Some(keys) = &cached.keys
            && let Some(key) = keys.select(kid, &self.issuer_url)?
        {
            return Ok(key);
        }
        if fetched_within(&cached, self.policy.unknown_kid_cooldown) {
            return Err(no_key());
        }
        self.refresh(&mut cached, client, bearer_token_file).await?;
        cached
            .keys
            .as_ref()
            .and_then(|keys| keys.select(kid, &self.issuer_url).transpose())
            .transpose()?
            .ok_or_else(no_key)
    }

    async fn refresh(
        &self,
        cached: &mut CachedKeys,
        client: &reqwest::Client,
        bearer_token_file: Option<&Path>,
    ) -> Result<(), IdentityError> {
        // Stamp the attempt even when it fails, so an unreachable issuer is
        // not hammered by every unknown-kid token.
        cached.fetched_at = Some(Instant::now());
        let keys = self.fetch(client, bearer_token_file).await?;
        cached.keys = Some(Arc::new(keys));
        Ok(())
    }

    async fn fetch(
        &self,
        client: &reqwest::Client,
        bearer_token_file: Option<&Path>,
    ) -> Result<KeySet, IdentityError> {
        let unavailable = |reason: String| IdentityError::IssuerUnavailable {
            issuer: self.issuer_url.clone(),
            reason,
        };
        // Read per fetch: projected service-account tokens are rotated.
        let bearer = match bearer_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| {
                        unavailable(format!(
                            "cannot read service-account token {}: {e}",
                            path.display()
                        ))
                    })?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer_url.trim_end_matches('/')
        );
        let body = self.get(client, &discovery_url, bearer.as_deref()).await?;
        let discovery: DiscoveryDocument = serde_json::from_slice(&body)
            .map_err(|e| unavailable(format!("openid-configuration is not valid: {e}")))?;
        if discovery.issuer != self.issuer_url {
            return Err(IdentityError::DiscoveryIssuerMismatch {
                issuer: self.issuer_url.clone(),
                discovered: discovery.issuer,
            });
        }
        let body = self
            .get(client, &discovery.jwks_uri, bearer.as_deref())
            .await?;
        KeySet::from_json(&body).map_err(unavailable)
    }

    /// GET with a size cap; the bearer token goes only to the issuer's host.
    async fn get(
        &self,
        client: &reqwest::Client,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<Vec<u8>, IdentityError> {
        let unavailable = |reason: String| IdentityError::IssuerUnavailable {
            issuer: self.issuer_url.clone(),
            reason,
        };
        let target = parse_url_with_host(url)
            .ok_or_else(|| unavailable(format!("{url:?} is not an absolute http(s) URL")))?;
        let mut request = client.get(target.clone());
        if let Some(token) = bearer
            && same_origin(&target, &self.issuer_url)
        {
            request = request.bearer_auth(token);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| unavailable(format!("GET {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "GET {url}: HTTP {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(format!("GET {url}: {e}")))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(unavailable(format!(
                    "GET {url}: body over {MAX_DOCUMENT_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Whether `target` has the scheme, host and port (default ports filled in)
/// of `issuer_url`: the service-account token is for the issuer alone.
fn same_origin(target: &url::Url, issuer_url: &str) -> bool {
    parse_url_with_host(issuer_url).is_some_and(|issuer| {
        issuer.scheme() == target.scheme()
            && issuer.host() == target.host()
            && issuer.port_or_known_default() == target.port_or_known_default()
    })
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

fn load_static_jwks(issuer: &str, path: &Path) -> Result<KeySet, IdentityConfigError> {
    let body = std::fs::read(path).map_err(|source| IdentityConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let keys = KeySet::from_json(&body).map_err(|reason| IdentityConfigError::Issuer {
        issuer: issuer.to_string(),
        reason: format!("JWKSFile {}: {reason}", path.display()),
    })?;
    if keys.keys.is_empty() {
        return Err(IdentityConfigError::Issuer {
            issuer: issuer.to_string(),
            reason: format!("JWKSFile {} holds no usable signature key", path.display()),
        });
    }
    Ok(keys)
}

/// The HTTP client for one issuer (or meta-issuer pattern): its extra CA
/// roots, the timeout, and redirects kept on the issuer's own host.
pub(crate) fn issuer_http_client(
    name: &str,
    settings: &IssuerSettings,
    timeout: Duration,
) -> Result<reqwest::Client, IdentityConfigError> {
    let client_error = |reason: String| IdentityConfigError::HttpClient {
        issuer: name.to_string(),
        reason,
    };
    let mut builder =
        reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                // Scheme, host and port: a redirect to another port of the
                // host is another service.
                let same_host = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if attempt.previous().len() > 5 || !same_host {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }));
    let mut pem_sources: Vec<Vec<u8>> = Vec::new();
    if !settings.ca_cert.is_empty() {
        pem_sources.push(settings.ca_cert.as_bytes().to_vec());
    }
    if let Some(path) = &settings.ca_cert_file {
        pem_sources.push(
            std::fs::read(path).map_err(|source| IdentityConfigError::Read {
                path: path.clone(),
                source,
            })?,
        );
    }
    for pem in pem_sources {
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| client_error(format!("CA certificate is not valid PEM: {e}")))?;
        if certificates.is_empty() {
            return Err(client_error(
                "CA certificate PEM holds no certificate".into(),
            ));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| client_error(e.to_string()))
}
