//! The client's public key and its proof of possession: either a key with a
//! signature over the identity's challenge (email or sub), or a PKCS#10 CSR
//! whose own signature proves possession.
//!
//! Key policy is upstream Fulcio's default: ECDSA P-256/384/521 (each with its
//! own hash), Ed25519, RSA 2048-4096 with PKCS#1 v1.5 and SHA-256.

use atesto_common::pubkey::{HashAlgorithm, KeyAlgorithm, PubKeyError, PublicKey};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

/// How the request carries the key.
#[derive(Debug, Clone, Copy)]
pub enum KeySubmission<'a> {
    /// A PEM or DER SubjectPublicKeyInfo and the signature over the challenge.
    PublicKey { content: &'a [u8], proof: &'a [u8] },
    /// A PKCS#10 request, PEM or DER.
    Csr(&'a [u8]),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientKeyError {
    #[error(
        "the request carries no public key: send publicKeyRequest or certificateSigningRequest"
    )]
    Missing,
    #[error("the public key supplied in the request could not be parsed: {0}")]
    InvalidPublicKey(PubKeyError),
    #[error("the public key supplied in the request is insecure or unsupported: {0}")]
    InsecureKey(PubKeyError),
    #[error("send a public key, not a certificate")]
    CertificateGiven,
    #[error("the proof of possession is missing: sign the token's {0} claim with the private key")]
    MissingProof(&'static str),
    #[error(
        "proof of possession failed: the signature does not verify as the token's {0} claim signed by the supplied key"
    )]
    ProofOfPossession(&'static str),
    #[error("the certificate signing request could not be parsed: {0}")]
    InvalidCsr(String),
    #[error("the certificate signing request's signature does not verify against its public key")]
    CsrSignature,
    #[error("signing algorithm not permitted: a {key} key signing with {signature}")]
    AlgorithmNotPermitted {
        key: KeyAlgorithm,
        signature: &'static str,
    },
}

/// Checks the key policy and the proof of possession; returns the key whose
/// DER SPKI goes into the certificate. `challenge_claim` names the claim the
/// challenge came from, for the error message.
pub fn verify(
    submission: KeySubmission<'_>,
    challenge: &str,
    challenge_claim: &'static str,
) -> Result<PublicKey, ClientKeyError> {
    match submission {
        KeySubmission::PublicKey { content, proof } => {
            if content.is_empty() {
                return Err(ClientKeyError::Missing);
            }
            let key = PublicKey::parse(content).map_err(classify)?;
            if key.certificate_der().is_some() {
                return Err(ClientKeyError::CertificateGiven);
            }
            if proof.is_empty() {
                return Err(ClientKeyError::MissingProof(challenge_claim));
            }
            key.verify(default_hash(key.algorithm()), challenge.as_bytes(), proof)
                .map_err(|_| ClientKeyError::ProofOfPossession(challenge_claim))?;
            Ok(key)
        }
        KeySubmission::Csr(csr) => verify_csr(csr),
    }
}

/// The hash a key type signs with under the default policy (ignored for Ed25519).
fn default_hash(algorithm: KeyAlgorithm) -> HashAlgorithm {
    match algorithm {
        KeyAlgorithm::EcdsaP384 => HashAlgorithm::Sha384,
        KeyAlgorithm::EcdsaP521 => HashAlgorithm::Sha512,
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Ed25519 | KeyAlgorithm::Rsa(_) => {
            HashAlgorithm::Sha256
        }
    }
}

/// Parse failures are "could not be parsed"; well-formed keys outside the
/// policy are "insecure".
fn classify(error: PubKeyError) -> ClientKeyError {
    match error {
        PubKeyError::UnsupportedKeyType(_)
        | PubKeyError::UnsupportedCurve(_)
        | PubKeyError::RsaTooWeak(_)
        | PubKeyError::RsaTooLarge(_)
        | PubKeyError::RsaExponent(_) => ClientKeyError::InsecureKey(error),
        other => ClientKeyError::InvalidPublicKey(other),
    }
}

const CSR_PEM_LABEL: &str = "CERTIFICATE REQUEST";

fn verify_csr(input: &[u8]) -> Result<PublicKey, ClientKeyError> {
    let der = csr_der(input)?;
    let (rest, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|e| ClientKeyError::InvalidCsr(e.to_string()))?;
    if !rest.is_empty() {
        return Err(ClientKeyError::InvalidCsr(
            "trailing data after the request".into(),
        ));
    }
    let info = &csr.certification_request_info;
    let key = PublicKey::from_spki_der(info.subject_pki.raw).map_err(classify)?;
    let signature_oid = csr.signature_algorithm.algorithm.to_id_string();
    let (hash, name) = csr_signature_hash(&signature_oid).ok_or_else(|| {
        ClientKeyError::InvalidCsr(format!("unknown signature algorithm {signature_oid}"))
    })?;
    let permitted = match key.algorithm() {
        KeyAlgorithm::Ed25519 => name == "Ed25519",
        KeyAlgorithm::Rsa(_) => name == "sha256WithRSAEncryption",
        ecdsa => name.starts_with("ecdsa") && hash == Some(default_hash(ecdsa)),
    };
    if !permitted {
        return Err(ClientKeyError::AlgorithmNotPermitted {
            key: key.algorithm(),
            signature: name,
        });
    }
    key.verify(
        hash.unwrap_or(HashAlgorithm::Sha512),
        info.raw,
        &csr.signature_value.data,
    )
    .map_err(|_| ClientKeyError::CsrSignature)?;
    Ok(key)
}

/// The hash and name of a CSR signature algorithm (None hash for Ed25519).
fn csr_signature_hash(oid: &str) -> Option<(Option<HashAlgorithm>, &'static str)> {
    use HashAlgorithm::{Sha256, Sha384, Sha512};
    Some(match oid {
        "1.2.840.10045.4.3.2" => (Some(Sha256), "ecdsa-with-SHA256"),
        "1.2.840.10045.4.3.3" => (Some(Sha384), "ecdsa-with-SHA384"),
        "1.2.840.10045.4.3.4" => (Some(Sha512), "ecdsa-with-SHA512"),
        "1.2.840.113549.1.1.11" => (Some(Sha256), "sha256WithRSAEncryption"),
        "1.2.840.113549.1.1.12" => (Some(Sha384), "sha384WithRSAEncryption"),
        "1.2.840.113549.1.1.13" => (Some(Sha512), "sha512WithRSAEncryption"),
        "1.2.840.113549.1.1.10" => (None, "RSASSA-PSS"),
        "1.3.101.112" => (None, "Ed25519"),
        _ => return None,
    })
}

/// A CSR arrives as PEM (clients base64 the PEM once more in JSON) or DER.
fn csr_der(input: &[u8]) -> Result<Vec<u8>, ClientKeyError> {
    if input.first() == Some(&0x30) {
        return Ok(input.to_vec());
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| ClientKeyError::InvalidCsr("neither PEM nor DER".into()))?;
    let (label, der) = pem_rfc7468::decode_vec(text.trim().as_bytes())
        .map_err(|e| ClientKeyError::InvalidCsr(format!("malformed PEM: {e}")))?;
    if label != CSR_PEM_LABEL && label != "NEW CERTIFICATE REQUEST" {
        return Err(ClientKeyError::InvalidCsr(format!(
            "PEM block is a {label}, expected {CSR_PEM_LABEL}"
        )));
    }
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING,
        ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
    };

    fn ecdsa(alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm) -> EcdsaKeyPair {
        let doc = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        EcdsaKeyPair::from_pkcs8(alg, doc.as_ref()).unwrap()
    }

    fn spki(key: &EcdsaKeyPair) -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer;
        key.public_key().as_der().unwrap().as_ref().to_vec()
    }

    #[test]
    fn proof_of_possession_over_the_challenge() {
        let key = ecdsa(&ECDSA_P256_SHA256_ASN1_SIGNING);
        let proof = key.sign(&SystemRandom::new(), b"dev@example.com").unwrap();
        let content = spki(&key);
        let submission = KeySubmission::PublicKey {
            content: &content,
            proof: proof.as_ref(),
        };
        let accepted = verify(submission, "dev@example.com", "email").unwrap();
        assert_eq!(accepted.spki_der(), content.as_slice());
        assert_eq!(
            verify(submission, "other@example.com", "email").unwrap_err(),
            ClientKeyError::ProofOfPossession("email")
        );
    }

    #[test]
    fn raw_r_s_proof_accepted() {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
        let proof = key.sign(&SystemRandom::new(), b"subject").unwrap();
        let content = spki(&key);
        let submission = KeySubmission::PublicKey {
            content: &content,
            proof: proof.as_ref(),
        };
        assert!(verify(submission, "subject", "sub").is_ok());
    }

    #[test]
    fn p384_proof_uses_sha384() {
        let key = ecdsa(&ECDSA_P384_SHA384_ASN1_SIGNING);
        let proof = key.sign(&SystemRandom::new(), b"sub").unwrap();
        let content = spki(&key);
        let submission = KeySubmission::PublicKey {
            content: &content,
            proof: proof.as_ref(),
        };
        assert!(verify(submission, "sub", "sub").is_ok());
    }

    #[test]
    fn ed25519_proof_is_pure_ed25519() {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        let proof = key.sign(b"sub");
        let mut content = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        content.extend_from_slice(key.public_key().as_ref());
        let submission = KeySubmission::PublicKey {
            content: &content,
            proof: proof.as_ref(),
        };
        assert!(verify(submission, "sub", "sub").is_ok());
    }

    #[test]
    fn refusals_name_the_problem() {
        let missing_proof = KeySubmission::PublicKey {
            content: &spki(&ecdsa(&ECDSA_P256_SHA256_ASN1_SIGNING)),
            proof: b"",
        };
        assert_eq!(
            verify(missing_proof, "s", "sub").unwrap_err(),
            ClientKeyError::MissingProof("sub")
        );
        let garbage = KeySubmission::PublicKey {
            content: b"not a key",
            proof: b"x",
        };
        assert!(matches!(
            verify(garbage, "s", "sub").unwrap_err(),
            ClientKeyError::InvalidPublicKey(_)
        ));
        assert_eq!(
            verify(
                KeySubmission::PublicKey {
                    content: b"",
                    proof: b""
                },
                "s",
                "sub"
            )
            .unwrap_err(),
            ClientKeyError::Missing
        );
        assert!(matches!(
            verify(
                KeySubmission::Csr(
                    b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
                ),
                "s",
                "sub"
            )
            .unwrap_err(),
            ClientKeyError::InvalidCsr(_)
        ));
    }

    #[test]
    fn csr_signature_checked() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .serialize_request(&key)
            .unwrap();
        let pem = csr.pem().unwrap();
        let accepted = verify(KeySubmission::Csr(pem.as_bytes()), "ignored", "sub").unwrap();
        assert_eq!(
            accepted.spki_der(),
            rcgen::PublicKeyData::subject_public_key_info(&key).as_slice()
        );

        let mut der = csr.der().to_vec();
        let last = der.len() - 1;
        der[last] ^= 1;
        assert_eq!(
            verify(KeySubmission::Csr(&der), "ignored", "sub").unwrap_err(),
            ClientKeyError::CsrSignature
        );
    }

    #[test]
    fn csr_with_mismatched_hash_is_not_permitted() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let csr = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .serialize_request(&key)
            .unwrap();
        assert!(verify(KeySubmission::Csr(csr.der()), "s", "sub").is_ok());
        // Re-declare the P-384 CSR as signed with SHA-256: not the policy's pair.
        let mut der = csr.der().to_vec();
        let sha384 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
        let at = der.windows(8).rposition(|w| w == sha384).unwrap();
        der[at + 7] = 0x02;
        assert!(matches!(
            verify(KeySubmission::Csr(&der), "s", "sub").unwrap_err(),
            ClientKeyError::AlgorithmNotPermitted { .. }
        ));
    }
}
