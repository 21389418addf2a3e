use atesto_ca::issuance::InitOptions;
use atesto_common::pubkey::PublicKey;
use cmpv2::status::PkiStatus;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::Int;
use der::{Decode, Encode};
use x509_tsp::{TimeStampResp, TstInfo};

use super::*;
use crate::Tsa;
use crate::config::TsaConfig;

fn tsa(dir: &std::path::Path, p384: bool) -> Tsa {
    let output = crate::init::init_chain(
        dir,
        &InitOptions {
            p384,
            organization: "Atesto test".into(),
            common_name: "token test".into(),
            validity_years: 1,
            password_env: None,
        },
    )
    .unwrap();
    Tsa::open(&TsaConfig::new(output.signer_config)).unwrap()
}

/// The attribute `oid`'s one value, from a SET OF Attribute.
fn attribute_value(attributes: &[Attribute], oid: ObjectIdentifier) -> Vec<u8> {
    let found: Vec<_> = attributes.iter().filter(|a| a.oid == oid).collect();
    assert_eq!(found.len(), 1, "{oid}");
    let values: Vec<_> = found[0].values.iter().collect();
    assert_eq!(values.len(), 1, "{oid}");
    values[0].value().to_vec()
}

#[test]
fn replies_are_canonical_der_that_the_cms_types_read_back_and_verify() {
    for p384 in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let tsa = tsa(dir.path(), p384);
        let (hash, digest_oid, signature_oid) = algorithms(tsa.chain.curve);
        for cert_req in [true, false] {
            let request = TimestampRequest {
                cert_req,
                nonce: Some(Int::new(&[0x01, 0x02, 0x03]).unwrap()),
                ..TimestampRequest::probe().unwrap()
            };
            let reply = tsa.timestamp(&request).unwrap();
            // Read by the maintained types and written back byte for byte:
            // the reply is DER, sets sorted, lengths minimal.
            let parsed = TimeStampResp::from_der(&reply).unwrap();
            assert_eq!(parsed.to_der().unwrap(), reply);
            assert_eq!(parsed.status.status, PkiStatus::Accepted);
            let token = parsed.time_stamp_token.unwrap();
            assert_eq!(token.content_type, ID_SIGNED_DATA);
            let signed: SignedData = token.content.decode_as().unwrap();
            assert_eq!(signed.version, CmsVersion::V3);
            let digest_algorithms: Vec<_> = signed.digest_algorithms.iter().collect();
            assert_eq!(digest_algorithms.len(), 1);
            assert_eq!(digest_algorithms[0].oid, digest_oid);
            match &signed.certificates {
                Some(set) => {
                    assert!(cert_req);
                    let certificates: Vec<_> = set.0.iter().collect();
                    assert_eq!(certificates.len(), 1);
                    let CertificateChoices::Certificate(certificate) = certificates[0] else {
                        panic!("not a certificate");
                    };
                    assert_eq!(certificate.to_der().unwrap(), tsa.chain.der[0]);
                }
                None => assert!(!cert_req),
            }

            assert_eq!(signed.encap_content_info.econtent_type, ID_CT_TST_INFO);
            let content = signed.encap_content_info.econtent.unwrap();
            let tst_der = content.value();
            let tst = TstInfo::from_der(tst_der).unwrap();
            assert_eq!(tst.message_imprint, request.imprint);
            assert_eq!(tst.nonce, request.nonce);
            assert_eq!(tst.policy, tsa.policies[0]);

            let signer_infos: Vec<_> = signed.signer_infos.0.iter().collect();
            assert_eq!(signer_infos.len(), 1);
            let signer_info = signer_infos[0];
            assert_eq!(signer_info.version, CmsVersion::V1);
            let SignerIdentifier::IssuerAndSerialNumber(sid) = &signer_info.sid else {
                panic!("not an issuer and serial number");
            };
            let leaf = Certificate::from_der(&tsa.chain.der[0]).unwrap();
            assert_eq!(sid.issuer, leaf.tbs_certificate.issuer);
            assert_eq!(sid.serial_number, leaf.tbs_certificate.serial_number);
            assert_eq!(signer_info.digest_alg.oid, digest_oid);
            assert_eq!(signer_info.signature_algorithm.oid, signature_oid);
            let attributes = signer_info.signed_attrs.as_ref().unwrap();
            let list: Vec<Attribute> = attributes.iter().cloned().collect();
            assert_eq!(list.len(), 3);
            assert_eq!(
                attribute_value(&list, ID_CONTENT_TYPE),
                ID_CT_TST_INFO.as_bytes()
            );
            assert_eq!(
                attribute_value(&list, ID_MESSAGE_DIGEST),
                hash.digest(tst_der)
            );
            let signing_certificate = attribute_value(&list, ID_SIGNING_CERTIFICATE_V2);
            let certificate_hash = HashAlgorithm::Sha256.digest(&tsa.chain.der[0]);
            assert!(
                signing_certificate.ends_with(&certificate_hash),
                "signing-certificate-v2 holds the certificate's SHA-256"
            );
            // The signature is over the attributes' DER as a SET (RFC 5652 5.4).
            let key = PublicKey::from_spki_der(&tsa.chain.leaf_spki).unwrap();
            let signature = signer_info.signature.as_bytes();
            key.verify(hash, &attributes.to_der().unwrap(), signature)
                .unwrap();
        }
    }
}
