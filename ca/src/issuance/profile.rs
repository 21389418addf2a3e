//! The leaf certificate profile every sigstore client accepts: empty subject,
//! ten minutes of validity, digitalSignature + codeSigning, SKI, AKI, the
//! Principal's critical SAN and Fulcio extensions, then last the CT poison
//! (precertificate) or the SCT list (final certificate).
//!
//! rcgen writes its built-in extensions first (AKI, SAN, KU, EKU), then the
//! custom ones in order: SKI, Fulcio extensions, poison or SCT list. The
//! precertificate and the final certificate are built from one set of
//! parameters, so their TBS differ only by that last extension.

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, ExtendedKeyUsagePurpose,
    KeyUsagePurpose, OtherNameValue, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};

use super::IssuanceError;
use crate::principal::{Principal, SubjectAltName, der_tlv};
use atesto_common::ct::Sct;

pub const VALIDITY_SECONDS: i64 = 600;

const POISON_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];
const SCT_LIST_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];
const SUBJECT_KEY_IDENTIFIER_ARCS: &[u64] = &[2, 5, 29, 14];
const FULCIO_USERNAME_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 7];

/// Everything of a leaf but the last extension.
pub fn leaf_params(
    principal: &Principal,
    subject_spki_der: &[u8],
) -> Result<CertificateParams, IssuanceError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    let not_before = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .map_err(|e| IssuanceError::Encoding(e.to_string()))?;
    params.not_before = not_before;
    params.not_after = not_before + time::Duration::seconds(VALIDITY_SECONDS);
    params.serial_number = Some(random_serial());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    params.use_authority_key_identifier_extension = true;
    params.subject_alt_names = vec![san(&principal.san)?];

    // rcgen writes an SKI only along with basicConstraints, which leaves do
    // not carry: written here, the leftmost 160 bits of SHA-256(SPKI) as rcgen
    // derives CA key identifiers.
    let key_id = &Sha256::digest(subject_spki_der)[..20];
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            SUBJECT_KEY_IDENTIFIER_ARCS,
            der_tlv(0x04, key_id),
        ));
    for extension in &principal.extensions {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &extension.oid(),
                extension.value.clone(),
            ));
    }
    Ok(params)
}

/// 20 random bytes, positive and with no leading zero byte, so the DER
/// INTEGER is always 20 bytes (RFC 5280's maximum).
pub fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 20] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn san(san: &SubjectAltName) -> Result<SanType, IssuanceError> {
    let ia5 = |value: &str| {
        value
            .try_into()
            .map_err(|_| IssuanceError::InvalidIdentity(format!("{value:?} is not ASCII")))
    };
    Ok(match san {
        SubjectAltName::Email(email) => SanType::Rfc822Name(ia5(email)?),
        SubjectAltName::Uri(uri) => SanType::URI(ia5(uri)?),
        SubjectAltName::Username(name) => SanType::OtherName((
            FULCIO_USERNAME_ARCS.to_vec(),
            OtherNameValue::Utf8String(name.clone()),
        )),
    })
}

/// The critical CT poison (RFC 6962 §3.1): ASN.1 NULL.
pub fn poison_extension() -> CustomExtension {
    let mut poison = CustomExtension::from_oid_content(POISON_ARCS, vec![0x05, 0x00]);
    poison.set_criticality(true);
    poison
}

/// The SCT list extension: an OCTET STRING holding the TLS
/// SignedCertificateTimestampList with this one SCT.
pub fn sct_list_extension(sct: &Sct) -> CustomExtension {
    let sct_bytes = sct.tls_bytes();
    // Both u16 lengths: an SCT is ~120 bytes.
    let mut list = Vec::with_capacity(sct_bytes.len() + 4);
    list.extend_from_slice(&((sct_bytes.len() + 2) as u16).to_be_bytes());
    list.extend_from_slice(&(sct_bytes.len() as u16).to_be_bytes());
    list.extend_from_slice(sct_bytes);
    CustomExtension::from_oid_content(SCT_LIST_ARCS, der_tlv(0x04, &list))
}
