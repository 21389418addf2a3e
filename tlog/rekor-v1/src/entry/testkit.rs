//! Keys, signatures and requests for the entry tests.

use std::sync::OnceLock;

use atesto_common::pubkey::HashAlgorithm;
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::json;

/// A real 1024-bit RSA key: too weak to be accepted.
pub const RSA_1024_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDiSmwDGT+GpGRfcOirQBWrIG9N
Ns1wC3xnIGgl42L5h/u2c/rHdx1mNcfjp6UA2/39IIbwb9ET9y/7HwQB3f9GcvFT
GpnU+ZmNYgAj+oYe1/r4s+Y0SZ4SzENx1dfF9P0icr0CRaRX3Bp9FmC8KlOP5wQI
JMN/1Tf8V86Juy/9dwIDAQAB
-----END PUBLIC KEY-----
";

pub enum Signer {
    Ecdsa(EcdsaKeyPair),
    /// aws-lc's 64-byte private key (seed || public) and the public key.
    Ed25519([u8; 64], [u8; 32]),
    Rsa(&'static RsaKeyPair),
}

pub fn p256() -> Signer {
    Signer::Ecdsa(EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap())
}

pub fn p384() -> Signer {
    Signer::Ecdsa(EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_ASN1_SIGNING).unwrap())
}

pub fn p521() -> Signer {
    Signer::Ecdsa(EcdsaKeyPair::generate(&sig::ECDSA_P521_SHA512_ASN1_SIGNING).unwrap())
}

pub fn ed25519() -> Signer {
    let (mut public, mut private) = ([0u8; 32], [0u8; 64]);
    // SAFETY: the buffers have the sizes aws-lc writes (32 and 64 bytes).
    unsafe { aws_lc_sys::ED25519_keypair(public.as_mut_ptr(), private.as_mut_ptr()) };
    Signer::Ed25519(private, public)
}

/// RSA generation is slow in debug builds: one shared key per size.
pub fn rsa(bits: usize) -> Signer {
    static KEYS: OnceLock<[RsaKeyPair; 3]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        [KeySize::Rsa2048, KeySize::Rsa3072, KeySize::Rsa4096]
            .map(|size| RsaKeyPair::generate(size).unwrap())
    });
    Signer::Rsa(match bits {
        2048 => &keys[0],
        3072 => &keys[1],
        _ => &keys[2],
    })
}

fn hash_alg(hash: HashAlgorithm) -> &'static digest::Algorithm {
    match hash {
        HashAlgorithm::Sha256 => &digest::SHA256,
        HashAlgorithm::Sha384 => &digest::SHA384,
        HashAlgorithm::Sha512 => &digest::SHA512,
    }
}

fn rsa_encoding(hash: HashAlgorithm) -> &'static dyn sig::RsaEncoding {
    match hash {
        HashAlgorithm::Sha256 => &sig::RSA_PKCS1_SHA256,
        HashAlgorithm::Sha384 => &sig::RSA_PKCS1_SHA384,
        HashAlgorithm::Sha512 => &sig::RSA_PKCS1_SHA512,
    }
}

impl Signer {
    pub fn spki_der(&self) -> Vec<u8> {
        match self {
            Signer::Ecdsa(k) => k.public_key().as_der().unwrap().as_ref().to_vec(),
            Signer::Rsa(k) => k.public_key().as_der().unwrap().as_ref().to_vec(),
            Signer::Ed25519(_, public) => {
                let mut der = hex::decode("302a300506032b6570032100").unwrap();
                der.extend_from_slice(public);
                der
            }
        }
    }

    pub fn pem(&self) -> String {
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.spki_der())
            .unwrap()
    }

    /// PKCS#8 of an ECDSA key, for rcgen.
    pub fn pkcs8(&self) -> Vec<u8> {
        match self {
            Signer::Ecdsa(k) => k.to_pkcs8v1().unwrap().as_ref().to_vec(),
            _ => unimplemented!("only ECDSA keys sign test certificates"),
        }
    }

    /// A signature over a digest: ECDSA (the key's own hash), RSA
    /// PKCS#1 v1.5, or Ed25519ph (SHA-512 only).
    pub fn sign_digest(&self, hash: HashAlgorithm, digest: &[u8]) -> Vec<u8> {
        match self {
            Signer::Ecdsa(k) => {
                let digest = Digest::import_less_safe(digest, hash_alg(hash)).unwrap();
                k.sign_digest(&digest).unwrap().as_ref().to_vec()
            }
            Signer::Rsa(k) => {
                let digest = Digest::import_less_safe(digest, hash_alg(hash)).unwrap();
                let mut out = vec![0; k.public_modulus_len()];
                k.sign_digest(rsa_encoding(hash), &digest, &mut out)
                    .unwrap();
                out
            }
            Signer::Ed25519(private, _) => {
                let mut out = [0u8; 64];
                let context: [u8; 0] = [];
                // SAFETY: 64-byte signature buffer, 64-byte digest (checked by
                // try_into), 64-byte private key, empty context.
                let digest: &[u8; 64] = digest.try_into().unwrap();
                let ok = unsafe {
                    aws_lc_sys::ED25519ph_sign_digest(
                        out.as_mut_ptr(),
                        digest.as_ptr(),
                        private.as_ptr(),
                        context.as_ptr(),
                        0,
                    )
                };
                assert_eq!(ok, 1);
                out.to_vec()
            }
        }
    }

    /// A signature over a message: ECDSA (P-256 keys only) and RSA with
    /// SHA-256, what dsse verifies with; pure Ed25519.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Signer::Ecdsa(_) => {
                let digest = digest::digest(&digest::SHA256, message);
                self.sign_digest(HashAlgorithm::Sha256, digest.as_ref())
            }
            Signer::Rsa(k) => {
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(
                    &sig::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut out,
                )
                .unwrap();
                out
            }
            Signer::Ed25519(private, _) => {
                let mut out = [0u8; 64];
                // SAFETY: 64-byte signature buffer, the message slice with its
                // length, 64-byte private key.
                let ok = unsafe {
                    aws_lc_sys::ED25519_sign(
                        out.as_mut_ptr(),
                        message.as_ptr(),
                        message.len(),
                        private.as_ptr(),
                    )
                };
                assert_eq!(ok, 1);
                out.to_vec()
            }
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    super::fields::encode_base64(bytes)
}

/// A hashedrekord ProposedEntry.
pub fn hashedrekord(algorithm: &str, value: &str, signature: &[u8], key: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "kind": "hashedrekord",
        "apiVersion": "0.0.1",
        "spec": {
            "data": {"hash": {"algorithm": algorithm, "value": value}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(key)}},
        },
    }))
    .unwrap()
}
