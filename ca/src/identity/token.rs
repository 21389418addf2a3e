//! The JWT itself: checks made before trusting any of it (size, shape,
//! algorithm), the signature check, and the time and audience claims.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use super::error::IdentityError;
use super::keys::VerifyingKey;

/// A token that passed the pre-parse checks; nothing in it is trusted yet.
pub(crate) struct UnverifiedToken<'a> {
    raw: &'a str,
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    /// Extensions the verifier must understand or refuse the token.
    crit: Option<Value>,
}

/// Size, three parts, decodable header and payload, an allowed algorithm.
pub(crate) fn parse(raw: &str, max_bytes: usize) -> Result<UnverifiedToken<'_>, IdentityError> {
    if raw.len() > max_bytes {
        return Err(IdentityError::TooLarge { limit: max_bytes });
    }
    let parts: Vec<&str> = raw.split('.').collect();
    let [header, payload, _signature] = parts.as_slice() else {
        return Err(IdentityError::NotThreeParts);
    };
    let header: Header = decode_part(header)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(IdentityError::Malformed("the header is not base64url JSON"))?;
    let alg = allowed_algorithm(
        header
            .alg
            .as_deref()
            .ok_or(IdentityError::Malformed("the header has no alg"))?,
    )?;
    if let Some(crit) = &header.crit {
        return Err(refuse_critical(crit));
    }
    let claims: Map<String, Value> = decode_part(payload)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(IdentityError::Malformed(
            "the payload is not a base64url JSON object",
        ))?;
    Ok(UnverifiedToken {
        raw,
        alg,
        kid: header.kid,
        claims,
    })
}

/// RFC 7515 4.1.11: a token naming critical extensions must be refused
/// unless each is understood, and none is here. A `crit` that is not a
/// non-empty array of names is malformed.
fn refuse_critical(crit: &Value) -> IdentityError {
    let names: Option<Vec<&str>> = crit
        .as_array()
        .filter(|names| !names.is_empty())
        .and_then(|names| names.iter().map(Value::as_str).collect());
    match names {
        Some(names) => {
            // Echo the names only when they look like names (token content).
            let shown = names.join(", ");
            if shown.len() <= 64
                && shown
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ',' | ' ' | '_' | '-'))
            {
                IdentityError::UnsupportedCritical(shown)
            } else {
                IdentityError::UnsupportedCritical("(unprintable)".into())
            }
        }
        None => IdentityError::Malformed("the header's crit is not a non-empty array of names"),
    }
}

fn decode_part(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part).ok()
}

/// Asymmetric algorithms only: `none` proves nothing and an HMAC key would
/// have to be shared with every verifier.
fn allowed_algorithm(alg: &str) -> Result<Algorithm, IdentityError> {
    match alg {
        "RS256" => Ok(Algorithm::RS256),
        "RS384" => Ok(Algorithm::RS384),
        "RS512" => Ok(Algorithm::RS512),
        "PS256" => Ok(Algorithm::PS256),
        "ES256" => Ok(Algorithm::ES256),
        "ES384" => Ok(Algorithm::ES384),
        "EdDSA" => Ok(Algorithm::EdDSA),
        _ if alg.eq_ignore_ascii_case("none") => Err(IdentityError::AlgNone),
        "HS256" | "HS384" | "HS512" => Err(IdentityError::AlgHmac(alg.to_string())),
        // Echo the name only when it looks like one (it is token content).
        _ if alg.len() <= 16 && alg.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Err(IdentityError::UnsupportedAlg(alg.to_string()))
        }
        _ => Err(IdentityError::UnsupportedAlg("(unprintable)".into())),
    }
}

pub(crate) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "an unsupported algorithm",
    }
}

impl UnverifiedToken<'_> {
    /// Checks the signature with `key`; claims are checked separately, with
    /// messages of our own.
    pub fn verify_signature(&self, key: &VerifyingKey, issuer: &str) -> Result<(), IdentityError> {
        if !key.supports(self.alg) {
            return Err(IdentityError::KeyAlgMismatch {
                kid: key.kid.clone().unwrap_or_else(|| "(none)".into()),
                issuer: issuer.to_string(),
                alg: alg_name(self.alg),
            });
        }
        let mut validation = Validation::new(self.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        match jsonwebtoken::decode::<IgnoredAny>(self.raw, &key.decoding_key, &validation) {
            Ok(_) => Ok(()),
            Err(error) => match error.kind() {
                ErrorKind::Base64(_) => {
                    Err(IdentityError::Malformed("the signature is not base64url"))
                }
                _ => Err(IdentityError::SignatureInvalid),
            },
        }
    }
}

/// Time and audience rules for a verified token, at `now` (Unix seconds).
pub(crate) struct ClaimRules<'a> {
    pub client_id: &'a str,
    pub nbf_leeway_secs: u64,
    pub now: u64,
}

impl ClaimRules<'_> {
    /// `exp` strictly (a token is dead at its expiry second), `nbf` and
    /// `iat` with the leeway for clock skew, `aud` containing the client id.
    pub fn check(&self, claims: &Map<String, Value>) -> Result<(), IdentityError> {
        let exp =
            time_claim(claims, "exp")?.ok_or_else(|| IdentityError::MissingClaim("exp".into()))?;
        if self.now >= exp {
            return Err(IdentityError::Expired);
        }
        let latest_start = self.now.saturating_add(self.nbf_leeway_secs);
        if time_claim(claims, "nbf")?.is_some_and(|nbf| nbf > latest_start) {
            return Err(IdentityError::NotYetValid);
        }
        if time_claim(claims, "iat")?.is_some_and(|iat| iat > latest_start) {
            return Err(IdentityError::IssuedInFuture);
        }
        let audience_ok = match claims.get("aud") {
            None => return Err(IdentityError::MissingClaim("aud".into())),
            Some(Value::String(aud)) => aud == self.client_id,
            Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(self.client_id)),
            Some(_) => {
                return Err(IdentityError::WrongClaimType {
                    claim: "aud".into(),
                    expected: "a string or an array of strings",
                });
            }
        };
        if !audience_ok {
            return Err(IdentityError::AudienceMismatch {
                client_id: self.client_id.to_string(),
            });
        }
        Ok(())
    }
}

/// A NumericDate claim as whole seconds; fractions are truncated.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        {
            Some(seconds) => Ok(Some(seconds)),
            None => Err(wrong_time_type(name)),
        },
        Some(_) => Err(wrong_time_type(name)),
    }
}

fn wrong_time_type(name: &str) -> IdentityError {
    IdentityError::WrongClaimType {
        claim: name.to_string(),
        expected: "a non-negative number of seconds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn pre_parse_checks() {
        let header = encode(&json!({"alg": "ES256", "kid": "k"}));
        let payload = encode(&json!({"iss": "https://i"}));
        let ok = format!("{header}.{payload}.sig");
        let parsed = parse(&ok, 16384).unwrap();
        assert_eq!(parsed.alg, Algorithm::ES256);
        assert_eq!(parsed.kid.as_deref(), Some("k"));
        assert!(matches!(
            parse(&ok, 10),
            Err(IdentityError::TooLarge { limit: 10 })
        ));
        assert!(matches!(
            parse("a.b", 100),
            Err(IdentityError::NotThreeParts)
        ));
        assert!(matches!(
            parse("a.b.c.d", 100),
            Err(IdentityError::NotThreeParts)
        ));
        let none = format!("{}.{payload}.", encode(&json!({"alg": "none"})));
        assert!(matches!(parse(&none, 16384), Err(IdentityError::AlgNone)));
        let critical = format!(
            "{}.{payload}.x",
            encode(&json!({"alg": "ES256", "crit": ["exp2"], "exp2": 1}))
        );
        assert!(matches!(
            parse(&critical, 16384),
            Err(IdentityError::UnsupportedCritical(names)) if names == "exp2"
        ));
        let empty_crit = format!(
            "{}.{payload}.x",
            encode(&json!({"alg": "ES256", "crit": []}))
        );
        assert!(matches!(
            parse(&empty_crit, 16384),
            Err(IdentityError::Malformed(_))
        ));
        let weird = format!("{}.{payload}.x", encode(&json!({"alg": "RS1<script>"})));
        let err = parse(&weird, 16384).err().unwrap().to_string();
        assert!(!err.contains("script"), "{err}");
    }

    #[test]
    fn time_and_audience() {
        let rules = ClaimRules {
            client_id: "sigstore",
            nbf_leeway_secs: 60,
            now: 1000,
        };
        let check = |claims: Value| rules.check(claims.as_object().unwrap());
        assert!(check(json!({"exp": 1001, "aud": "sigstore"})).is_ok());
        assert!(matches!(
            check(json!({"exp": 1000, "aud": "sigstore"})),
            Err(IdentityError::Expired)
        ));
        assert!(check(json!({"exp": 2000, "nbf": 1060, "aud": ["x", "sigstore"]})).is_ok());
        assert!(matches!(
            check(json!({"exp": 2000, "nbf": 1061, "aud": "sigstore"})),
            Err(IdentityError::NotYetValid)
        ));
        assert!(matches!(
            check(json!({"exp": 2000, "aud": ["other"]})),
            Err(IdentityError::AudienceMismatch { .. })
        ));
        assert!(matches!(
            check(json!({"exp": "soon", "aud": "sigstore"})),
            Err(IdentityError::WrongClaimType { .. })
        ));
        assert!(matches!(
            check(json!({"aud": "sigstore"})),
            Err(IdentityError::MissingClaim(_))
        ));
    }
}
