//! A Rekor v1 entry proposal (hashedrekord, dsse, ...) as a client posts it:
//! parsed, checked and canonicalised. Any input must give an entry or an
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(entry) = atesto_rekor_v1::entry::prepare(body) {
        // The stored body is RFC 8785 JSON: it must at least be JSON.
        assert!(serde_json::from_slice::<serde_json::Value>(&entry.body).is_ok());
    }
});
