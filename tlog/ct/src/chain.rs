//! Chain checks for add-chain and add-pre-chain, and the leaf they yield.
//!
//! A chain is accepted when each certificate is signed by the next, the last
//! one is a configured root or is signed by one, every issuer is a CA, and the
//! first certificate has EKU codeSigning. add-pre-chain requires the critical
//! poison extension on the first certificate; add-chain forbids it. The
//! precertificate's issuer is the next certificate of the chain: the CA signs
//! precertificates with its own key, not a Precertificate Signing Certificate.

use atesto_common::ct::{MAX_U24, POISON, SignedEntry, tbs_without_poison};
use atesto_common::pubkey::{HashAlgorithm, KeyAlgorithm, PublicKey};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::asn1::Any;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};

use super::leaf;

const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// Longest chain accepted, root included.
pub const MAX_CHAIN: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("the chain is empty: send the certificate, then its issuers")]
    Empty,
    #[error("the chain has {0} certificates: at most {MAX_CHAIN} are accepted")]
    TooLong(usize),
    #[error("chain[{index}] is not a DER X.509 certificate: {reason}")]
    Malformed { index: usize, reason: String },
    #[error("the chain is larger than 2^24-1 bytes")]
    TooLarge,
    #[error("chain[{0}] is not signed by chain[{next}]", next = .0 + 1)]
    BadSignature(usize),
    #[error("chain[{0}] is not a CA certificate (basicConstraints cA) and cannot issue")]
    NotCa(usize),
    #[error("the chain does not end in, or chain to, a root this log accepts")]
    UnknownRoot,
    #[error("the certificate has no extended key usage codeSigning (1.3.6.1.5.5.7.3.3)")]
    NoCodeSigning,
    #[error(
        "add-pre-chain needs a precertificate: chain[0] has no critical poison extension (1.3.6.1.4.1.11129.2.4.3)"
    )]
    NotPrecert,
    #[error(
        "add-chain takes final certificates: chain[0] has the poison extension, use add-pre-chain"
    )]
    Poisoned,
    #[error("the precertificate has no issuer in the chain")]
    NoIssuer,
}

/// A configured root.
#[derive(Debug, Clone)]
pub struct Root {
    pub der: Vec<u8>,
    parsed: Parsed,
}

impl Root {
    pub fn from_der(der: Vec<u8>) -> Result<Self, ChainError> {
        let parsed = parse(0, &der)?;
        Ok(Self { der, parsed })
    }
}

/// A decoded certificate and its TBSCertificate bytes exactly as sent: what
/// its signature covers, and what the poison is cut from.
#[derive(Debug, Clone)]
struct Parsed {
    cert: Certificate,
    tbs: Vec<u8>,
}

/// Which endpoint the chain came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    Final,
    Precert,
}

/// A verified chain: the entry to log and its `extra_data`.
#[derive(Debug)]
pub struct Accepted {
    pub entry: SignedEntry,
    pub extra_data: Vec<u8>,
}

fn parse(index: usize, der: &[u8]) -> Result<Parsed, ChainError> {
    if der.len() > MAX_U24 {
        return Err(ChainError::TooLarge);
    }
    let malformed = |reason: String| ChainError::Malformed { index, reason };
    let cert = Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
    // Certificate ::= SEQUENCE { tbsCertificate, ... }: its first element, bytes kept.
    let tbs = Vec::<Any>::from_der(der)
        .map_err(|e| malformed(e.to_string()))?
        .first()
        .map(Encode::to_der)
        .transpose()
        .map_err(|e| malformed(e.to_string()))?
        .ok_or_else(|| malformed("no TBSCertificate".into()))?;
    Ok(Parsed { cert, tbs })
}

fn extension<'a>(cert: &'a Certificate, oid: &ObjectIdentifier) -> Option<&'a Extension> {
    cert.tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id == *oid)
}

fn spki_der(cert: &Certificate) -> Option<Vec<u8>> {
    cert.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()
}

/// Does `issuer`'s key verify `signed`'s signature?
fn signed_by(signed: &Parsed, issuer: &Certificate) -> bool {
    let cert = &signed.cert;
    const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
    const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
    const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
    const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    /// The key family a signature algorithm needs.
    #[derive(PartialEq)]
    enum Family {
        Ecdsa,
        Rsa,
        Ed25519,
    }
    let (family, hash) = match cert.signature_algorithm().oid {
        oid if oid == ECDSA_SHA256 => (Family::Ecdsa, HashAlgorithm::Sha256),
        oid if oid == ECDSA_SHA384 => (Family::Ecdsa, HashAlgorithm::Sha384),
        oid if oid == ECDSA_SHA512 => (Family::Ecdsa, HashAlgorithm::Sha512),
        oid if oid == RSA_SHA256 => (Family::Rsa, HashAlgorithm::Sha256),
        oid if oid == RSA_SHA384 => (Family::Rsa, HashAlgorithm::Sha384),
        oid if oid == RSA_SHA512 => (Family::Rsa, HashAlgorithm::Sha512),
        oid if oid == ED25519 => (Family::Ed25519, HashAlgorithm::Sha256),
        _ => return false,
    };
    let (Some(spki), Some(signature)) = (spki_der(issuer), cert.signature().as_bytes()) else {
        return false;
    };
    let Ok(key) = PublicKey::from_spki_der(&spki) else {
        return false;
    };
    // The OID names the key type too: an RSA issuer key must not verify a
    // certificate that claims an ECDSA signature, nor the reverse.
    let key_family = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
            Family::Ecdsa
        }
        KeyAlgorithm::Rsa(_) => Family::Rsa,
        KeyAlgorithm::Ed25519 => Family::Ed25519,
    };
    key_family == family && key.verify(hash, &signed.tbs, signature).is_ok()
}

/// Issuer signatures already verified on CA certificates. The CA sends the
/// same intermediate with every precertificate: its signature by the root is
/// checked once, not once per submission. Keyed by SHA-256 over both exact
/// DER encodings, so only byte-identical pairs hit; failures are never kept.
#[derive(Default)]
pub struct VerifiedSignatures {
    pairs: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
}

/// A handful of CA certificates per deployment; the bound only stops a
/// stream of distinct CA chains from growing the set without end.
const MAX_VERIFIED_PAIRS: usize = 1024;

impl VerifiedSignatures {
    fn signed_by(
        &self,
        signed: &Parsed,
        signed_der: &[u8],
        issuer: &Certificate,
        issuer_der: &[u8],
    ) -> bool {
        let mut hasher = Sha256::new();
        hasher.update((signed_der.len() as u64).to_be_bytes());
        hasher.update(signed_der);
        hasher.update(issuer_der);
        let key: [u8; 32] = hasher.finalize().into();
        let lock = || {
            self.pairs
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        };
        if lock().contains(&key) {
            return true;
        }
        let verified = signed_by(signed, issuer);
        if verified {
            let mut pairs = lock();
            if pairs.len() < MAX_VERIFIED_PAIRS {
                pairs.insert(key);
            }
        }
        verified
    }
}

fn is_ca(cert: &Certificate) -> bool {
    extension(cert, &BASIC_CONSTRAINTS)
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|bc| bc.ca)
}

fn has_code_signing(cert: &Certificate) -> bool {
    extension(cert, &EXTENDED_KEY_USAGE)
        .and_then(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|eku| eku.0.contains(&CODE_SIGNING))
}

/// Checks a submitted chain (DER certificates, leaf first) against `roots`.
pub fn check(
    roots: &[Root],
    verified: &VerifiedSignatures,
    chain: Vec<Vec<u8>>,
    submission: Submission,
) -> Result<Accepted, ChainError> {
    if chain.is_empty() {
        return Err(ChainError::Empty);
    }
    if chain.len() > MAX_CHAIN {
        return Err(ChainError::TooLong(chain.len()));
    }
    if chain.iter().map(Vec::len).sum::<usize>() > MAX_U24 - 3 * MAX_CHAIN - 3 {
        return Err(ChainError::TooLarge);
    }
    let certs = chain
        .iter()
        .enumerate()
        .map(|(index, der)| parse(index, der))
        .collect::<Result<Vec<_>, _>>()?;

    let leaf_cert = &certs[0].cert;
    let poison = extension(leaf_cert, &POISON);
    match submission {
        Submission::Precert if !poison.is_some_and(|p| p.critical) => {
            return Err(ChainError::NotPrecert);
        }
        Submission::Final if poison.is_some() => return Err(ChainError::Poisoned),
        _ => {}
    }
    if !has_code_signing(leaf_cert) {
        return Err(ChainError::NoCodeSigning);
    }
    for (index, pair) in certs.windows(2).enumerate() {
        if !is_ca(&pair[1].cert) {
            return Err(ChainError::NotCa(index + 1));
        }
        // The leaf is new with every submission: only CA links are worth remembering.
        let linked = if index == 0 {
            signed_by(&pair[0], &pair[1].cert)
        } else {
            verified.signed_by(&pair[0], &chain[index], &pair[1].cert, &chain[index + 1])
        };
        if !linked {
            return Err(ChainError::BadSignature(index));
        }
    }

    // The chain ends in a root, or its last certificate is issued by one (the root is then appended).
    let mut chain = chain;
    let last = certs.len() - 1;
    let mut issuers: Vec<&Certificate> = certs.iter().skip(1).map(|p| &p.cert).collect();
    if !roots.iter().any(|r| r.der == chain[last]) {
        let root = roots
            .iter()
            .find(|r| {
                let root = &r.parsed.cert;
                let issued_by_root =
                    root.tbs_certificate().subject() == certs[last].cert.tbs_certificate().issuer();
                issued_by_root
                    && if last == 0 {
                        signed_by(&certs[last], root)
                    } else {
                        verified.signed_by(&certs[last], &chain[last], root, &r.der)
                    }
            })
            .ok_or(ChainError::UnknownRoot)?;
        chain.push(root.der.clone());
        issuers.push(&root.parsed.cert);
    }

    let (first, rest) = chain.split_first().ok_or(ChainError::Empty)?;
    let entry = match submission {
        Submission::Final => {
            return Ok(Accepted {
                entry: SignedEntry::X509(first.clone()),
                extra_data: leaf::x509_extra_data(rest),
            });
        }
        Submission::Precert => {
            let issuer = issuers.first().ok_or(ChainError::NoIssuer)?;
            let spki = spki_der(issuer).ok_or(ChainError::NoIssuer)?;
            SignedEntry::Precert {
                issuer_key_hash: Sha256::digest(&spki).into(),
                tbs: tbs_without_poison(&certs[0].tbs)
                    .map_err(|reason| ChainError::Malformed { index: 0, reason })?,
            }
        }
    };
    Ok(Accepted {
        entry,
        extra_data: leaf::precert_extra_data(first, rest),
    })
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints as Bc, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        SerialNumber,
    };

    use super::*;
    use atesto_test_support::pki::{TestCa, ca_params, leaf_params};

    /// A code-signing leaf, with the poison extension when `poisoned`; the
    /// same key and serial, so two calls differ only by the poison.
    fn leaf(ca: &TestCa, key: &KeyPair, poisoned: bool, eku: bool) -> Vec<u8> {
        let mut params = leaf_params("leaf.test", eku, poisoned);
        params.serial_number = Some(SerialNumber::from_slice(&[1, 2, 3]));
        ca.issue(&params, key)
    }

    fn roots(ca: &TestCa) -> Vec<Root> {
        vec![Root::from_der(ca.root.clone()).unwrap()]
    }

    /// The signature algorithm names the key type as well as the hash: an
    /// Ed25519 signature under an ECDSA-SHA256 label must not verify (the
    /// check used to take only the hash from the label).
    #[test]
    fn a_signature_algorithm_must_match_the_issuers_key_type() {
        let issuer_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let issuer_params = ca_params("ed25519 issuer", IsCa::Ca(Bc::Unconstrained));
        let issuer_der = issuer_params
            .self_signed(&issuer_key)
            .unwrap()
            .der()
            .to_vec();
        let issuer = Issuer::new(issuer_params, issuer_key);
        let mut params = CertificateParams::new(vec!["leaf.test".into()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        let leaf_key = KeyPair::generate().unwrap();
        let honest = params.signed_by(&leaf_key, &issuer).unwrap().der().to_vec();
        let issuer_cert = Certificate::from_der(&issuer_der).unwrap();
        assert!(signed_by(&parse(0, &honest).unwrap(), &issuer_cert));

        // Certificate ::= SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }:
        // swap the outer Ed25519 identifier for ecdsa-with-SHA256.
        const ED25519_ALG: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
        const ECDSA_SHA256_ALG: &[u8] = &[
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
        ];
        let tbs = parse(0, &honest).unwrap().tbs;
        let (header, rest) = honest.split_at(4);
        assert_eq!(header[..2], [0x30, 0x82], "a two-byte outer length");
        let after_tbs = &rest[tbs.len()..];
        assert!(after_tbs.starts_with(ED25519_ALG));
        let mut content = tbs.clone();
        content.extend_from_slice(ECDSA_SHA256_ALG);
        content.extend_from_slice(&after_tbs[ED25519_ALG.len()..]);
        let mut relabelled = vec![0x30, 0x82];
        relabelled.extend_from_slice(&(content.len() as u16).to_be_bytes());
        relabelled.extend(content);
        let relabelled = parse(0, &relabelled).unwrap();
        assert!(!signed_by(&relabelled, &issuer_cert));
    }

    #[test]
    fn poison_removal_gives_the_final_certificates_tbs() {
        let ca = TestCa::new("ct");
        let key = KeyPair::generate().unwrap();
        let precert = parse(0, &leaf(&ca, &key, true, true)).unwrap();
        let final_cert = Certificate::from_der(&leaf(&ca, &key, false, true)).unwrap();
        let expected = final_cert.tbs_certificate().to_der().unwrap();
        assert_eq!(
            precert.tbs,
            precert.cert.tbs_certificate().to_der().unwrap()
        );
        assert_ne!(precert.tbs, expected);
        assert_eq!(tbs_without_poison(&precert.tbs).unwrap(), expected);
    }

    #[test]
    fn precert_chain_yields_the_issuer_key_hash_and_clean_tbs() {
        let ca = TestCa::new("ct");
        let key = KeyPair::generate().unwrap();
        let precert = leaf(&ca, &key, true, true);
        let chain = vec![precert.clone(), ca.intermediate.clone()];
        let accepted = check(
            &roots(&ca),
            &VerifiedSignatures::default(),
            chain,
            Submission::Precert,
        )
        .unwrap();
        let intermediate = Certificate::from_der(&ca.intermediate).unwrap();
        let spki = spki_der(&intermediate).unwrap();
        let final_cert = Certificate::from_der(&leaf(&ca, &key, false, true)).unwrap();
        assert_eq!(
            accepted.entry,
            SignedEntry::Precert {
                issuer_key_hash: Sha256::digest(&spki).into(),
                tbs: final_cert.tbs_certificate().to_der().unwrap(),
            }
        );
        // The root was appended to the stored chain.
        assert_eq!(
            accepted.extra_data,
            leaf::precert_extra_data(&precert, &[ca.intermediate.clone(), ca.root.clone()])
        );
    }

    #[test]
    fn ca_signatures_are_verified_once_and_failures_never_remembered() {
        let ca = TestCa::new("ct");
        let key = KeyPair::generate().unwrap();
        let roots = roots(&ca);
        let verified = VerifiedSignatures::default();
        let remembered = || verified.pairs.lock().unwrap().len();
        let submit = |chain: Vec<Vec<u8>>| check(&roots, &verified, chain, Submission::Final);

        let chain = vec![leaf(&ca, &key, false, true), ca.intermediate.clone()];
        submit(chain.clone()).unwrap();
        assert_eq!(
            remembered(),
            1,
            "intermediate by root; the leaf is not kept"
        );
        submit(chain).unwrap();
        assert_eq!(remembered(), 1);

        // An intermediate whose signature no longer verifies is refused, every time.
        let mut forged = ca.intermediate.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        for _ in 0..2 {
            let chain = vec![leaf(&ca, &key, false, true), forged.clone()];
            assert!(matches!(submit(chain), Err(ChainError::UnknownRoot)));
        }
        assert_eq!(remembered(), 1);
        // With the root in the chain, the forged link fails as a bad signature.
        let chain = vec![leaf(&ca, &key, false, true), forged, ca.root.clone()];
        assert!(matches!(submit(chain), Err(ChainError::BadSignature(1))));
        assert_eq!(remembered(), 1);
    }

    #[test]
    fn refusals() {
        let ca = TestCa::new("ct");
        let other = TestCa::new("ct");
        let key = KeyPair::generate().unwrap();
        let precert = leaf(&ca, &key, true, true);
        let final_cert = leaf(&ca, &key, false, true);
        let with = |first: &[u8]| vec![first.to_vec(), ca.intermediate.clone()];
        let roots = roots(&ca);
        let verified = VerifiedSignatures::default();
        let refused = |chain, submission| check(&roots, &verified, chain, submission).unwrap_err();

        assert!(matches!(
            refused(with(&final_cert), Submission::Precert),
            ChainError::NotPrecert
        ));
        assert!(matches!(
            refused(with(&precert), Submission::Final),
            ChainError::Poisoned
        ));
        let no_eku = leaf(&ca, &key, false, false);
        assert!(matches!(
            refused(with(&no_eku), Submission::Final),
            ChainError::NoCodeSigning
        ));
        let foreign = vec![leaf(&other, &key, false, true), other.intermediate.clone()];
        assert!(matches!(
            refused(foreign, Submission::Final),
            ChainError::UnknownRoot
        ));
        let crossed = vec![final_cert.clone(), other.intermediate.clone()];
        assert!(matches!(
            refused(crossed, Submission::Final),
            ChainError::BadSignature(0)
        ));
        let not_ca = vec![final_cert.clone(), final_cert.clone()];
        assert!(matches!(
            refused(not_ca, Submission::Final),
            ChainError::NotCa(1)
        ));
        assert!(matches!(
            refused(Vec::new(), Submission::Final),
            ChainError::Empty
        ));
        let garbage = vec![vec![0x30, 0x03, 1, 2, 3]];
        assert!(matches!(
            refused(garbage, Submission::Final),
            ChainError::Malformed { index: 0, .. }
        ));
        check(&roots, &verified, with(&final_cert), Submission::Final).unwrap();
    }
}
