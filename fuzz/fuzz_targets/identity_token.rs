//! Identity tokens through the CA's verifier, up to and including the
//! signature check, against an issuer with a static key set (no network).
#![no_main]

use std::sync::OnceLock;

use atesto_ca::identity::dev_issuer::DevIssuer;
use atesto_ca::identity::{IdentityVerifier, IssuerConfig, VerifierOptions};
use libfuzzer_sys::fuzz_target;

struct Setup {
    runtime: tokio::runtime::Runtime,
    verifier: IdentityVerifier,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let issuer = DevIssuer::new("https://issuer.fuzz".into());
        let jwks = std::env::temp_dir().join(format!("atesto-fuzz-jwks-{}.json", std::process::id()));
        std::fs::write(&jwks, issuer.jwks_json().to_string()).expect("write JWKS");
        let config = serde_json::json!({
            "OIDCIssuers": {
                "https://issuer.fuzz": {"ClientID": "sigstore", "Type": "email", "JWKSFile": jwks}
            },
            "MetaIssuers": {
                "https://*.fuzz/*-*-*/z": {"ClientID": "sigstore", "Type": "email"}
            }
        });
        let config = IssuerConfig::from_str(&config.to_string()).expect("issuer config");
        let verifier = IdentityVerifier::new(config, VerifierOptions::default()).expect("verifier");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        Setup { runtime, verifier }
    })
}

fuzz_target!(|input: &[u8]| {
    let Ok(token) = std::str::from_utf8(input) else {
        return;
    };
    let setup = setup();
    // Meta-issuer matches would fetch keys over the network: the issuer is
    // not resolvable, and the verifier answers with an error, not a panic.
    let _ = setup.runtime.block_on(setup.verifier.verify(token));
});
