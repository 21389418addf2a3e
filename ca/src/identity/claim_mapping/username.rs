//! Username issuers: the SAN is the otherName `sub!SubjectDomain`.

use super::{TypeMapping, VerifiedClaims, looks_like_email};
use crate::identity::error::IdentityError;
use crate::principal::SubjectAltName;

pub(super) fn map(verified: &VerifiedClaims<'_>) -> Result<TypeMapping, IdentityError> {
    let username = verified.required_str("sub")?;
    // `!` separates the username from the domain in the SAN.
    if username.contains('!') {
        return Err(IdentityError::InvalidUsername("it contains '!'"));
    }
    if looks_like_email(username) {
        return Err(IdentityError::InvalidUsername("it is an email address"));
    }
    Ok(verified.mapping(SubjectAltName::Username(format!(
        "{username}!{}",
        verified.settings.subject_domain
    ))))
}
