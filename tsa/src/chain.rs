//! The TSA certificate chain and the profile it must fit, checked at start-up:
//! the leaf (chain[0]) is not a CA and its only extended key usage is
//! timeStamping, marked critical (RFC 3161 2.3; sigstore clients refuse
//! anything else); each certificate is signed by the next, the last is a
//! self-signed root, every issuer is a CA, and all are valid now. The chain
//! checks are the CA's (`atesto_ca::issuance::chain`).

use std::path::Path;

use atesto_ca::issuance::IssuanceError;
use atesto_ca::issuance::chain::{
    check_is_ca, check_validity, curve_of, parse, read_pem_certificates, signed_by,
};
use atesto_ca::issuance::curve::CaCurve;
use x509_parser::prelude::X509Certificate;

use crate::TsaError;

/// A chain that fits the profile.
pub struct TsaChain {
    /// DER, the TSA certificate first.
    pub der: Vec<Vec<u8>>,
    /// The whole chain as PEM, as `/api/v1/timestamp/certchain` serves it.
    pub pem: String,
    /// The TSA certificate's curve: its key signs with the matching hash.
    pub curve: CaCurve,
    /// The TSA certificate's public key, the uncompressed EC point.
    pub leaf_point: Vec<u8>,
    /// The TSA certificate's SubjectPublicKeyInfo.
    pub leaf_spki: Vec<u8>,
}

fn chain_error(error: IssuanceError) -> TsaError {
    match error {
        IssuanceError::Chain { index, problem } => TsaError::Chain { index, problem },
        other => TsaError::ChainFile(other.to_string()),
    }
}

impl TsaChain {
    pub fn load(path: &Path) -> Result<Self, TsaError> {
        let certificates = read_pem_certificates(path).map_err(chain_error)?;
        let pem = certificates.iter().map(|(pem, _)| pem.as_str()).collect();
        let der: Vec<Vec<u8>> = certificates.into_iter().map(|(_, der)| der).collect();
        Self::from_der(der, pem)
    }

    pub fn from_der(der: Vec<Vec<u8>>, pem: String) -> Result<Self, TsaError> {
        let certs = der
            .iter()
            .enumerate()
            .map(|(index, der)| parse(index, der).map_err(chain_error))
            .collect::<Result<Vec<_>, _>>()?;
        let leaf = certs.first().ok_or_else(|| {
            TsaError::ChainFile(
                "no certificate: expected the TSA certificate, then its issuers up to the root"
                    .into(),
            )
        })?;
        check_leaf(leaf)?;
        for (index, cert) in certs.iter().enumerate() {
            check_validity(index, cert).map_err(chain_error)?;
            if index > 0 {
                check_is_ca(index, cert).map_err(chain_error)?;
            }
            let issuer_index = (index + 1).min(certs.len() - 1);
            let issuer = &certs[issuer_index];
            let problem = |problem: String| TsaError::Chain { index, problem };
            if cert.tbs_certificate.issuer.as_raw() != issuer.tbs_certificate.subject.as_raw() {
                return Err(problem(if issuer_index == index {
                    "the last certificate must be a self-signed root: its issuer is not its subject"
                        .into()
                } else {
                    format!("its issuer name is not the subject of chain[{issuer_index}]")
                }));
            }
            let issuer_curve = curve_of(issuer_index, issuer).map_err(chain_error)?;
            signed_by(cert, issuer.public_key().raw, issuer_curve).map_err(|reason| {
                problem(format!("not signed by chain[{issuer_index}]: {reason}"))
            })?;
        }
        let curve = curve_of(0, leaf).map_err(chain_error)?;
        let leaf_point = leaf.public_key().subject_public_key.data.to_vec();
        let leaf_spki = leaf.public_key().raw.to_vec();
        drop(certs);
        Ok(Self {
            der,
            pem,
            curve,
            leaf_point,
            leaf_spki,
        })
    }
}

/// The TSA certificate's own rules (RFC 3161 2.3).
fn check_leaf(leaf: &X509Certificate<'_>) -> Result<(), TsaError> {
    let problem = |problem: &str| TsaError::Chain {
        index: 0,
        problem: problem.into(),
    };
    match leaf.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {
            return Err(problem("the TSA certificate must not be a CA"));
        }
        Ok(_) => {}
        Err(e) => return Err(problem(&format!("basicConstraints: {e}"))),
    }
    let eku = match leaf.extended_key_usage() {
        Ok(Some(eku)) => eku,
        Ok(None) => {
            return Err(problem(
                "no extendedKeyUsage: the TSA certificate needs timeStamping, critical",
            ));
        }
        Err(e) => return Err(problem(&format!("extendedKeyUsage: {e}"))),
    };
    if !eku.critical {
        return Err(problem("extendedKeyUsage must be critical"));
    }
    let usage = eku.value;
    let others = usage.any
        || usage.server_auth
        || usage.client_auth
        || usage.code_signing
        || usage.email_protection
        || usage.ocsp_signing
        || !usage.other.is_empty();
    if !usage.time_stamping || others {
        return Err(problem(
            "extendedKeyUsage must be timeStamping and nothing else",
        ));
    }
    Ok(())
}
