//! The generic `ci-provider` type: the SAN and extensions come from the
//! provider's `CIIssuerMetadata` templates, filled with the token's claims
//! over the provider's default values.

use std::collections::HashMap;

use serde_json::Value;

use super::{TypeMapping, VerifiedClaims};
use crate::identity::config::{IssuerConfig, parse_url_with_host};
use crate::identity::error::IdentityError;
use crate::principal::SubjectAltName;

pub(super) fn map(
    verified: &VerifiedClaims<'_>,
    config: &IssuerConfig,
) -> Result<TypeMapping, IdentityError> {
    // Validation guarantees the provider exists; a miss here is still an
    // error rather than a panic.
    let metadata = config
        .ci_providers
        .get(&verified.settings.ci_provider)
        .ok_or_else(|| IdentityError::UnknownIssuer(verified.issuer.to_string()))?;
    let mut data = metadata.defaults.clone();
    data.extend(claims_as_strings(verified));

    let san = metadata.subject_alternative_name.render(&data)?;
    if parse_url_with_host(&san).is_none() {
        return Err(IdentityError::InvalidDerivedValue {
            what: "subject alternative name",
            reason: "the SAN template did not give a URL".into(),
        });
    }
    let mut mapping = verified.mapping(SubjectAltName::Uri(san));
    for (field, template) in &metadata.extensions {
        mapping.fields.push((*field, template.render(&data)?));
    }
    Ok(mapping)
}

/// Claims as template data, formatted as Go's `%v` would (whole numbers
/// without a fraction); nested values as JSON text.
fn claims_as_strings(verified: &VerifiedClaims<'_>) -> HashMap<String, String> {
    verified
        .claims
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => match number.as_f64() {
                    Some(float)
                        if number.is_f64() && float.fract() == 0.0 && float.abs() < 1e15 =>
                    {
                        format!("{}", float as i64)
                    }
                    _ => number.to_string(),
                },
                Value::Bool(flag) => flag.to_string(),
                Value::Null => "<nil>".to_string(),
                nested => nested.to_string(),
            };
            (name.clone(), text)
        })
        .collect()
}
