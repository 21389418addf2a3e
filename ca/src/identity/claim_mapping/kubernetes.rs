//! Kubernetes service-account tokens: the SAN names the namespace and
//! service account from the `kubernetes.io` claim.

use serde_json::Value;

use super::{TypeMapping, VerifiedClaims};
use crate::identity::error::IdentityError;
use crate::principal::SubjectAltName;

pub(super) fn map(verified: &VerifiedClaims<'_>) -> Result<TypeMapping, IdentityError> {
    let kubernetes = verified
        .claims
        .get("kubernetes.io")
        .ok_or_else(|| IdentityError::MissingClaim("kubernetes.io".into()))?;
    let nested = |path: &[&str], name: &str| -> Result<String, IdentityError> {
        path.iter()
            .try_fold(kubernetes, |value, key| value.get(key))
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .ok_or_else(|| IdentityError::MissingClaim(name.into()))
    };
    let namespace = nested(&["namespace"], "kubernetes.io.namespace")?;
    let service_account = nested(
        &["serviceaccount", "name"],
        "kubernetes.io.serviceaccount.name",
    )?;
    Ok(verified.mapping(SubjectAltName::Uri(format!(
        "https://kubernetes.io/namespaces/{namespace}/serviceaccounts/{service_account}"
    ))))
}
