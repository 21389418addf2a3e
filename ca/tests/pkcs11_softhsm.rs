//! The CA key on a SoftHSM2 token: a P-256 key imported into a fresh token,
//! an intermediate certificate for it signed by a file root, then a
//! CertificateIssuer loaded with `pkcs11` issues a leaf that verifies.
//! Fails (does not skip) when SoftHSM2 is missing: CI installs `softhsm2`.

mod support;

use atesto_ca::issuance::{CertificateIssuer, IssuanceError, Pkcs11Config, SignerConfig};
use atesto_test_support::softhsm::{MODULE, SoftHsm, USER_PIN};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use x509_parser::prelude::*;

use support::*;

const TOKEN: &str = "atesto-ca-test";
const KEY_LABEL: &str = "ca-intermediate";
const PIN_ENV: &str = "ATESTO_CA_TEST_HSM_PIN";

fn ca_params(name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

#[test]
fn issues_with_a_softhsm_key() {
    let dir = tempfile::tempdir().unwrap();
    let hsm = SoftHsm::init(dir.path(), TOKEN);
    // SAFETY: this test binary has this one test; nothing else reads the env.
    unsafe {
        std::env::set_var("SOFTHSM2_CONF", &hsm.conf);
        std::env::set_var(PIN_ENV, USER_PIN);
    }

    // The intermediate key, imported into the token (private and public objects).
    let intermediate_key = KeyPair::generate().unwrap();
    let key_file = dir.path().join("key.pem");
    std::fs::write(&key_file, intermediate_key.serialize_pem()).unwrap();
    hsm.import(&key_file, KEY_LABEL, "01");
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
