//! A tiny in-process OIDC issuer.
//!
//! **FOR DEVELOPMENT AND TESTS ONLY.** It signs whatever claims it is handed,
//! with a key that lives in memory, and publishes that key to anyone who
//! asks. Never configure a production CA to trust it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Lifetime of minted tokens that do not set `exp`.
const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 600;

struct SigningKey {
    kid: String,
    encoding_key: EncodingKey,
    public_jwk: Value,
}

impl SigningKey {
    /// A fresh ES256 key with a random kid.
    fn generate() -> Self {
        let rng = SystemRandom::new();
        // Key generation from the system RNG only fails if the OS has no
        // randomness, which nothing here could recover from.
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("dev issuer: system RNG unavailable");
        let mut kid_bytes = [0u8; 8];
        rng.fill(&mut kid_bytes)
            .expect("dev issuer: system RNG unavailable");
        Self::from_pkcs8(pkcs8.as_ref(), hex::encode(kid_bytes))
            .expect("dev issuer: generated key rejected")
    }

    /// An ES256 key from PKCS#8 DER, published under `kid`.
    fn from_pkcs8(pkcs8: &[u8], kid: String) -> Result<Self, aws_lc_rs::error::KeyRejected> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)?;
        // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
        let point = pair.public_key().as_ref();
        let public_jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "use": "sig",
            "alg": "ES256",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Ok(Self {
            kid,
            encoding_key: EncodingKey::from_ec_der(pkcs8),
            public_jwk,
        })
    }
}

struct Keys {
    current: SigningKey,
    /// Every key still in the JWKS, current included.
    published: Vec<Value>,
}

struct Shared {
    issuer_url: String,
    keys: RwLock<Keys>,
    jwks_fetches: AtomicU64,
}

/// An OIDC issuer for development and tests (see the module docs).
#[derive(Clone)]
pub struct DevIssuer {
    shared: Arc<Shared>,
}

impl DevIssuer {
    /// An issuer whose tokens and discovery document name `issuer_url`;
    /// serve [`DevIssuer::router`] at that URL.
    pub fn new(issuer_url: String) -> DevIssuer {
        Self::with_key(issuer_url, SigningKey::generate())
    }

    /// An issuer signing with a kept ECDSA P-256 key (PKCS#8 DER), so that
    /// tokens minted by another process verify: the kid is derived from the
    /// key.
    pub fn from_pkcs8(
        issuer_url: String,
        pkcs8: &[u8],
    ) -> Result<DevIssuer, aws_lc_rs::error::KeyRejected> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)?;
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pair.public_key().as_ref());
        let kid = hex::encode(&digest.as_ref()[..8]);
        Ok(Self::with_key(
            issuer_url,
            SigningKey::from_pkcs8(pkcs8, kid)?,
        ))
    }

    fn with_key(issuer_url: String, current: SigningKey) -> DevIssuer {
        let published = vec![current.public_jwk.clone()];
        DevIssuer {
            shared: Arc::new(Shared {
                issuer_url,
                keys: RwLock::new(Keys { current, published }),
                jwks_fetches: AtomicU64::new(0),
            }),
        }
    }

    pub fn issuer_url(&self) -> &str {
        &self.shared.issuer_url
    }

    /// `/.well-known/openid-configuration` and `/jwks`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(self.shared.clone())
    }

    /// How many times the JWKS has been served.
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The current key's kid.
    pub fn current_kid(&self) -> String {
        self.read_keys(|keys| keys.current.kid.clone())
    }

    /// The published JWKS document (for static-JWKS configurations).
    pub fn jwks_json(&self) -> Value {
        self.read_keys(|keys| json!({ "keys": keys.published }))
    }

    /// Signs `claims` (a JSON object) with the current key, filling `iss`
    /// (this issuer), `iat` (now) and `exp` (now + 10 min) when absent.
    pub fn mint(&self, claims: Value) -> String {
        let mut claims = match claims {
            Value::Object(map) => map,
            other => panic!("dev issuer: claims must be a JSON object, got {other}"),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        claims
            .entry("iss")
            .or_insert_with(|| Value::from(self.shared.issuer_url.clone()));
        claims.entry("iat").or_insert_with(|| Value::from(now));
        claims
            .entry("exp")
            .or_insert_with(|| Value::from(now + DEFAULT_TOKEN_LIFETIME_SECS));
        self.read_keys(|keys| {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(keys.current.kid.clone());
            jsonwebtoken::encode(&header, &claims, &keys.current.encoding_key)
                .expect("dev issuer: ES256 signing failed")
        })
    }

    /// As `mint`, varying a `jti` claim until the payload's base64url has no
    /// `-` or `_`: sigstore-rs decodes it with the standard alphabet.
    pub fn mint_portable(&self, claims: Value) -> String {
        let mut claims = claims;
        for jti in 0u64.. {
            claims["jti"] = Value::from(jti.to_string());
            let token = self.mint(claims.clone());
            let payload = token.split('.').nth(1).unwrap_or_default();
            if !payload.contains(['-', '_']) {
                return token;
            }
        }
        unreachable!("a u64 jti never runs out")
    }

    /// Switches to a new key and kid. The new key is published; the old one
    /// stays published too when `keep_old_published`, as issuers do during a
    /// rotation, or is withdrawn.
    pub fn rotate_key(&self, keep_old_published: bool) {
        let next = SigningKey::generate();
        let mut keys = self
            .shared
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !keep_old_published {
            keys.published.clear();
        }
        keys.published.push(next.public_jwk.clone());
        keys.current = next;
    }

    fn read_keys<T>(&self, read: impl FnOnce(&Keys) -> T) -> T {
        read(
            &self
                .shared
                .keys
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let issuer = shared.issuer_url.trim_end_matches('/');
    Json(json!({
        "issuer": shared.issuer_url,
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = shared
        .keys
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Json(json!({ "keys": keys.published }))
}

/// The GitHub Actions token claims `atesto dev token --github` mints.
pub const DEV_GITHUB_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// Claims of an email identity (the challenge is the email).
pub fn email_claims(email: &str) -> Value {
    json!({
        "aud": "sigstore",
        "sub": email,
        "email": email,
        "email_verified": true,
    })
}

/// Claims of a Kubernetes service-account token.
pub fn kubernetes_claims(namespace: &str, account: &str) -> Value {
    json!({
        "aud": "sigstore",
        "sub": format!("system:serviceaccount:{namespace}:{account}"),
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": account, "uid": "00000000-0000-4000-8000-000000000001"},
        },
    })
}

/// Claims of a GitHub Actions job: a push to `main` of `repository`
/// (OWNER/REPO) running `.github/workflows/release.yml` at [`DEV_GITHUB_SHA`].
pub fn github_claims(repository: &str) -> Value {
    let owner = repository.split('/').next().unwrap_or(repository);
    let workflow_ref = format!("{repository}/.github/workflows/release.yml@refs/heads/main");
    json!({
        "aud": "sigstore",
        "sub": format!("repo:{repository}:ref:refs/heads/main"),
        "repository": repository,
        "repository_owner": owner,
        "repository_id": "1000",
        "repository_owner_id": "2000",
        "repository_visibility": "public",
        "workflow": "release",
        "workflow_ref": workflow_ref,
        "workflow_sha": DEV_GITHUB_SHA,
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": DEV_GITHUB_SHA,
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "sha": DEV_GITHUB_SHA,
        "event_name": "push",
        "run_id": "3000",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "dev",
    })
}
