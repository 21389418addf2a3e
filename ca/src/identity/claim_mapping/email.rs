//! Email issuers: the SAN is the verified `email` claim.

use serde_json::Value;

use super::{TypeMapping, VerifiedClaims, looks_like_email};
use crate::identity::config::claim_path;
use crate::identity::error::IdentityError;
use crate::principal::SubjectAltName;

pub(super) fn map(verified: &VerifiedClaims<'_>) -> Result<TypeMapping, IdentityError> {
    let email = verified.required_str("email")?;
    let settings = verified.settings;
    if !settings.skip_email_verification
        && verified.claims.get("email_verified") != Some(&Value::Bool(true))
    {
        return Err(IdentityError::EmailNotVerified);
    }
    if !looks_like_email(email) {
        return Err(IdentityError::InvalidEmail);
    }
    let mut mapping = verified.mapping(SubjectAltName::Email(email.to_string()));
    // A federating issuer (Dex) names the upstream issuer in a claim.
    if let Some(path) = claim_path(&settings.issuer_claim) {
        let value = path
            .split_first()
            .and_then(|(first, rest)| {
                rest.iter()
                    .try_fold(verified.claims.get(*first)?, |value, name| value.get(name))
            })
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| IdentityError::MissingClaim(settings.issuer_claim.clone()))?;
        mapping.certified_issuer = value.to_string();
    }
    Ok(mapping)
}
