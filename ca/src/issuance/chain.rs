//! The CA chain from its PEM file (issuing CA first, root last) and the
//! checks made on it at start: every certificate is a CA allowed to sign
//! certificates, within its validity, ECDSA P-256/P-384, each is signed by the
//! next with the algorithm matching that key, and the root signs itself.

use std::path::Path;

use atesto_common::pubkey::{KeyAlgorithm, PublicKey};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384, OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
};
use x509_parser::prelude::FromDer;

use super::IssuanceError;
use super::curve::CaCurve;

/// A checked CA chain.
pub struct CaChain {
    pub der: Vec<Vec<u8>>,
    pub pem: Vec<String>,
    /// Raw DER of the issuing CA's subject Name: every leaf's issuer.
    pub issuer_subject: Vec<u8>,
    /// DER SubjectPublicKeyInfo of the issuing CA.
    pub issuer_spki: Vec<u8>,
    /// The issuing CA's SubjectKeyIdentifier: every leaf's AKI.
    pub issuer_key_id: Vec<u8>,
    pub issuer_curve: CaCurve,
}

pub fn parse(index: usize, der: &[u8]) -> Result<X509Certificate<'_>, IssuanceError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(IssuanceError::Chain {
            index,
            problem: "trailing bytes after the certificate".into(),
        }),
        Err(e) => Err(IssuanceError::Chain {
            index,
            problem: format!("not a DER X.509 certificate: {e}"),
        }),
    }
}

pub fn curve_of(index: usize, cert: &X509Certificate<'_>) -> Result<CaCurve, IssuanceError> {
    let key =
        PublicKey::from_spki_der(cert.public_key().raw).map_err(|e| IssuanceError::Chain {
            index,
            problem: format!("public key: {e}"),
        })?;
    match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => Ok(CaCurve::P256),
        KeyAlgorithm::EcdsaP384 => Ok(CaCurve::P384),
        other => Err(IssuanceError::Chain {
            index,
            problem: format!("{other:?} key: CA keys must be ECDSA P-256 or P-384"),
        }),
    }
}

/// Does the certificate's signature verify under `issuer`'s key, with the
/// signature algorithm that goes with that key?
pub fn signed_by(
    cert: &X509Certificate<'_>,
    issuer_spki: &[u8],
    issuer_curve: CaCurve,
) -> Result<(), String> {
    let expected = match issuer_curve {
        CaCurve::P256 => OID_SIG_ECDSA_WITH_SHA256,
        CaCurve::P384 => OID_SIG_ECDSA_WITH_SHA384,
    };
    if cert.signature_algorithm.algorithm != expected {
        return Err(format!(
            "signature algorithm {} does not match the issuer's {issuer_curve:?} key (expected {expected})",
            cert.signature_algorithm.algorithm
        ));
    }
    let key = PublicKey::from_spki_der(issuer_spki).map_err(|e| e.to_string())?;
    key.verify(
        issuer_curve.hash(),
        cert.tbs_certificate.as_ref(),
        &cert.signature_value.data,
    )
    .map_err(|_| "the signature does not verify".to_string())
}

pub fn check_is_ca(index: usize, cert: &X509Certificate<'_>) -> Result<(), IssuanceError> {
    let problem = |problem: &str| IssuanceError::Chain {
        index,
        problem: problem.into(),
    };
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        Ok(_) => return Err(problem("not a CA: basicConstraints cA is absent or false")),
        Err(e) => return Err(problem(&format!("basicConstraints: {e}"))),
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.key_cert_sign() => Ok(()),
        Ok(Some(_)) => Err(problem("keyUsage lacks keyCertSign")),
        Ok(None) => Err(problem("no keyUsage extension (keyCertSign is required)")),
        Err(e) => Err(problem(&format!("keyUsage: {e}"))),
    }
}

pub fn check_validity(index: usize, cert: &X509Certificate<'_>) -> Result<(), IssuanceError> {
    let validity = cert.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now < validity.not_before {
        return Err(IssuanceError::Chain {
            index,
            problem: format!("not valid before {}", validity.not_before),
        });
    }
    if now > validity.not_after {
        return Err(IssuanceError::Chain {
            index,
            problem: format!("expired at {}", validity.not_after),
        });
    }
    Ok(())
}

fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    let extension = cert
        .get_extension_unique(&OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        .ok()??;
    match extension.parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
        _ => None,
    }
}

/// Splits a PEM file into certificates.
pub fn read_pem_certificates(path: &Path) -> Result<Vec<(String, Vec<u8>)>, IssuanceError> {
    let text = std::fs::read_to_string(path).map_err(|source| IssuanceError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let pem_error = |reason: String| IssuanceError::ChainPem {
        path: path.display().to_string(),
        reason,
    };
    let certificates = atesto_common::pem::certificates(&text).map_err(|reason| {
        if reason.starts_with("no PEM") {
            pem_error(
                "no PEM certificate: expected the issuing CA, then its issuers up to the root"
                    .into(),
            )
        } else {
            pem_error(reason)
        }
    })?;
    Ok(certificates.into_iter().map(|c| (c.pem, c.der)).collect())
}

impl CaChain {
    pub fn load(path: &Path) -> Result<Self, IssuanceError> {
        let (pem, der): (Vec<String>, Vec<Vec<u8>>) =
            read_pem_certificates(path)?.into_iter().unzip();
        let certs = der
            .iter()
            .enumerate()
            .map(|(index, der)| parse(index, der))
            .collect::<Result<Vec<_>, _>>()?;
        let curves = certs
            .iter()
            .enumerate()
            .map(|(index, cert)| curve_of(index, cert))
            .collect::<Result<Vec<_>, _>>()?;
        for (index, cert) in certs.iter().enumerate() {
            check_is_ca(index, cert)?;
            check_validity(index, cert)?;
            let (issuer, issuer_curve) = match certs.get(index + 1) {
                Some(next) => (next, curves[index + 1]),
                None => (cert, curves[index]),
            };
            if cert.tbs_certificate.issuer.as_raw() != issuer.tbs_certificate.subject.as_raw() {
                return Err(IssuanceError::Chain {
                    index,
                    problem: if index + 1 == certs.len() {
                        "the last certificate must be a self-signed root: its issuer is not its subject".into()
                    } else {
                        format!("its issuer name is not the subject of chain[{}]", index + 1)
                    },
                });
            }
            signed_by(cert, issuer.public_key().raw, issuer_curve).map_err(|problem| {
                IssuanceError::Chain {
                    index,
                    problem: if index + 1 == certs.len() {
                        format!("the root is not self-signed: {problem}")
                    } else {
                        format!("not signed by chain[{}]: {problem}", index + 1)
                    },
                }
            })?;
        }
        let issuing = &certs[0];
        let issuer_key_id = subject_key_id(issuing).ok_or_else(|| IssuanceError::Chain {
            index: 0,
            problem: "no subjectKeyIdentifier: leaves need it for their authorityKeyIdentifier"
                .into(),
        })?;
        let issuer_subject = issuing.tbs_certificate.subject.as_raw().to_vec();
        let issuer_spki = issuing.public_key().raw.to_vec();
        let issuer_curve = curves[0];
        drop(certs);
        Ok(Self {
            der,
            pem,
            issuer_subject,
            issuer_spki,
            issuer_key_id,
            issuer_curve,
        })
    }
}
