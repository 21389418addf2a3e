//! Verified claims -> [`Principal`], one file per issuer type, following
//! Fulcio's mapping for each.

mod ci_provider;
mod email;
mod github_workflow;
mod kubernetes;
mod spiffe;
mod uri;
mod username;

use serde_json::{Map, Value};

use super::config::{ExtensionField, IssuerConfig, IssuerSettings, IssuerType};
use super::error::IdentityError;
use crate::principal::{FulcioExtension, Principal, SubjectAltName};

/// What one issuer type derives from a token, before the common parts
/// (challenge, issuer and subject extensions) are added.
pub(crate) struct TypeMapping {
    pub san: SubjectAltName,
    /// Extension values from claims; empty values are left out, as upstream.
    pub fields: Vec<(ExtensionField, String)>,
    /// The issuer certified in .1.1/.1.8: the token's `iss` unless the issuer
    /// is configured with an `IssuerClaim`.
    pub certified_issuer: String,
}

/// A verified token's claims and the settings of the issuer that signed it.
pub(crate) struct VerifiedClaims<'a> {
    pub claims: &'a Map<String, Value>,
    pub issuer: &'a str,
    pub settings: &'a IssuerSettings,
}

impl VerifiedClaims<'_> {
    /// A claim that must be a non-empty string (upstream treats "" as absent).
    pub fn required_str(&self, name: &str) -> Result<&str, IdentityError> {
        match self.claims.get(name) {
            None | Some(Value::Null) => Err(IdentityError::MissingClaim(name.to_string())),
            Some(Value::String(value)) if value.is_empty() => {
                Err(IdentityError::MissingClaim(name.to_string()))
            }
            Some(Value::String(value)) => Ok(value),
            Some(_) => Err(IdentityError::WrongClaimType {
                claim: name.to_string(),
                expected: "a string",
            }),
        }
    }

    fn mapping(&self, san: SubjectAltName) -> TypeMapping {
        TypeMapping {
            san,
            fields: Vec::new(),
            certified_issuer: self.issuer.to_string(),
        }
    }
}

/// The principal a verified token proves, for its issuer's type.
pub(crate) fn map_principal(
    verified: &VerifiedClaims<'_>,
    config: &IssuerConfig,
) -> Result<Principal, IdentityError> {
    let mapping = match verified.settings.issuer_type {
        IssuerType::Email => email::map(verified)?,
        IssuerType::Kubernetes => kubernetes::map(verified)?,
        IssuerType::Spiffe => spiffe::map(verified)?,
        IssuerType::GithubWorkflow => github_workflow::map(verified)?,
        IssuerType::CiProvider => ci_provider::map(verified, config)?,
        IssuerType::Uri => uri::map(verified)?,
        IssuerType::Username => username::map(verified)?,
    };
    refuse_non_ascii_san(verified.claims, &mapping.san)?;
    let challenge = verified
        .required_str(verified.settings.challenge_claim())?
        .to_string();
    // .1.24 holds the raw `sub` for every type; a token without one gets none.
    let subject = verified
        .claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(Principal {
        challenge,
        san: mapping.san,
        extensions: render_extensions(&mapping.certified_issuer, subject, mapping.fields),
    })
}

/// rfc822Name and URI SANs are IA5String: ASCII only. A genuine token whose
/// identity is not ASCII is refused here, naming the claim it came from,
/// rather than failing later while the certificate is encoded.
fn refuse_non_ascii_san(
    claims: &Map<String, Value>,
    san: &SubjectAltName,
) -> Result<(), IdentityError> {
    let (value, field) = match san {
        SubjectAltName::Email(value) => (value, "rfc822Name SAN"),
        SubjectAltName::Uri(value) => (value, "URI SAN"),
        // A UTF8String inside an otherName: any character fits.
        SubjectAltName::Username(_) => return Ok(()),
    };
    if value.is_ascii() {
        return Ok(());
    }
    let claim = non_ascii_claim_in(claims, "", value).unwrap_or_else(|| "(derived)".into());
    Err(IdentityError::NonAsciiIdentity { claim, field })
}

/// The dotted path of a string claim with non-ASCII characters that the SAN
/// `value` was built from.
fn non_ascii_claim_in(claims: &Map<String, Value>, prefix: &str, value: &str) -> Option<String> {
    claims.iter().find_map(|(name, claim)| {
        let path = format!("{prefix}{name}");
        match claim {
            Value::String(text) if !text.is_ascii() && value.contains(text.as_str()) => Some(path),
            Value::Object(nested) => non_ascii_claim_in(nested, &format!("{path}."), value),
            _ => None,
        }
    })
}

/// Upstream's order is ascending arc: .1.1 issuer (raw), .1.2-.1.6 (raw),
/// .1.8 issuer (DER), .1.9-.1.23 (DER), .1.24 subject (DER).
fn render_extensions(
    issuer: &str,
    subject: &str,
    fields: Vec<(ExtensionField, String)>,
) -> Vec<FulcioExtension> {
    const ISSUER_V1: u64 = 1;
    const ISSUER_V2: u64 = 8;
    const TOKEN_SUBJECT: u64 = 24;
    let mut values: Vec<(u64, String)> = fields
        .into_iter()
        .map(|(field, value)| (field.arc(), value))
        .collect();
    values.push((ISSUER_V1, issuer.to_string()));
    values.push((ISSUER_V2, issuer.to_string()));
    values.push((TOKEN_SUBJECT, subject.to_string()));
    values.retain(|(_, value)| !value.is_empty());
    values.sort_by_key(|(arc, _)| *arc);
    values
        .into_iter()
        .map(|(arc, value)| {
            // Arcs 1-6 predate the DER fix and stay raw bytes.
            if arc <= 6 {
                FulcioExtension::raw(arc, &value)
            } else {
                FulcioExtension::utf8_string(arc, &value)
            }
        })
        .collect()
}

/// Loose address syntax: one `@`, a non-empty local part, a dotted domain.
pub(crate) fn looks_like_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}
