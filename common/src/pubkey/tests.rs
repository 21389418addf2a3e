//! Unit tests of client key parsing, identities and signature checks.

use std::sync::OnceLock;

use atesto_test_support::der::tlv;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair,
};
use base64::Engine;

use super::pem_block::encode_pem;
use super::signature::ecdsa_fixed_to_der;
use super::*;

fn ecdsa(alg: &'static EcdsaSigningAlgorithm) -> EcdsaKeyPair {
    EcdsaKeyPair::generate(alg).unwrap()
}

fn spki_of(
    key: &impl KeyPair<PublicKey: AsDer<aws_lc_rs::encoding::PublicKeyX509Der<'static>>>,
) -> Vec<u8> {
    key.public_key().as_der().unwrap().as_ref().to_vec()
}

/// RSA generation is slow in debug builds: one key per size, shared.
fn rsa(size: KeySize) -> &'static sig::RsaKeyPair {
    static KEYS: OnceLock<[sig::RsaKeyPair; 3]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        [KeySize::Rsa2048, KeySize::Rsa3072, KeySize::Rsa4096]
            .map(|size| sig::RsaKeyPair::generate(size).unwrap())
    });
    match size {
        KeySize::Rsa2048 => &keys[0],
        KeySize::Rsa3072 => &keys[1],
        _ => &keys[2],
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    encode_pem(label, der)
}

fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = vec![0];
    bits.extend_from_slice(key);
    tlv(0x30, &[tlv(0x30, algorithm), tlv(0x03, &bits)].concat())
}

const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// An RSA SPKI with a modulus of exactly `bits` bits (not a real key:
/// size checks come before any arithmetic).
fn rsa_spki(bits: usize, exponent: &[u8]) -> Vec<u8> {
    let mut modulus = vec![0xffu8; bits.div_ceil(8)];
    modulus[0] = 0xff >> (bits.div_ceil(8) * 8 - bits);
    if modulus[0] & 0x80 != 0 {
        modulus.insert(0, 0);
    }
    let key = tlv(0x30, &[tlv(0x02, &modulus), tlv(0x02, exponent)].concat());
    spki(&[OID_RSA, &[0x05, 0x00]].concat(), &key)
}

#[test]
fn every_accepted_key_type_parses_and_verifies() {
    let rng = SystemRandom::new();
    let message = b"an artifact";
    let ecdsa_cases = [
        (
            &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
            KeyAlgorithm::EcdsaP256,
            HashAlgorithm::Sha256,
        ),
        (
            &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
            KeyAlgorithm::EcdsaP384,
            HashAlgorithm::Sha384,
        ),
        (
            &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
            KeyAlgorithm::EcdsaP521,
            HashAlgorithm::Sha512,
        ),
        (
            &sig::ECDSA_P521_SHA256_ASN1_SIGNING,
            KeyAlgorithm::EcdsaP521,
            HashAlgorithm::Sha256,
        ),
    ];
    for (signing, algorithm, hash) in ecdsa_cases {
        let pair = ecdsa(signing);
        let key = PublicKey::parse(pem("PUBLIC KEY", &spki_of(&pair)).as_bytes()).unwrap();
        assert_eq!(key.algorithm(), algorithm);
        let signature = pair.sign(&rng, message).unwrap();
        key.verify(hash, message, signature.as_ref()).unwrap();
        key.verify_digest(hash, &hash.digest(message), signature.as_ref())
            .unwrap();
        assert_eq!(
            key.verify(hash, b"another artifact", signature.as_ref()),
            Err(PubKeyError::BadSignature)
        );
    }

    let pair = Ed25519KeyPair::generate().unwrap();
    let key = PublicKey::parse(&spki_of(&pair)).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
    let signature = pair.sign(message);
    key.verify(HashAlgorithm::Sha256, message, signature.as_ref())
        .unwrap();
    assert_eq!(
        key.verify(HashAlgorithm::Sha256, b"x", signature.as_ref()),
        Err(PubKeyError::BadSignature)
    );

    for (size, bits) in [
        (KeySize::Rsa2048, 2048),
        (KeySize::Rsa3072, 3072),
        (KeySize::Rsa4096, 4096),
    ] {
        let pair = rsa(size);
        let key = PublicKey::parse(pem("PUBLIC KEY", &spki_of(pair)).as_bytes()).unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Rsa(bits));
        for (encoding, hash) in [
            (&sig::RSA_PKCS1_SHA256, HashAlgorithm::Sha256),
            (&sig::RSA_PKCS1_SHA512, HashAlgorithm::Sha512),
        ] {
            let mut signature = vec![0; pair.public_modulus_len()];
            pair.sign(encoding, &rng, message, &mut signature).unwrap();
            key.verify(hash, message, &signature).unwrap();
            key.verify_digest(hash, &hash.digest(message), &signature)
                .unwrap();
            signature[10] ^= 1;
            assert_eq!(
                key.verify_digest(hash, &hash.digest(message), &signature),
                Err(PubKeyError::BadSignature)
            );
        }
    }
}

#[test]
fn ecdsa_keys_verify_over_their_usual_hash_and_others() {
    // The usual hash goes through the key parsed at check time, any other
    // through a fresh parse: both must accept the right signature only.
    let rng = SystemRandom::new();
    let message = b"release tarball";
    for (signing, hash) in [
        (&sig::ECDSA_P256_SHA256_ASN1_SIGNING, HashAlgorithm::Sha256),
        (&sig::ECDSA_P384_SHA384_ASN1_SIGNING, HashAlgorithm::Sha384),
        (&sig::ECDSA_P521_SHA512_ASN1_SIGNING, HashAlgorithm::Sha512),
        (&sig::ECDSA_P521_SHA256_ASN1_SIGNING, HashAlgorithm::Sha256),
        (&sig::ECDSA_P521_SHA384_ASN1_SIGNING, HashAlgorithm::Sha384),
    ] {
        let pair = ecdsa(signing);
        let key = PublicKey::parse(&spki_of(&pair)).unwrap();
        let signature = pair.sign(&rng, message).unwrap().as_ref().to_vec();
        key.verify(hash, message, &signature).unwrap();
        key.verify_digest(hash, &hash.digest(message), &signature)
            .unwrap();
        assert_eq!(
            key.verify(hash, b"another message", &signature),
            Err(PubKeyError::BadSignature)
        );
        assert_eq!(
            key.verify_digest(hash, &hash.digest(b"another message"), &signature),
            Err(PubKeyError::BadSignature)
        );
    }
}

#[test]
fn ecdsa_signatures_may_be_raw_r_s() {
    let rng = SystemRandom::new();
    for (fixed, algorithm) in [
        (
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        ),
        (
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        ),
        (
            &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
            &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
        ),
    ] {
        let pkcs8 = ecdsa(algorithm).to_pkcs8v1().unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(fixed, pkcs8.as_ref()).unwrap();
        let key = PublicKey::parse(&spki_of(&pair)).unwrap();
        let hash = match key.algorithm() {
            KeyAlgorithm::EcdsaP256 => HashAlgorithm::Sha256,
            KeyAlgorithm::EcdsaP384 => HashAlgorithm::Sha384,
            _ => HashAlgorithm::Sha512,
        };
        let signature = pair.sign(&rng, b"token subject").unwrap();
        key.verify(hash, b"token subject", signature.as_ref())
            .unwrap();
        let truncated = &signature.as_ref()[1..];
        assert_eq!(
            key.verify(hash, b"token subject", truncated),
            Err(PubKeyError::BadSignature)
        );
    }
}

/// Ed25519 SPKI around a raw 32-byte key.
fn ed25519_spki(raw: &[u8]) -> Vec<u8> {
    spki(&[0x06, 0x03, 0x2b, 0x65, 0x70], raw)
}

#[test]
fn ed25519ph_matches_rfc8032_test_vector() {
    // RFC 8032 section 7.3, "TEST abc".
    let public =
        hex::decode("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf").unwrap();
    let signature = hex::decode(
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
         31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
    )
    .unwrap();
    let key = PublicKey::parse(&ed25519_spki(&public)).unwrap();
    let digest = HashAlgorithm::Sha512.digest(b"abc");
    key.verify_digest(HashAlgorithm::Sha512, &digest, &signature)
        .unwrap();
    let other = HashAlgorithm::Sha512.digest(b"abd");
    assert_eq!(
        key.verify_digest(HashAlgorithm::Sha512, &other, &signature),
        Err(PubKeyError::BadSignature)
    );
    // Pure Ed25519 over the message is a different signature scheme.
    assert_eq!(
        key.verify(HashAlgorithm::Sha512, b"abc", &signature),
        Err(PubKeyError::BadSignature)
    );
    assert_eq!(
        key.verify_digest(HashAlgorithm::Sha256, &digest[..32], &signature),
        Err(PubKeyError::Ed25519phHash(HashAlgorithm::Sha256))
    );
    assert_eq!(
        key.verify_digest(HashAlgorithm::Sha512, &digest[..32], &signature),
        Err(PubKeyError::DigestLength {
            hash: HashAlgorithm::Sha512,
            expected: 64,
            actual: 32
        })
    );
    assert_eq!(
        key.verify_digest(HashAlgorithm::Sha512, &digest, &signature[..63]),
        Err(PubKeyError::BadSignature)
    );
}

#[test]
fn canonical_pem_and_fingerprint_follow_rekor() {
    let pair = ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING);
    let der = spki_of(&pair);
    let canonical = pem("PUBLIC KEY", &der);
    // Go's layout: 64-column lines, LF, final newline.
    let lines: Vec<&str> = canonical.lines().collect();
    assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
    assert_eq!(lines[1].len(), 64);
    assert!(canonical.ends_with("\n-----END PUBLIC KEY-----\n"));

    // CRLF, other line widths, surrounding blanks and DER all canonicalize alike.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let (head, tail) = b64.split_at(10);
    let sloppy = format!(
        "\r\n  -----BEGIN PUBLIC KEY-----\r\n{head}\r\n{tail}\r\n-----END PUBLIC KEY-----\r\n\r\n"
    );
    for input in [canonical.as_bytes(), sloppy.as_bytes(), &der] {
        let key = PublicKey::parse(input).unwrap();
        assert_eq!(key.canonical_pem(), canonical);
        assert_eq!(key.spki_der(), der.as_slice());
        assert_eq!(
            key.fingerprint(),
            hex::encode(HashAlgorithm::Sha256.digest(canonical.as_bytes()))
        );
        assert!(key.subjects().is_empty());
    }
}

#[test]
fn certificates_give_their_key_and_identities() {
    use rcgen::{CertificateParams, OtherNameValue, SanType};
    let pair = ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING);
    let signer = rcgen::KeyPair::try_from(pair.to_pkcs8v1().unwrap().as_ref()).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![
        SanType::URI(
            "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main"
                .try_into()
                .unwrap(),
        ),
        SanType::Rfc822Name("Alice@Example.COM".try_into().unwrap()),
        SanType::DnsName("build.example.com".try_into().unwrap()),
        SanType::IpAddress("10.0.0.1".parse().unwrap()),
        SanType::IpAddress("2001:db8::1".parse().unwrap()),
        SanType::OtherName((
            vec![1, 3, 6, 1, 4, 1, 57264, 1, 7],
            OtherNameValue::Utf8String("alice!example".into()),
        )),
    ];
    let cert = params.self_signed(&signer).unwrap();
    let key = PublicKey::parse(cert.pem().as_bytes()).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(key.spki_der(), spki_of(&pair).as_slice());
    assert_eq!(key.certificate_der(), Some(cert.der().as_ref()));
    assert_eq!(key.canonical_pem(), pem("CERTIFICATE", cert.der()));
    assert_eq!(key.email_addresses(), ["alice@example.com"]);
    assert_eq!(
        key.uris(),
        ["https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main"]
    );
    assert_eq!(
        key.subjects(),
        [
            "build.example.com",
            "Alice@Example.COM",
            "10.0.0.1",
            "2001:db8::1",
            "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main",
            "alice!example",
        ]
    );
    let der_key = PublicKey::parse(cert.der()).unwrap();
    assert_eq!(der_key, key);

    let signature = pair
        .sign(&SystemRandom::new(), b"alice@example.com")
        .unwrap();
    key.verify(
        HashAlgorithm::Sha256,
        b"alice@example.com",
        signature.as_ref(),
    )
    .unwrap();
}

fn parse_err(input: &[u8]) -> String {
    PublicKey::parse(input).unwrap_err().to_string()
}

#[test]
fn rejections_say_what_is_wrong() {
    assert_eq!(
        parse_err(pem("PUBLIC KEY", &rsa_spki(1024, &[1, 0, 1])).as_bytes()),
        "RSA key of 1024 bits is too weak: 2048 to 4096 bits are accepted"
    );
    assert_eq!(
        parse_err(&rsa_spki(2047, &[1, 0, 1])),
        "RSA key of 2047 bits is too weak: 2048 to 4096 bits are accepted"
    );
    assert_eq!(
        parse_err(&rsa_spki(8192, &[1, 0, 1])),
        "RSA key of 8192 bits is an unsupported key size: 2048 to 4096 bits are accepted"
    );
    for (exponent, shown) in [
        (&[1, 0, 0][..], "65536"),
        (&[1], "1"),
        (&[2, 0, 0, 0, 0, 1], "2199023255553"),
        (&[1; 9], "of 65 bits"),
    ] {
        assert_eq!(
            parse_err(&rsa_spki(2048, exponent)),
            format!(
                "RSA public exponent {shown} is not accepted: it must be odd, at least 3 and below 2^33"
            )
        );
    }
    assert_eq!(
        parse_err(
            b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
        ),
        "PEM block is a CERTIFICATE REQUEST, expected PUBLIC KEY or CERTIFICATE"
    );
    assert_eq!(
        parse_err(b"-----BEGIN EC PRIVATE KEY-----\nMIIB\n-----END EC PRIVATE KEY-----\n"),
        "PEM block is a EC PRIVATE KEY: send the public key or a certificate, never the private key"
    );
    let one = pem(
        "PUBLIC KEY",
        &spki_of(&ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING)),
    );
    assert_eq!(
        parse_err(format!("{one}{one}").as_bytes()),
        PubKeyError::MultiplePemBlocks.to_string()
    );
    assert_eq!(parse_err(b"  \n"), "public key is empty");
    assert_eq!(
        parse_err(b"ssh-ed25519 AAAA"),
        PubKeyError::NotPemOrDer.to_string()
    );
    assert_eq!(
        parse_err(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        PubKeyError::UnrecognizedDer.to_string()
    );
    assert!(
        parse_err(b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n")
            .starts_with("malformed PEM: invalid base64")
    );
    assert_eq!(
        parse_err(b"-----BEGIN PUBLIC KEY-----\nAAAA\n"),
        "malformed PEM: no END line for PUBLIC KEY"
    );

    let secp256k1 = spki(
        &[OID_EC, &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]].concat(),
        &[4; 65],
    );
    assert_eq!(
        parse_err(&secp256k1),
        "unsupported elliptic curve secp256k1: ECDSA keys must use P-256, P-384 or P-521"
    );
    let compressed = spki(&[OID_EC, OID_P256].concat(), &[2; 33]);
    assert_eq!(
        parse_err(&compressed),
        PubKeyError::CompressedPoint.to_string()
    );
    let off_curve = spki(&[OID_EC, OID_P256].concat(), &[4; 65]);
    assert!(parse_err(&off_curve).starts_with("public key rejected: "));
    let ed448 = spki(&[0x06, 0x03, 0x2b, 0x65, 0x71], &[7; 57]);
    assert_eq!(
        parse_err(&ed448),
        "unsupported key type Ed448: ECDSA P-256, P-384, P-521, Ed25519 and RSA 2048 to 4096 bits are accepted"
    );
}

#[test]
fn never_panics_on_mangled_input() {
    let pair = ecdsa(&sig::ECDSA_P384_SHA384_ASN1_SIGNING);
    let der = spki_of(&pair);
    let text = pem("PUBLIC KEY", &der);
    for cut in 0..der.len() {
        let _ = PublicKey::parse(&der[..cut]);
        let mut flipped = der.clone();
        flipped[cut] ^= 0x41;
        let _ = PublicKey::parse(&flipped);
    }
    for cut in 0..text.len() {
        let _ = PublicKey::parse(&text.as_bytes()[..cut]);
    }
    let key = PublicKey::parse(&der).unwrap();
    for len in [0, 1, 2, 95, 96, 97, 200] {
        let junk = vec![0x30; len];
        let _ = key.verify(HashAlgorithm::Sha384, b"m", &junk);
        let _ = key.verify_digest(HashAlgorithm::Sha384, &[0; 48], &junk);
    }
    assert!(ecdsa_fixed_to_der(&[0; 64], 32).is_some());
    assert!(
        key.verify_digest(HashAlgorithm::Sha384, &[0; 48], &[0; 96])
            .is_err()
    );
}
