//! HTTP tests of `atesto ca` as clients see it: a real CA child process, a
//! real `atesto ct` child for its SCTs, development OIDC issuers on loopback.
//! One test per refusal, each checking the message names the failed check
//! and never echoes the token.

#[path = "../support/mod.rs"]
mod support;

mod issuance;
mod refusals;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

use atesto_ca::identity::dev_issuer::DEV_GITHUB_SHA;
use atesto_test_support::der::tlv;
use support::ca::*;
use support::*;

const SCT_LIST_OID: &str = "1.3.6.1.4.1.11129.2.4.2";

/// The DER of every CERTIFICATE block in `text`.
fn pem_blocks(text: &str) -> Vec<Vec<u8>> {
    text.split_inclusive("-----END CERTIFICATE-----")
        .filter(|block| block.contains("BEGIN CERTIFICATE"))
        .map(|block| {
            let start = block.find("-----BEGIN").unwrap();
            pem_rfc7468::decode_vec(&block.as_bytes()[start..])
                .unwrap()
                .1
        })
        .collect()
}

/// The embedded chain of a v2 reply, as DER.
fn embedded_chain(reply: &Reply) -> Vec<Vec<u8>> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    let certificates = body["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no embedded chain: {body}"));
    certificates
        .iter()
        .flat_map(|pem| pem_blocks(pem.as_str().unwrap()))
        .collect()
}

/// The log ids of the SCTs embedded in a certificate.
fn sct_log_ids(cert: &X509Certificate<'_>) -> Vec<Vec<u8>> {
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == SCT_LIST_OID)
        .expect("SCT list extension");
    // OCTET STRING { u16 list length, u16 sct length, sct ... }
    let (_, inner) = x509_parser::der_parser::der::parse_der_octetstring(ext.value).unwrap();
    let list = inner.as_slice().unwrap();
    let mut rest = &list[2..];
    let mut ids = Vec::new();
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let sct = &rest[2..2 + len];
        ids.push(sct[1..33].to_vec());
        rest = &rest[2 + len..];
    }
    ids
}

fn spki_der_of_pem(pem: &str) -> Vec<u8> {
    pem_rfc7468::decode_vec(pem.trim().as_bytes()).unwrap().1
}

/// A DER SubjectPublicKeyInfo of an RSA key with a `bits`-bit modulus.
fn rsa_spki(bits: usize) -> Vec<u8> {
    let mut modulus = vec![0u8];
    modulus.push(0xc3);
    modulus.extend(std::iter::repeat_n(0x5a, bits / 8 - 2));
    modulus.push(0x01);
    let key = tlv(0x30, &[tlv(0x02, &modulus), tlv(0x02, &[1, 0, 1])].concat());
    let algorithm = tlv(
        0x30,
        &[
            tlv(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let mut bit_string = vec![0u8];
    bit_string.extend(key);
    tlv(0x30, &[algorithm, tlv(0x03, &bit_string)].concat())
}
