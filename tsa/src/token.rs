//! The timestamp itself: a TSTInfo in a CMS SignedData (RFC 3161 2.4.2,
//! RFC 5652), signed over signed attributes that carry the content type,
//! the TSTInfo's digest and the TSA certificate's hash (signing-certificate-v2,
//! RFC 5816), wrapped in a granted TimeStampResp.

use std::time::SystemTime;

use atesto_ca::issuance::curve::CaCurve;
use atesto_ca::issuance::signer::CaSigner;
use atesto_common::pubkey::HashAlgorithm;
use cmpv2::status::{PkiStatus, PkiStatusInfo};
use cms::cert::x509::Certificate;
use cms::cert::x509::attr::Attribute;
use cms::cert::x509::spki::AlgorithmIdentifierOwned;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, GeneralizedTime, ObjectIdentifier, OctetString, SetOfVec};
use der::{Encode, Sequence};
use rcgen::SigningKey;
use x509_tsp::{Accuracy, TimeStampResp, TspVersion, TstInfo};

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

/// What a timestamp is made with, besides the request.
pub struct Stamp<'a> {
    pub signer: &'a CaSigner,
    pub curve: CaCurve,
    pub leaf: &'a Certificate,
    pub leaf_der: &'a [u8],
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

    let (hash, digest_oid, signature_oid) = algorithms(stamp.curve);
    let signing_certificate = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(HashAlgorithm::Sha256.digest(stamp.leaf_der))
                .map_err(encoding("the certificate hash"))?,
        }],
    };
    let signed_attributes = SetOfVec::try_from(vec![
        attribute(
            ID_CONTENT_TYPE,
            Any::encode_from(&ID_CT_TST_INFO).map_err(encoding("content-type"))?,
        )?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(
                &OctetString::new(hash.digest(&tst_info)).map_err(encoding("message-digest"))?,
            )
            .map_err(encoding("message-digest"))?,
        )?,
        attribute(
            ID_SIGNING_CERTIFICATE_V2,
            Any::encode_from(&signing_certificate).map_err(encoding("signing-certificate-v2"))?,
        )?,
    ])
    .map_err(encoding("the signed attributes"))?;
    let signed_attributes_der = signed_attributes
        .to_der()
        .map_err(encoding("the signed attributes"))?;
    let signature = stamp
        .signer
        .sign(&signed_attributes_der)
        .map_err(|e| TsaError::Internal(format!("signing the timestamp: {e}")))?;

    let tbs = &stamp.leaf.tbs_certificate;
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        }),
        digest_alg: AlgorithmIdentifierOwned {
            oid: digest_oid,
            parameters: None,
        },
        signed_attrs: Some(signed_attributes),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: signature_oid,
            parameters: None,
        },
        signature: OctetString::new(signature.clone()).map_err(encoding("the signature"))?,
        unsigned_attrs: None,
    };
    let certificates = if request.cert_req {
        Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(stamp.leaf.clone())])
                .map_err(encoding("the certificates"))?,
        ))
    } else {
        None
    };
    let signed_data = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![AlgorithmIdentifierOwned {
            oid: digest_oid,
            parameters: None,
        }])
        .map_err(encoding("the digest algorithms"))?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_CT_TST_INFO,
            econtent: Some(
                Any::new(der::Tag::OctetString, tst_info).map_err(encoding("the content"))?,
            ),
        },
        certificates,
        crls: None,
        signer_infos: SignerInfos(
            SetOfVec::try_from(vec![signer_info]).map_err(encoding("the signer infos"))?,
        ),
    };
    let response = TimeStampResp {
        status: PkiStatusInfo {
            status: PkiStatus::Accepted,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: Some(ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data).map_err(encoding("the SignedData"))?,
        }),
    }
    .to_der()
    .map_err(encoding("the TimeStampResp"))?;
    Ok(Signed {
        response,
        signed_attributes: signed_attributes_der,
        signature,
    })
}
