//! SPIFFE issuers: the SAN is the SPIFFE ID in `sub`, which must belong to
//! the configured trust domain.

use super::{TypeMapping, VerifiedClaims};
use crate::identity::config::is_valid_trust_domain;
use crate::identity::error::IdentityError;
use crate::principal::SubjectAltName;

pub(super) fn map(verified: &VerifiedClaims<'_>) -> Result<TypeMapping, IdentityError> {
    let id = verified.required_str("sub")?;
    let trust_domain = spiffe_trust_domain(id).ok_or(IdentityError::InvalidSpiffeId)?;
    if trust_domain != verified.settings.spiffe_trust_domain {
        return Err(IdentityError::SpiffeTrustDomainMismatch {
            expected: verified.settings.spiffe_trust_domain.clone(),
        });
    }
    Ok(verified.mapping(SubjectAltName::Uri(id.to_string())))
}

/// The trust domain of a well-formed SPIFFE ID: `spiffe://td/path`, where
/// path segments are non-empty, not `.` or `..`, and use `[A-Za-z0-9._-]`.
fn spiffe_trust_domain(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("spiffe://")?;
    let (trust_domain, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !is_valid_trust_domain(trust_domain) {
        return None;
    }
    let path_ok = path.is_empty()
        || path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        });
    path_ok.then_some(trust_domain)
}

#[cfg(test)]
mod tests {
    use super::spiffe_trust_domain;

    #[test]
    fn spiffe_id_syntax() {
        assert_eq!(
            spiffe_trust_domain("spiffe://example.org/ns/a"),
            Some("example.org")
        );
        assert_eq!(
            spiffe_trust_domain("spiffe://example.org"),
            Some("example.org")
        );
        assert_eq!(spiffe_trust_domain("spiffe://Example.org/a"), None);
        assert_eq!(spiffe_trust_domain("spiffe://example.org/a//b"), None);
        assert_eq!(spiffe_trust_domain("spiffe://example.org/../b"), None);
        assert_eq!(spiffe_trust_domain("https://example.org/a"), None);
    }
}
