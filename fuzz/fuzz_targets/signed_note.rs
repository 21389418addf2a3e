//! Signed notes (checkpoints) as the monitor reads them from a log or a
//! witness file.
#![no_main]

use std::sync::{Arc, OnceLock};

use atesto_common::keys::{KeyType, PrivateKey};
use atesto_common::pubkey::PublicKey;
use atesto_monitor::TrustedKeys;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static TrustedKeys {
    static KEYS: OnceLock<TrustedKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = Arc::new(PrivateKey::generate(KeyType::EcdsaP256).expect("key"));
        let public = PublicKey::from_spki_der(&key.public_key_der()).expect("public key");
        TrustedKeys::new(vec![public])
    })
}

fuzz_target!(|input: &[u8]| {
    let Ok(note) = std::str::from_utf8(input) else {
        return;
    };
    let _ = atesto_monitor::checkpoint::verify_checkpoint(note, keys());
    let _ = atesto_common::note::first_signature_only(note);
});
