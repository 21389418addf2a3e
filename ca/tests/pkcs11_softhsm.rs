//! The CA key on a SoftHSM2 token: a P-256 key imported into a fresh token,
//! an intermediate certificate for it signed by a file root, then a
//! CertificateIssuer loaded with `pkcs11` issues a leaf that verifies.
//! Fails (does not skip) when SoftHSM2 is missing: CI installs `softhsm2`.

mod support;

use std::path::Path;
use std::process::Command;

use atesto_ca::issuance::{CertificateIssuer, IssuanceError, Pkcs11Config, SignerConfig};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use x509_parser::prelude::*;

use support::*;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN: &str = "atesto-ca-test";
const KEY_LABEL: &str = "ca-intermediate";
const PIN_ENV: &str = "ATESTO_CA_TEST_HSM_PIN";

fn softhsm_util(args: &[&str]) {
    let output = Command::new("softhsm2-util")
        .args(args)
        .output()
        .expect("softhsm2-util is not installed: apt-get install softhsm2");
    assert!(
        output.status.success(),
        "softhsm2-util {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn ca_params(name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

#[test]
fn issues_with_a_softhsm_key() {
    assert!(
        Path::new(MODULE).exists(),
        "SoftHSM2 module {MODULE} is missing: install the Debian package softhsm2"
    );
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    // SAFETY: this test binary has this one test; nothing else reads the env.
    unsafe {
        std::env::set_var("SOFTHSM2_CONF", &conf);
        std::env::set_var(PIN_ENV, "5678");
    }
    softhsm_util(&[
        "--init-token",
        "--free",
        "--label",
        TOKEN,
        "--so-pin",
        "1234",
        "--pin",
        "5678",
    ]);

    // The intermediate key, imported into the token (private and public objects).
    let intermediate_key = KeyPair::generate().unwrap();
    let key_file = dir.path().join("key.pem");
    std::fs::write(&key_file, intermediate_key.serialize_pem()).unwrap();
    softhsm_util(&[
        "--import",
        key_file.to_str().unwrap(),
        "--token",
        TOKEN,
        "--label",
        KEY_LABEL,
        "--id",
        "01",
        "--pin",
        "5678",
    ]);
    std::fs::remove_file(&key_file).unwrap();

    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params("hsm test root", BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key).unwrap();
    let mut params = ca_params("hsm test intermediate", BasicConstraints::Constrained(0));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    params.use_authority_key_identifier_extension = true;
    let intermediate = params
        .signed_by(
            &intermediate_key,
            &Issuer::from_params(&root_params, &root_key),
        )
        .unwrap();
    let chain = dir.path().join("chain.pem");
    std::fs::write(&chain, format!("{}{}", intermediate.pem(), root.pem())).unwrap();

    let config = SignerConfig {
        chain: chain.clone(),
        key: None,
        key_password_env: None,
        pkcs11: Some(Pkcs11Config {
            module: MODULE.into(),
            token_label: TOKEN.into(),
            pin_env: PIN_ENV.into(),
            key_label: KEY_LABEL.into(),
        }),
    };
    let issuer = CertificateIssuer::load(&config, dir.path()).unwrap();
    assert_eq!(
        issuer.issuer_spki_der(),
        intermediate_key.subject_public_key_info().as_slice()
    );

    // Several threads sign at once through the session pool.
    let leaves: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    issuer
                        .issue_without_sct(&client_spki(), &github_principal())
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (_, ca_cert) = X509Certificate::from_der(&issuer.chain_der()[0]).unwrap();
    for leaf in &leaves {
        let (_, leaf) = X509Certificate::from_der(leaf).unwrap();
        assert_eq!(leaf.issuer().as_raw(), ca_cert.subject().as_raw());
        leaf.verify_signature(Some(ca_cert.public_key())).unwrap();
        // Verified again by RustCrypto p256, independent of aws-lc.
        assert!(p256_verify(
            issuer.issuer_spki_der(),
            leaf.tbs_certificate.as_ref(),
            &leaf.signature_value.data
        ));
    }

    // A token key that is not the certificate's is refused at start.
    let other = KeyPair::generate().unwrap();
    let other_intermediate = params
        .signed_by(&other, &Issuer::from_params(&root_params, &root_key))
        .unwrap();
    std::fs::write(
        &chain,
        format!("{}{}", other_intermediate.pem(), root.pem()),
    )
    .unwrap();
    let err = CertificateIssuer::load(&config, dir.path()).err().unwrap();
    assert!(
        matches!(err, IssuanceError::KeyDoesNotMatchCertificate),
        "{err}"
    );

    // A label that is not on the token is named in the error.
    let mut missing = config.clone();
    if let Some(pkcs11) = missing.pkcs11.as_mut() {
        pkcs11.key_label = "absent".into();
    }
    let err = CertificateIssuer::load(&missing, dir.path()).err().unwrap();
    assert!(err.to_string().contains("absent"), "{err}");
}
