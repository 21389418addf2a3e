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
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("dev issuer: generated key rejected");
        let mut kid_bytes = [0u8; 8];
        rng.fill(&mut kid_bytes)
            .expect("dev issuer: system RNG unavailable");
        let kid = hex::encode(kid_bytes);
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
        Self {
            kid,
            encoding_key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            public_jwk,
        }
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
        let current = SigningKey::generate();
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
