//! Public keys and certificates, PEM or DER, as entries and requests carry
//! them.
#![no_main]

use atesto_common::pubkey::PublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(key) = PublicKey::parse(input) {
        // A parsed key re-parses from its canonical PEM to the same key.
        let again = PublicKey::parse(key.canonical_pem().as_bytes()).expect("canonical PEM");
        assert_eq!(again.spki_der(), key.spki_der());
    }
    let _ = PublicKey::from_spki_der(input);
    let _ = PublicKey::from_certificate_der(input);
    if let Ok(text) = std::str::from_utf8(input) {
        let _ = atesto_common::pem::certificates(text);
    }
});
