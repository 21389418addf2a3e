//! The identities a certificate names in its subject alternative names,
//! read as Rekor and sigstore read them.

use std::net::{Ipv4Addr, Ipv6Addr};

use x509_parser::asn1_rs::{Any, Class, FromDer as _, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::error::PubKeyError;

/// Fulcio's username identity SAN: an otherName holding a UTF8String.
const OID_FULCIO_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";

/// Identities named by a certificate's subject alternative names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Identities {
    pub(super) emails: Vec<String>,
    pub(super) uris: Vec<String>,
    pub(super) subjects: Vec<String>,
}

/// The identities Rekor reads from a certificate's SANs (sigstore's
/// `GetSubjectAlternateNames` and Rekor's `EmailAddresses`).
pub(super) fn certificate_identities(
    cert: &X509Certificate<'_>,
) -> Result<Identities, PubKeyError> {
    let san = cert.subject_alternative_name().map_err(|e| {
        PubKeyError::MalformedCertificate(format!("subject alternative names: {e}"))
    })?;
    let names: &[GeneralName<'_>] = match &san {
        Some(ext) => &ext.value.general_names,
        None => &[],
    };
    let mut dns = Vec::new();
    let mut emails = Vec::new();
    let mut ips = Vec::new();
    let mut uris = Vec::new();
    let mut other_names = Vec::new();
    let mut other_names_ok = true;
    for name in names {
        match name {
            GeneralName::DNSName(s) => dns.push(s.to_string()),
            GeneralName::RFC822Name(s) => emails.push(s.to_string()),
            GeneralName::IPAddress(bytes) => ips.extend(ip_string(bytes)),
            GeneralName::URI(s) => uris.push(s.to_string()),
            // Like sigstore, one otherName of another type or form spoils them all.
            GeneralName::OtherName(oid, value) => match fulcio_username(oid, value) {
                Some(username) => other_names.push(username),
                None => other_names_ok = false,
            },
            _ => {}
        }
    }
    let valid_emails = emails
        .iter()
        .filter(|e| looks_like_email(e))
        .map(|e| e.to_lowercase())
        .collect();
    let mut subjects = dns;
    subjects.extend(emails);
    subjects.extend(ips);
    subjects.extend(uris.iter().cloned());
    if other_names_ok && other_names.len() == 1 {
        subjects.extend(other_names);
    }
    Ok(Identities {
        emails: valid_emails,
        uris,
        subjects,
    })
}

/// The UTF8String of a Fulcio username otherName (`[0] EXPLICIT UTF8String`).
fn fulcio_username(oid: &x509_parser::asn1_rs::Oid<'_>, value: &[u8]) -> Option<String> {
    if oid.to_id_string() != OID_FULCIO_USERNAME {
        return None;
    }
    let (_, explicit) = Any::from_der(value).ok()?;
    if explicit.class() != Class::ContextSpecific || explicit.tag() != Tag(0) {
        return None;
    }
    let (_, inner) = Any::from_der(explicit.data).ok()?;
    inner.as_str().ok().map(str::to_string)
}

/// An IP address SAN as Go prints it (IPv4-mapped IPv6 addresses as IPv4).
fn ip_string(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(Ipv4Addr::from(v4).to_string());
    }
    let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    })
}

/// A plain `local@domain` check standing in for Go's govalidator.IsEmail.
fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}
