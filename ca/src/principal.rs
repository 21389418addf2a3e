//! What a verified identity token proves, in the form the certificate needs.
//! The identity module produces it; the issuance module writes it as is.

/// The workload a token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The string the client signs to prove possession of its key: the
    /// `email` claim for email issuers, `sub` for every other type.
    pub challenge: String,
    /// The certificate's only SAN (critical, the subject is empty).
    pub san: SubjectAltName,
    /// Fulcio extensions (1.3.6.1.4.1.57264.1.*), in the order written.
    pub extensions: Vec<FulcioExtension>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectAltName {
    /// rfc822Name.
    Email(String),
    /// uniformResourceIdentifier.
    Uri(String),
    /// otherName 1.3.6.1.4.1.57264.1.7 holding a UTF8String (the username type).
    Username(String),
}

/// One non-critical Fulcio extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulcioExtension {
    /// The last arc under 1.3.6.1.4.1.57264.1 (1 = issuer, 8 = issuer v2, ...).
    pub arc: u64,
    /// The extnValue contents exactly as written: the raw UTF-8 bytes for the
    /// deprecated arcs 1-6, a DER UTF8String for 8 and later (see `der_utf8`).
    pub value: Vec<u8>,
}

impl FulcioExtension {
    /// Arcs 1-6 (issuer v1 and the old GitHub claims) hold raw bytes.
    pub fn raw(arc: u64, value: &str) -> Self {
        Self {
            arc,
            value: value.as_bytes().to_vec(),
        }
    }

    /// Arcs 8 and later hold a DER UTF8String.
    pub fn utf8_string(arc: u64, value: &str) -> Self {
        Self {
            arc,
            value: der_utf8(value),
        }
    }

    /// The extension's OID as dotted arcs.
    pub fn oid(&self) -> [u64; 9] {
        [1, 3, 6, 1, 4, 1, 57264, 1, self.arc]
    }
}

/// DER encoding of a UTF8String (tag 12, definite length).
pub fn der_utf8(value: &str) -> Vec<u8> {
    der_tlv(12, value.as_bytes())
}

/// One DER element: `tag`, the definite length of `value`, `value`.
pub(crate) fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_utf8_short_and_long_forms() {
        assert_eq!(der_utf8("ab"), vec![12, 2, b'a', b'b']);
        let long = "x".repeat(300);
        let encoded = der_utf8(&long);
        assert_eq!(&encoded[..4], &[12, 0x82, 0x01, 0x2c]);
        assert_eq!(encoded.len(), 304);
    }

    #[test]
    fn raw_and_der_values() {
        let issuer = FulcioExtension::raw(1, "https://issuer");
        assert_eq!(issuer.value, b"https://issuer");
        assert_eq!(issuer.oid(), [1, 3, 6, 1, 4, 1, 57264, 1, 1]);
        let v2 = FulcioExtension::utf8_string(8, "https://issuer");
        assert_eq!(v2.value[0], 12);
    }
}
