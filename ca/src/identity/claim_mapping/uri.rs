//! URI issuers: `sub` is a URI that must have the scheme and host of the
//! configured `SubjectDomain`.

use super::{TypeMapping, VerifiedClaims, looks_like_email};
use crate::identity::config::parse_url_with_host;
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
    // Scheme and host as a URL parser reads them, port aside (as upstream):
    // a splitter of its own could see `example.com` in
    // `https://evil.com\@example.com/` where clients see `evil.com`.
    match (
        parse_url_with_host(subject),
        parse_url_with_host(subject_domain),
    ) {
        (Some(subject_url), Some(domain))
            if subject_url.scheme() == domain.scheme()
                && subject_url.host_str() == domain.host_str() =>
        {
            Ok(verified.mapping(SubjectAltName::Uri(subject.to_string())))
        }
        _ => Err(mismatch()),
    }
}
