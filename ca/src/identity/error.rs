//! Why a token or an issuer configuration was refused.
//!
//! `IdentityError` messages go to clients verbatim (upstream answers one opaque
//! message for every failure, fulcio#1769), so each names the failed check.
//! None of them carries the token or a claim value other than `iss`.

use std::path::PathBuf;

/// A token was refused, or its issuer could not be asked about it.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("identity token is too large: over {limit} bytes")]
    TooLarge { limit: usize },
    #[error("identity token is malformed: a JWT has exactly three dot-separated parts")]
    NotThreeParts,
    #[error("identity token is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "identity token header marks {0} as critical: no JWS extension is understood here (RFC 7515 4.1.11)"
    )]
    UnsupportedCritical(String),
    #[error("identity token claim {claim} is longer than {limit} bytes")]
    ClaimTooLong { claim: &'static str, limit: usize },
    #[error(
        "identity token claim {claim} holds non-ASCII characters, which a certificate's {field} cannot carry"
    )]
    NonAsciiIdentity { claim: String, field: &'static str },
    #[error("identity token algorithm \"none\" is refused: tokens must be signed")]
    AlgNone,
    #[error(
        "identity token algorithm {0} is refused: HMAC tokens cannot be verified by a third party"
    )]
    AlgHmac(String),
    #[error(
        "identity token algorithm {0} is not supported (allowed: RS256, RS384, RS512, PS256, ES256, ES384, EdDSA)"
    )]
    UnsupportedAlg(String),
    #[error("unknown issuer {0}: no configured issuer or meta-issuer matches it")]
    UnknownIssuer(String),
    #[error("no key {kid} in the JWKS of issuer {issuer}")]
    NoKey { kid: String, issuer: String },
    #[error("identity token has no kid and the JWKS of issuer {issuer} holds {count} keys")]
    NoKidAmbiguous { issuer: String, count: usize },
    #[error("key {kid} of issuer {issuer} cannot verify {alg} signatures")]
    KeyAlgMismatch {
        kid: String,
        issuer: String,
        alg: &'static str,
    },
    #[error("identity token signature is invalid")]
    SignatureInvalid,
    #[error("identity token is expired")]
    Expired,
    #[error("identity token is not yet valid (nbf is in the future)")]
    NotYetValid,
    #[error("identity token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("identity token audience does not contain {client_id}")]
    AudienceMismatch { client_id: String },
    #[error("identity token is missing claim {0}")]
    MissingClaim(String),
    #[error("identity token claim {claim} must be {expected}")]
    WrongClaimType {
        claim: String,
        expected: &'static str,
    },
    #[error("email not verified: the email_verified claim is not true")]
    EmailNotVerified,
    #[error("identity token claim email is not a valid email address")]
    InvalidEmail,
    #[error("identity token sub is not a valid SPIFFE ID")]
    InvalidSpiffeId,
    #[error(
        "SPIFFE trust domain mismatch: the token's SPIFFE ID is not in trust domain {expected}"
    )]
    SpiffeTrustDomainMismatch { expected: String },
    #[error("identity token sub must be a URI with the scheme and host of {subject_domain}")]
    SubjectDomainMismatch { subject_domain: String },
    #[error("identity token sub is not a valid username: {0}")]
    InvalidUsername(&'static str),
    #[error("identity token claims give an invalid {what}: {reason}")]
    InvalidDerivedValue { what: &'static str, reason: String },
    /// The issuer did not answer, or answered something unusable: not the
    /// client's fault, so the HTTP layer answers 503.
    #[error("issuer {issuer} could not be reached or answered unusably: {reason}")]
    IssuerUnavailable { issuer: String, reason: String },
    #[error(
        "issuer mismatch in discovery: {issuer}'s openid-configuration names issuer {discovered}"
    )]
    DiscoveryIssuerMismatch { issuer: String, discovered: String },
}

impl IdentityError {
    /// True when the token is genuine but names an identity that cannot be
    /// certified (map to 400, not 401: authenticating again will not help).
    pub fn is_uncertifiable_identity(&self) -> bool {
        matches!(self, Self::NonAsciiIdentity { .. })
    }

    /// False only when the issuer, not the token, is at fault (map to 503).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            Self::IssuerUnavailable { .. } | Self::DiscoveryIssuerMismatch { .. }
        )
    }
}

/// The issuer configuration or the verifier options cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("issuer configuration is not valid {format}: {message}")]
    Parse {
        format: &'static str,
        message: String,
    },
    #[error("issuer {issuer}: {reason}")]
    Issuer { issuer: String, reason: String },
    #[error("CI provider {provider}, {field}: {reason}")]
    Template {
        provider: String,
        field: String,
        reason: String,
    },
    #[error("cannot build the HTTP client for issuer {issuer}: {reason}")]
    HttpClient { issuer: String, reason: String },
}
