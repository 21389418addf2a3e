//! A timestamp request (`POST /api/v1/timestamp`), DER or JSON, parsed and,
//! when accepted, timestamped by a TSA made once from `atesto tsa init`.
//! Three forms per input:
//!
//! - the input as a DER `TimeStampReq` and as a JSON request: any bytes give
//!   a request or a refusal, never a panic;
//! - a DER `TimeStampReq` built around the input: the first byte chooses the
//!   hash OID, whether the algorithm carries NULL parameters, a policy, a
//!   nonce, certReq and an extension; the rest is the imprint's digest and
//!   the nonce, so the checks past the DER run too.
//!
//! An accepted request is timestamped or refused for its policy alone, and
//! a reply is a granted TimeStampResp whose TSTInfo repeats the request's
//! imprint and nonce.
#![no_main]

use std::sync::OnceLock;

use atesto_ca::issuance::InitOptions;
use atesto_tsa::config::TsaConfig;
use atesto_tsa::init::init_chain;
use atesto_tsa::request::TimestampRequest;
use atesto_tsa::{Tsa, TsaError};
use cmpv2::status::PkiStatus;
use der::{Decode, Encode};
use libfuzzer_sys::fuzz_target;
use x509_tsp::{TimeStampResp, TstInfo};

/// sigstore's policy, the TSA's default, and one it does not accept.
const POLICIES: [&[u8]; 2] = [
    &[
        0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x02,
    ],
    &[0x06, 0x03, 0x2a, 0x03, 0x04],
];
/// SHA-256, SHA-384, SHA-512, SHA-1 and an unknown OID, as DER OIDs.
const HASHES: [&[u8]; 5] = [
    &[
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ],
    &[
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
    ],
    &[
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
    ],
    &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a],
    &[0x06, 0x03, 0x2a, 0x03, 0x05],
];
/// The digest length of each of `HASHES` (the unknown OID gets SHA-256's).
const DIGEST_LENS: [usize; 5] = [32, 48, 64, 20, 32];

fn tsa() -> &'static Tsa {
    static TSA: OnceLock<Tsa> = OnceLock::new();
    TSA.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("atesto-fuzz-tsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let output = init_chain(
            &dir,
            &InitOptions {
                p384: false,
                organization: "Atesto fuzz".into(),
                common_name: "atesto fuzz".into(),
                validity_years: 1,
                password_env: None,
            },
        )
        .expect("a TSA chain");
        let mut config = TsaConfig::new(output.signer_config);
        config.base_dir = dir.clone();
        let tsa = Tsa::open(&config).expect("the TSA opens");
        let _ = std::fs::remove_dir_all(&dir);
        tsa
    })
}

/// DER tag-length-value (the lengths here stay below 64 KiB).
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match value.len() {
        len @ 0..=0x7f => out.push(len as u8),
        len @ 0x80..=0xff => out.extend([0x81, len as u8]),
        len => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(value);
    out
}

/// A TimeStampReq around `rest`, shaped by `choice`.
fn built_request(choice: u8, rest: &[u8]) -> Vec<u8> {
    let hash = HASHES[usize::from(choice % 5)];
    let digest_len = DIGEST_LENS[usize::from(choice % 5)];
    // One in eight digests is a byte short: a length the algorithm does not have.
    let digest_len = digest_len - usize::from(choice & 0x38 == 0x38);
    let (digest, nonce) = rest.split_at(rest.len().min(digest_len));
    let mut algorithm = hash.to_vec();
    if choice & 0x08 != 0 {
        algorithm.extend([0x05, 0x00]);
    }
    let mut imprint = tlv(0x30, &algorithm);
    imprint.extend(tlv(0x04, digest));
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend(tlv(0x30, &imprint));
    if choice & 0x10 != 0 {
        body.extend_from_slice(POLICIES[usize::from(choice >> 7)]);
    }
    if choice & 0x20 != 0 && !nonce.is_empty() {
        body.extend(tlv(0x02, &nonce[..nonce.len().min(32)]));
    }
    if choice & 0x40 != 0 {
        body.extend([0x01, 0x01, 0xff]);
    }
    if choice & 0x07 == 0x07 {
        // [0] Extensions holding one empty-valued extension.
        body.extend(tlv(
            0xa0,
            &tlv(
                0x30,
                &tlv(0x30, &[0x06, 0x03, 0x2a, 0x03, 0x06, 0x04, 0x00]),
            ),
        ));
    }
    tlv(0x30, &body)
}

/// Timestamps an accepted request: granted, with its imprint and nonce.
fn timestamp(request: &TimestampRequest) {
    let reply = match tsa().timestamp(request) {
        Ok(reply) => reply,
        Err(TsaError::BadRequest(message)) => {
            assert!(message.contains("policy"), "refused for {message}");
            return;
        }
        Err(other) => panic!("an accepted request failed: {other}"),
    };
    let response = TimeStampResp::from_der(&reply).expect("a DER TimeStampResp");
    assert_eq!(
        reply,
        response.to_der().expect("re-encoded"),
        "the reply is DER"
    );
    assert_eq!(response.status.status, PkiStatus::Accepted);
    let token = response
        .time_stamp_token
        .expect("a granted reply has a token");
    let signed = token
        .content
        .decode_as::<cms::signed_data::SignedData>()
        .expect("the token is a SignedData");
    let content = signed
        .encap_content_info
        .econtent
        .expect("the TSTInfo is encapsulated");
    let info = TstInfo::from_der(content.value()).expect("a DER TSTInfo");
    assert_eq!(info.message_imprint, request.imprint);
    assert_eq!(info.nonce, request.nonce);
    assert_eq!(
        signed.certificates.is_some(),
        request.cert_req,
        "the certificate is there exactly when asked for"
    );
}

fuzz_target!(|input: &[u8]| {
    for parsed in [
        TimestampRequest::from_der(input),
        TimestampRequest::from_json(input),
    ] {
        match parsed {
            Ok(request) => timestamp(&request),
            Err(TsaError::BadRequest(_)) => {}
            Err(other) => panic!("a request was refused as other than bad: {other}"),
        }
    }
    let Some((&choice, rest)) = input.split_first() else {
        return;
    };
    let built = built_request(choice, rest);
    match TimestampRequest::from_der(&built) {
        Ok(request) => timestamp(&request),
        Err(TsaError::BadRequest(message)) => assert!(
            !well_formed(choice, rest),
            "a well-formed request was refused: {message}"
        ),
        Err(other) => panic!("a built request was refused as other than bad: {other}"),
    }
});

/// Whether `built_request(choice, rest)` is right in every field the
/// parser checks: a SHA-2 digest of its length, no extension, and a nonce,
/// if any, in minimal DER.
fn well_formed(choice: u8, rest: &[u8]) -> bool {
    let hash = usize::from(choice % 5);
    let digest_len = DIGEST_LENS[hash];
    let nonce = rest.get(digest_len..).unwrap_or_default();
    let nonce = &nonce[..nonce.len().min(32)];
    hash < 3
        && choice & 0x38 != 0x38
        && rest.len() >= digest_len
        && choice & 0x07 != 0x07
        && (choice & 0x20 == 0 || nonce.is_empty() || minimal_integer(nonce))
}

/// DER's rule for INTEGER contents: no leading byte that only repeats the sign.
fn minimal_integer(bytes: &[u8]) -> bool {
    match bytes {
        [0x00, next, ..] => next & 0x80 != 0,
        [0xff, next, ..] => next & 0x80 == 0,
        _ => true,
    }
}
