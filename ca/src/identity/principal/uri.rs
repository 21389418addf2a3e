//! URI issuers: `sub` is a URI that must have the scheme and host of the
//! configured `SubjectDomain`.

use super::{TypeMapping, VerifiedClaims, looks_like_email};
use crate::identity::config::split_url;
use crate::identity::error::IdentityError;
use crate::principal::SubjectAltName;

pub(super) fn map(verified: &VerifiedClaims<'_>) -> Result<TypeMapping, IdentityError> {
    let subject = verified.required_str("sub")?;
    let subject_domain = &verified.settings.subject_domain;
    let mismatch = || IdentityError::SubjectDomainMismatch {
        subject_domain: subject_domain.clone(),
    };
    if looks_like_email(subject) {
        return Err(mismatch());
    }
    match (split_url(subject), split_url(subject_domain)) {
        (Some(subject_parts), Some(domain_parts)) if subject_parts == domain_parts => {
            Ok(verified.mapping(SubjectAltName::Uri(subject.to_string())))
        }
        _ => Err(mismatch()),
    }
}
