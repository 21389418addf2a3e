//! The timestamp itself: a TSTInfo in a CMS SignedData (RFC 3161 2.4.2,
//! RFC 5652), signed over signed attributes that carry the content type,
//! the TSTInfo's digest and the TSA certificate's hash (signing-certificate-v2,
//! RFC 5816), wrapped in a granted TimeStampResp.
//!
//! Everything in a reply that depends only on the TSA (the certificate and
//! its hash, the signer's name, the algorithm identifiers, the status) is
//! DER-encoded once, by `Template::new`; a timestamp encodes only the
//! TSTInfo, the message-digest attribute and the signature, and `der`
//! writes the reply around them in one pass.

use std::time::SystemTime;

use atesto_ca::issuance::curve::CaCurve;
use atesto_ca::issuance::signer::CaSigner;
use atesto_common::pubkey::HashAlgorithm;
use cmpv2::status::{PkiStatus, PkiStatusInfo};
use cms::cert::x509::Certificate;
use cms::cert::x509::attr::Attribute;
use cms::cert::x509::spki::AlgorithmIdentifierOwned;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::CmsVersion;
use cms::signed_data::{CertificateSet, SignerIdentifier};
use der::asn1::{
    Any, AnyRef, ContextSpecificRef, GeneralizedTime, ObjectIdentifier, OctetString,
    OctetStringRef, SetOfVec,
};
use der::{Encode, EncodeValue, Sequence, Tag, TagMode, TagNumber, Tagged};
use rcgen::SigningKey;
use x509_tsp::{Accuracy, TspVersion, TstInfo};

use crate::TsaError;
use crate::request::{SHA256, SHA384, TimestampRequest, positive_int};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// ESSCertIDv2 with the default hash (SHA-256) and no issuerSerial.
#[derive(Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

/// SigningCertificateV2 without policies.
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// RFC 5652's SignerInfo; the fields that never change are DER already.
#[derive(Sequence)]
struct SignerInfoParts<'a> {
    version: CmsVersion,
    sid: AnyRef<'a>,
    digest_algorithm: AnyRef<'a>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    signed_attributes: SetOfVec<AnyRef<'a>>,
    signature_algorithm: AnyRef<'a>,
    signature: OctetStringRef<'a>,
}

/// RFC 5652's EncapsulatedContentInfo with its content present.
#[derive(Sequence)]
struct EncapsulatedParts<'a> {
    content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: OctetStringRef<'a>,
}

/// RFC 5652's SignedData without CRLs; `certificates` is the `[0] IMPLICIT`
/// CertificateSet, DER already.
#[derive(Sequence)]
struct SignedDataParts<'a> {
    version: CmsVersion,
    digest_algorithms: AnyRef<'a>,
    encapsulated: EncapsulatedParts<'a>,
    certificates: Option<AnyRef<'a>>,
    signer_infos: SetOfVec<AnyRef<'a>>,
}

/// RFC 5652's ContentInfo holding a SignedData.
#[derive(Sequence)]
struct ContentInfoParts<'a> {
    content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: SignedDataParts<'a>,
}

/// RFC 3161's TimeStampResp, granted.
#[derive(Sequence)]
struct TimeStampRespParts<'a> {
    status: AnyRef<'a>,
    token: ContentInfoParts<'a>,
}

/// The digest and signature algorithms of a key on `curve`.
pub(crate) fn algorithms(curve: CaCurve) -> (HashAlgorithm, ObjectIdentifier, ObjectIdentifier) {
    match curve {
        CaCurve::P256 => (HashAlgorithm::Sha256, SHA256, ECDSA_WITH_SHA256),
        CaCurve::P384 => (HashAlgorithm::Sha384, SHA384, ECDSA_WITH_SHA384),
    }
}

fn encoding(what: &'static str) -> impl Fn(der::Error) -> TsaError {
    move |e| TsaError::Internal(format!("encoding {what}: {e}"))
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, TsaError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(encoding("an attribute"))?,
    })
}

/// A SEQUENCE made at signing time, held as its tag and value.
fn sequence(value: &impl EncodeValue, what: &'static str) -> Result<Any, TsaError> {
    let mut der = Vec::new();
    value
        .encode_value(&mut der)
        .and_then(|()| Any::new(Tag::Sequence, der))
        .map_err(encoding(what))
}

/// A part encoded once, held as its tag and value so that a reply takes
/// it as it is, without decoding it again.
fn precomputed(value: &(impl EncodeValue + Tagged), what: &'static str) -> Result<Any, TsaError> {
    Any::encode_from(value).map_err(encoding(what))
}

/// A signed attribute with one value, encoded once.
fn precomputed_attribute(
    oid: ObjectIdentifier,
    value: &(impl EncodeValue + Tagged),
    what: &'static str,
) -> Result<Any, TsaError> {
    precomputed(&attribute(oid, precomputed(value, what)?)?, what)
}

/// The DER of everything a reply repeats, made once per TSA.
pub struct Template {
    hash: HashAlgorithm,
    content_type_attribute: Any,
    signing_certificate_attribute: Any,
    signer_id: Any,
    digest_algorithm: Any,
    digest_algorithms: Any,
    signature_algorithm: Any,
    /// `[0] IMPLICIT CertificateSet` holding the TSA certificate.
    certificates: Any,
    /// The PKIStatusInfo of a granted reply.
    granted: Any,
}

impl Template {
    /// Encodes the parts of `leaf`'s (DER `leaf_der`) replies, for a key on `curve`.
    pub fn new(curve: CaCurve, leaf: &Certificate, leaf_der: &[u8]) -> Result<Self, TsaError> {
        let (hash, digest_oid, signature_oid) = algorithms(curve);
        let content_type_attribute =
            precomputed_attribute(ID_CONTENT_TYPE, &ID_CT_TST_INFO, "content-type")?;
        let signing_certificate = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                cert_hash: OctetString::new(HashAlgorithm::Sha256.digest(leaf_der))
                    .map_err(encoding("the certificate hash"))?,
            }],
        };
        let signing_certificate_attribute = precomputed_attribute(
            ID_SIGNING_CERTIFICATE_V2,
            &signing_certificate,
            "signing-certificate-v2",
        )?;
        let tbs = &leaf.tbs_certificate;
        let signer_id = precomputed(
            &SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer.clone(),
                serial_number: tbs.serial_number.clone(),
            }),
            "the signer identifier",
        )?;
        let algorithm = |oid| AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        };
        let digest_algorithm = precomputed(&algorithm(digest_oid), "the digest algorithm")?;
        let digest_algorithms = precomputed(
            &SetOfVec::try_from(vec![algorithm(digest_oid)])
                .map_err(encoding("the digest algorithms"))?,
            "the digest algorithms",
        )?;
        let signature_algorithm =
            precomputed(&algorithm(signature_oid), "the signature algorithm")?;
        let certificate_set = CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(leaf.clone())])
                .map_err(encoding("the certificates"))?,
        );
        let certificates = precomputed(
            &ContextSpecificRef {
                tag_number: TagNumber::N0,
                tag_mode: TagMode::Implicit,
                value: &certificate_set,
            },
            "the certificates",
        )?;
        let granted = precomputed(
            &PkiStatusInfo {
                status: PkiStatus::Accepted,
                status_string: None,
                fail_info: None,
            },
            "the status",
        )?;
        Ok(Self {
            hash,
            content_type_attribute,
            signing_certificate_attribute,
            signer_id,
            digest_algorithm,
            digest_algorithms,
            signature_algorithm,
            certificates,
            granted,
        })
    }
}

/// What a timestamp is made with, besides the request.
pub struct Stamp<'a> {
    pub signer: &'a CaSigner,
    pub template: &'a Template,
    pub policy: ObjectIdentifier,
    pub accuracy_secs: u64,
    pub time: SystemTime,
}

/// A signed timestamp: the DER TimeStampResp, and the signed attributes and
/// signature inside it (for the start-up self-check).
pub struct Signed {
    pub response: Vec<u8>,
    pub signed_attributes: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Makes and signs the timestamp of `request`.
pub fn sign(request: &TimestampRequest, stamp: &Stamp<'_>) -> Result<Signed, TsaError> {
    let template = stamp.template;
    let serial: [u8; 20] = rand::random();
    let tst_info = TstInfo {
        version: TspVersion::V1,
        policy: stamp.policy,
        message_imprint: request.imprint.clone(),
        serial_number: positive_int(&serial)?,
        gen_time: GeneralizedTime::from_system_time(stamp.time).map_err(encoding("genTime"))?,
        accuracy: Some(Accuracy {
            seconds: Some(stamp.accuracy_secs),
            millis: None,
            micros: None,
        }),
        ordering: false,
        nonce: request.nonce.clone(),
        tsa: None,
        extensions: None,
    }
    .to_der()
    .map_err(encoding("TSTInfo"))?;

    let message_digest_attribute = sequence(
        &attribute(
            ID_MESSAGE_DIGEST,
            Any::new(Tag::OctetString, template.hash.digest(&tst_info))
                .map_err(encoding("message-digest"))?,
        )?,
        "message-digest",
    )?;
    let signed_attributes = SetOfVec::try_from(vec![
        AnyRef::from(&template.content_type_attribute),
        AnyRef::from(&message_digest_attribute),
        AnyRef::from(&template.signing_certificate_attribute),
    ])
    .map_err(encoding("the signed attributes"))?;
    let signed_attributes_der = signed_attributes
        .to_der()
        .map_err(encoding("the signed attributes"))?;
    let signature = stamp
        .signer
        .sign(&signed_attributes_der)
        .map_err(|e| TsaError::Internal(format!("signing the timestamp: {e}")))?;

    let signer_info = sequence(
        &SignerInfoParts {
            version: CmsVersion::V1,
            sid: AnyRef::from(&template.signer_id),
            digest_algorithm: AnyRef::from(&template.digest_algorithm),
            signed_attributes,
            signature_algorithm: AnyRef::from(&template.signature_algorithm),
            signature: OctetStringRef::new(&signature).map_err(encoding("the signature"))?,
        },
        "the signer info",
    )?;
    let response = TimeStampRespParts {
        status: AnyRef::from(&template.granted),
        token: ContentInfoParts {
            content_type: ID_SIGNED_DATA,
            content: SignedDataParts {
                version: CmsVersion::V3,
                digest_algorithms: AnyRef::from(&template.digest_algorithms),
                encapsulated: EncapsulatedParts {
                    content_type: ID_CT_TST_INFO,
                    content: OctetStringRef::new(&tst_info).map_err(encoding("the content"))?,
                },
                certificates: if request.cert_req {
                    Some(AnyRef::from(&template.certificates))
                } else {
                    None
                },
                signer_infos: SetOfVec::try_from(vec![AnyRef::from(&signer_info)])
                    .map_err(encoding("the signer infos"))?,
            },
        },
    }
    .to_der()
    .map_err(encoding("the TimeStampResp"))?;
    Ok(Signed {
        response,
        signed_attributes: signed_attributes_der,
        signature,
    })
}

#[cfg(test)]
mod tests;
