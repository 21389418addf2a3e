//! Reading and editing a DER certificate's TBSCertificate, every other byte kept.

use x509_cert::der::asn1::{Any, ObjectIdentifier};
use x509_cert::der::{Decode, Encode, Tag, TagNumber, Tagged};
use x509_cert::ext::Extension;

/// A DER TLV with a definite length (contents under 64 KiB).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// The TBSCertificate bytes of a DER certificate.
pub fn tbs_of(cert: &[u8]) -> Vec<u8> {
    Vec::<Any>::from_der(cert).unwrap()[0].to_der().unwrap()
}

/// A TBSCertificate without the extension `oid`, every other byte kept.
pub fn tbs_without_extension(tbs: &[u8], oid: &str) -> Vec<u8> {
    let oid = ObjectIdentifier::new_unwrap(oid);
    let extensions_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(3),
    };
    let mut fields = Vec::<Any>::from_der(tbs).unwrap();
    for field in fields.iter_mut().filter(|f| f.tag() == extensions_tag) {
        let kept: Vec<Any> = Vec::<Any>::from_der(field.value())
            .unwrap()
            .into_iter()
            .filter(|raw| raw.decode_as::<Extension>().unwrap().extn_id != oid)
            .collect();
        *field = Any::new(extensions_tag, kept.to_der().unwrap()).unwrap();
    }
    fields.to_der().unwrap()
}
