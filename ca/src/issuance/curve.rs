//! The curves a CA key may use and the algorithms that go with each.

use atesto_common::pubkey::HashAlgorithm;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaSigningAlgorithm,
};
use rcgen::SignatureAlgorithm;

/// The curves a CA key may use: the ones every sigstore client verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaCurve {
    P256,
    P384,
}

impl CaCurve {
    /// The certificate signature algorithm that goes with the curve.
    pub(crate) fn rcgen_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            CaCurve::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            CaCurve::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }

    pub(crate) fn hash(self) -> HashAlgorithm {
        match self {
            CaCurve::P256 => HashAlgorithm::Sha256,
            CaCurve::P384 => HashAlgorithm::Sha384,
        }
    }

    /// Bytes of one coordinate or scalar.
    pub(crate) fn field_len(self) -> usize {
        match self {
            CaCurve::P256 => 32,
            CaCurve::P384 => 48,
        }
    }

    pub(crate) fn aws_lc_signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            CaCurve::P256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
            CaCurve::P384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }
}
