//! Certificate chains as `add-chain` and `add-pre-chain` receive them: the
//! input is split into DER certificates by one length byte pair each.
#![no_main]

use atesto_ct_log::chain::{self, Root, Submission, VerifiedSignatures};
use libfuzzer_sys::fuzz_target;

fn split(mut input: &[u8]) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    while input.len() >= 2 {
        let length = usize::from(u16::from_be_bytes([input[0], input[1]]));
        let rest = &input[2..];
        let taken = length.min(rest.len());
        parts.push(rest[..taken].to_vec());
        input = &rest[taken..];
    }
    parts
}

fuzz_target!(|input: &[u8]| {
    let parts = split(input);
    // The last part also plays the root the chain must end in.
    let roots: Vec<Root> = parts
        .last()
        .and_then(|der| Root::from_der(der.clone()).ok())
        .into_iter()
        .collect();
    let verified = VerifiedSignatures::default();
    let _ = chain::check(&roots, &verified, parts.clone(), Submission::Final);
    let _ = chain::check(&roots, &verified, parts, Submission::Precert);
});
