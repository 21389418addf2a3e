//! Issuance end to end: a CA from `init_chain`, the repo's CT log in-process,
//! the final certificate checked field by field with x509-parser and its SCT
//! verified with RustCrypto p256 over an input rebuilt from RFC 6962.

mod support;

use std::path::Path;

use atesto_ca::ct_client::{CtClientError, CtLogClient};
use atesto_ca::issuance::{CertificateIssuer, IssuanceError, SignerConfig};
use atesto_ca::principal::{Principal, SubjectAltName};
use atesto_common::ct::Sct;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::*;

use support::*;

const SCT_LIST_OID: &str = "1.3.6.1.4.1.11129.2.4.2";
const POISON_OID: &str = "1.3.6.1.4.1.11129.2.4.3";

fn extension<'a>(cert: &'a X509Certificate<'a>, oid: &str) -> &'a X509Extension<'a> {
    cert.extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == oid)
        .unwrap_or_else(|| panic!("no extension {oid}"))
}

#[tokio::test]
async fn final_certificate_profile_with_a_real_sct() {
    let dir = tempfile::tempdir().unwrap();
    let ca = init_ca(dir.path(), false, None);
    let issuer = load_issuer(&ca);
    let ct = start_ct_log(&ca.root_cert).await;
    let client = CtLogClient::new(&ct.url, &ct.public_key_pem, reqwest::Client::new()).unwrap();

    let subject_spki = client_spki();
    let principal = github_principal();
    let precert = issuer.precertificate(&subject_spki, &principal).unwrap();
    let sct = client
        .add_pre_chain(&precert, issuer.chain_der())
        .await
        .unwrap();
    let precert_der = precert.der().to_vec();
    let leaf_der = issuer.finish(precert, &sct).unwrap();

    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    let (_, ca_cert) = X509Certificate::from_der(&issuer.chain_der()[0]).unwrap();
    assert_eq!(leaf.version(), X509Version::V3);
    assert!(leaf.subject().as_raw().len() == 2, "empty subject SEQUENCE");
    assert_eq!(leaf.subject().iter().count(), 0);
    assert_eq!(leaf.issuer().as_raw(), ca_cert.subject().as_raw());
    assert_eq!(leaf.public_key().raw, subject_spki.as_slice());
    let validity = leaf.validity();
    assert_eq!(
        validity.not_after.timestamp() - validity.not_before.timestamp(),
        600
    );
    let now = ::time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - validity.not_before.timestamp()).abs() < 60);
    let serial = leaf.raw_serial();
    assert_eq!(serial.len(), 20);
    assert!(serial[0] & 0x80 == 0 && serial[0] != 0);
    assert_eq!(
        leaf.signature_algorithm.algorithm,
        x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA256
    );

    let ku = leaf.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert!(ku.value.digital_signature());
    assert_eq!(ku.value.flags, 1, "digitalSignature only");
    let eku = leaf.extended_key_usage().unwrap().unwrap();
    assert!(eku.value.code_signing && !eku.value.any && !eku.value.server_auth);
    let ski = match extension(&leaf, "2.5.29.14").parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(id) => id.0.to_vec(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ski.len(), 20);
    let ca_ski = match extension(&ca_cert, "2.5.29.14").parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(id) => id.0.to_vec(),
        other => panic!("{other:?}"),
    };
    let aki = match extension(&leaf, "2.5.29.35").parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref().unwrap().0,
        other => panic!("{other:?}"),
    };
    assert_eq!(aki, ca_ski.as_slice());
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    assert!(san.critical);
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::URI(
            "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
        )]
    );
    for fulcio in &principal.extensions {
        let oid = fulcio.oid().map(|a| a.to_string()).join(".");
        let ext = extension(&leaf, &oid);
        assert!(!ext.critical, "{oid}");
        assert_eq!(ext.value, fulcio.value.as_slice(), "{oid}");
    }
    assert_eq!(
        extension(&leaf, "1.3.6.1.4.1.57264.1.1").value,
        b"https://token.actions.githubusercontent.com"
    );
    assert!(
        !leaf
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == "2.5.29.19"),
        "no basicConstraints on the leaf"
    );

    // The SCT list is last, holds exactly one SCT, and that SCT is the log's.
    let last = leaf.extensions().last().unwrap();
    assert_eq!(last.oid.to_id_string(), SCT_LIST_OID);
    assert!(!last.critical);
    let (rest, list) = x509_parser::der_parser::der::parse_der_octetstring(last.value).unwrap();
    assert!(rest.is_empty());
    let list = list.as_slice().unwrap();
    let total = u16::from_be_bytes([list[0], list[1]]) as usize;
    assert_eq!(total, list.len() - 2);
    let one = u16::from_be_bytes([list[2], list[3]]) as usize;
    assert_eq!(one + 2, total, "exactly one SCT");
    let sct_bytes = &list[4..];
    assert_eq!(sct_bytes, sct.tls_bytes());
    let parsed = parse_sct(sct_bytes);
    assert_eq!(parsed.timestamp, sct.timestamp_ms());
    assert_eq!(
        parsed.log_id.as_slice(),
        <sha2::Sha256 as sha2::Digest>::digest(&ct.public_key_der).as_slice()
    );

    // The precertificate: same TBS but the poison, last and critical.
    let (_, pre) = X509Certificate::from_der(&precert_der).unwrap();
    let poison = pre.extensions().last().unwrap();
    assert_eq!(poison.oid.to_id_string(), POISON_OID);
    assert!(poison.critical);
    assert_eq!(poison.value, &[0x05, 0x00]);
    let pre_tbs = tbs_without_extension(&tbs_of(&precert_der), POISON_OID);
    let final_tbs = tbs_without_extension(&tbs_of(&leaf_der), SCT_LIST_OID);
    assert_eq!(pre_tbs, final_tbs);
    assert!(
        pre.verify_signature(Some(ca_cert.public_key())).is_ok()
            && leaf.verify_signature(Some(ca_cert.public_key())).is_ok()
    );

    // The SCT verifies, by p256, over the RFC 6962 input for that TBS.
    let input = precert_sct_input(parsed.timestamp, issuer.issuer_spki_der(), &final_tbs);
    assert!(p256_verify(
        &ct.public_key_der,
        &input,
        &parsed.signature_der
    ));
    let mut tampered = final_tbs.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let input = precert_sct_input(parsed.timestamp, issuer.issuer_spki_der(), &tampered);
    assert!(!p256_verify(
        &ct.public_key_der,
        &input,
        &parsed.signature_der
    ));
}

#[test]
fn san_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = load_issuer(&init_ca(dir.path(), false, None));
    let spki = client_spki();
    let issue = |san: SubjectAltName| {
        let principal = Principal {
            challenge: String::new(),
            san,
            extensions: Vec::new(),
        };
        issuer.issue_without_sct(&spki, &principal).unwrap()
    };
    let email = issue(SubjectAltName::Email("dev@example.com".into()));
    let (_, cert) = X509Certificate::from_der(&email).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    assert!(san.critical);
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::RFC822Name("dev@example.com")]
    );
    assert!(
        !cert
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == SCT_LIST_OID || e.oid.to_id_string() == POISON_OID)
    );

    let username = issue(SubjectAltName::Username("alice!example.com".into()));
    let (_, cert) = X509Certificate::from_der(&username).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    assert!(san.critical);
    match &san.value.general_names[..] {
        [GeneralName::OtherName(oid, value)] => {
            assert_eq!(oid.to_id_string(), "1.3.6.1.4.1.57264.1.7");
            // [0] EXPLICIT UTF8String
            let (_, inner) = x509_parser::der_parser::der::parse_der(value).unwrap();
            let content = inner.as_slice().unwrap();
            assert_eq!(content, b"\x0c\x11alice!example.com");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn p384_chain_signs_with_sha384() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = load_issuer(&init_ca(dir.path(), true, None));
    let leaf = issuer
        .issue_without_sct(&client_spki(), &github_principal())
        .unwrap();
    let (_, leaf) = X509Certificate::from_der(&leaf).unwrap();
    assert_eq!(
        leaf.signature_algorithm.algorithm,
        x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA384
    );
    let (_, intermediate) = X509Certificate::from_der(&issuer.chain_der()[0]).unwrap();
    assert!(
        leaf.verify_signature(Some(intermediate.public_key()))
            .is_ok()
    );
}

#[test]
fn init_chain_profile_and_refusal_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let ca = init_ca(dir.path(), false, None);
    let chain = std::fs::read_to_string(&ca.chain).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    let issuer = load_issuer(&ca);
    assert_eq!(issuer.chain_pem().len(), 2);
    let (_, intermediate) = X509Certificate::from_der(&issuer.chain_der()[0]).unwrap();
    let (_, root) = X509Certificate::from_der(&issuer.chain_der()[1]).unwrap();

    let bc = intermediate.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0));
    let ku = intermediate.key_usage().unwrap().unwrap();
    assert!(ku.critical && ku.value.key_cert_sign() && ku.value.crl_sign());
    let eku = intermediate.extended_key_usage().unwrap().unwrap();
    assert!(eku.value.code_signing);
    extension(&intermediate, "2.5.29.14");
    extension(&intermediate, "2.5.29.35");
    let mut o_and_cn: Vec<_> = intermediate
        .subject()
        .iter_attributes()
        .map(|a| a.attr_type().to_id_string())
        .collect();
    o_and_cn.sort();
    assert_eq!(o_and_cn, vec!["2.5.4.10", "2.5.4.3"]);

    let bc = root.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && bc.value.ca);
    let ku = root.key_usage().unwrap().unwrap();
    assert!(ku.value.key_cert_sign() && ku.value.crl_sign());
    extension(&root, "2.5.29.14");
    assert_eq!(root.subject().as_raw(), root.issuer().as_raw());

    #[cfg(unix)]
    for key in [&ca.root_key, &ca.intermediate_key] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", key.display());
    }

    let before = std::fs::read(&ca.intermediate_key).unwrap();
    let again = atesto_ca::issuance::init_chain(
        dir.path(),
        &atesto_ca::issuance::InitOptions {
            p384: false,
            organization: "x".into(),
            common_name: "y".into(),
            validity_years: 1,
            password_env: None,
        },
    );
    assert!(matches!(again, Err(IssuanceError::Exists { .. })));
    assert_eq!(std::fs::read(&ca.intermediate_key).unwrap(), before);
}

#[test]
fn encrypted_keys_round_trip_through_the_config_snippet() {
    let env = "ATESTO_CA_TEST_INIT_PASSWORD";
    // SAFETY: only this test reads or writes this variable.
    unsafe { std::env::set_var(env, "correct horse") };
    let dir = tempfile::tempdir().unwrap();
    let ca = init_ca(dir.path(), false, Some(env));
    let key_pem = std::fs::read_to_string(&ca.intermediate_key).unwrap();
    assert!(key_pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert!(
        std::fs::read_to_string(&ca.root_key)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    );
    let config: SignerConfig = serde_yaml_ng::from_str(&ca.signer_config_yaml).unwrap();
    assert_eq!(config, ca.signer_config);
    assert_eq!(config.key_password_env.as_deref(), Some(env));
    CertificateIssuer::load(&config, dir.path()).unwrap();

    unsafe { std::env::set_var(env, "wrong password") };
    let err = CertificateIssuer::load(&config, dir.path()).err().unwrap();
    assert!(matches!(err, IssuanceError::KeyDecrypt { .. }), "{err}");
    assert!(err.to_string().contains("wrong password"), "{err}");

    unsafe { std::env::remove_var(env) };
    let err = CertificateIssuer::load(&config, dir.path()).err().unwrap();
    assert!(matches!(err, IssuanceError::MissingSecret(_)), "{err}");
}

#[test]
fn relative_paths_resolve_against_the_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    init_ca(dir.path(), false, None);
    let config: SignerConfig =
        serde_yaml_ng::from_str("chain: chain.pem\nkey: intermediate-key.pem\n").unwrap();
    CertificateIssuer::load(&config, dir.path()).unwrap();
    assert!(serde_yaml_ng::from_str::<SignerConfig>("chain: a\nkeys: b\n").is_err());
    let neither: SignerConfig = serde_yaml_ng::from_str("chain: chain.pem\n").unwrap();
    assert!(matches!(
        CertificateIssuer::load(&neither, dir.path()),
        Err(IssuanceError::Config(_))
    ));
}

fn write_chain(dir: &Path, certs: &[&[u8]]) -> std::path::PathBuf {
    let path = dir.join("mixed-chain.pem");
    let pem: String = certs
        .iter()
        .map(|der| {
            pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap()
        })
        .collect();
    std::fs::write(&path, pem).unwrap();
    path
}

#[test]
fn self_check_refuses_a_key_that_is_not_the_certificates() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ca_a = init_ca(a.path(), false, None);
    let ca_b = init_ca(b.path(), false, None);
    let config = SignerConfig {
        key: ca_b.signer_config.key.clone(),
        ..ca_a.signer_config.clone()
    };
    let err = CertificateIssuer::load(&config, a.path()).err().unwrap();
    assert!(
        matches!(err, IssuanceError::KeyDoesNotMatchCertificate),
        "{err}"
    );
    // A P-384 key under a P-256 certificate is refused too.
    let c = tempfile::tempdir().unwrap();
    let ca_c = init_ca(c.path(), true, None);
    let config = SignerConfig {
        key: ca_c.signer_config.key.clone(),
        ..ca_a.signer_config.clone()
    };
    assert!(matches!(
        CertificateIssuer::load(&config, a.path()),
        Err(IssuanceError::KeyDoesNotMatchCertificate)
    ));
}

#[test]
fn self_check_refuses_a_chain_that_does_not_link() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ca_a = load_issuer(&init_ca(a.path(), false, None));
    let output_b = init_ca(b.path(), false, None);
    let ca_b = load_issuer(&output_b);
    let chain = write_chain(a.path(), &[&ca_a.chain_der()[0], &ca_b.chain_der()[1]]);
    let config = SignerConfig {
        chain,
        key: Some(a.path().join("intermediate-key.pem")),
        key_password_env: None,
        pkcs11: None,
    };
    let err = CertificateIssuer::load(&config, a.path()).err().unwrap();
    assert!(
        matches!(err, IssuanceError::Chain { index: 0, .. }),
        "{err}"
    );
    // The intermediate alone is not a self-signed root.
    let alone = write_chain(b.path(), &[&ca_b.chain_der()[0]]);
    let config = SignerConfig {
        chain: alone,
        ..output_b.signer_config.clone()
    };
    let err = CertificateIssuer::load(&config, b.path()).err().unwrap();
    assert!(err.to_string().contains("self-signed root"), "{err}");
}

/// (header length, content length) of the DER element at `at`.
fn der_element(bytes: &[u8], at: usize) -> (usize, usize) {
    let first = bytes[at + 1] as usize;
    if first < 0x80 {
        return (2, first);
    }
    let n = first & 0x7f;
    let len = bytes[at + 2..at + 2 + n]
        .iter()
        .fold(0usize, |acc, b| acc << 8 | *b as usize);
    (2 + n, len)
}

fn der_header(tag: u8, len: usize) -> Vec<u8> {
    match len {
        0..0x80 => vec![tag, len as u8],
        0x80..0x100 => vec![tag, 0x81, len as u8],
        _ => vec![tag, 0x82, (len >> 8) as u8, len as u8],
    }
}

#[test]
fn self_check_refuses_an_issuer_name_it_cannot_reproduce() {
    use rcgen::SigningKey;

    let dir = tempfile::tempdir().unwrap();
    let ca = init_ca(dir.path(), false, None);
    let issuer = load_issuer(&ca);
    let intermediate = issuer.chain_der()[0].clone();

    // Make the intermediate's subject O=..., O=... (its CN attribute type
    // turned into O): a valid Name that rcgen's re-encoding collapses.
    let (outer_header, _) = der_element(&intermediate, 0);
    let (tbs_header, tbs_len) = der_element(&intermediate, outer_header);
    let tbs_end = outer_header + tbs_header + tbs_len;
    let mut tbs = intermediate[outer_header..tbs_end].to_vec();
    let cn = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = tbs.windows(5).rposition(|w| w == cn).unwrap();
    tbs[at + 4] = 0x0a;
    let (alg_header, alg_len) = der_element(&intermediate, tbs_end);
    let algorithm = &intermediate[tbs_end..tbs_end + alg_header + alg_len];
    let root_key = atesto_ca::issuance::signer::FileKey::load(&ca.root_key, None).unwrap();
    let signature = root_key.sign(&tbs).unwrap();
    let mut bit_string = der_header(0x03, signature.len() + 1);
    bit_string.push(0);
    bit_string.extend_from_slice(&signature);
    let body = [tbs.as_slice(), algorithm, &bit_string].concat();
    let patched = [der_header(0x30, body.len()), body].concat();

    let chain = write_chain(dir.path(), &[&patched, &issuer.chain_der()[1]]);
    let config = SignerConfig {
        chain,
        ..ca.signer_config.clone()
    };
    let err = CertificateIssuer::load(&config, dir.path()).err().unwrap();
    assert!(
        matches!(err, IssuanceError::IssuerNameMismatch { .. }),
        "{err}"
    );
}

/// A stand-in CT log whose answer the test chooses, signing with p256.
struct FakeLog {
    url: String,
    answer: std::sync::Arc<std::sync::Mutex<(u16, String)>>,
}

async fn fake_log() -> FakeLog {
    use axum::routing::post;
    let answer = std::sync::Arc::new(std::sync::Mutex::new((200, String::new())));
    let shared = answer.clone();
    let router = axum::Router::new().route(
        "/ct/v1/add-pre-chain",
        post(move || {
            let (status, body) = shared.lock().unwrap().clone();
            async move { (axum::http::StatusCode::from_u16(status).unwrap(), body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    FakeLog { url, answer }
}

fn p256_key() -> (p256::ecdsa::SigningKey, String, Vec<u8>) {
    use p256::pkcs8::EncodePublicKey;
    let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let spki = key.verifying_key().to_public_key_der().unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    (key, pem, spki.as_bytes().to_vec())
}

fn sct_answer(
    key: &p256::ecdsa::SigningKey,
    log_id: &[u8],
    input: &[u8],
    timestamp: u64,
) -> String {
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    let signature: p256::ecdsa::Signature = key.sign(input);
    let der = signature.to_der();
    let mut digitally_signed = vec![4, 3];
    digitally_signed.extend_from_slice(&(der.as_bytes().len() as u16).to_be_bytes());
    digitally_signed.extend_from_slice(der.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    serde_json::json!({
        "sct_version": 0,
        "id": b64.encode(log_id),
        "timestamp": timestamp,
        "extensions": "",
        "signature": b64.encode(digitally_signed),
    })
    .to_string()
}

#[tokio::test]
async fn ct_client_verifies_what_the_log_returns() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let issuer = load_issuer(&init_ca(dir.path(), false, None));
    let precert = issuer
        .precertificate(&client_spki(), &github_principal())
        .unwrap();
    let tbs = tbs_without_extension(&tbs_of(precert.der()), POISON_OID);
    let timestamp = 1_700_000_000_000;
    let input = precert_sct_input(timestamp, issuer.issuer_spki_der(), &tbs);

    let fake = fake_log().await;
    let (log_key, log_pem, log_spki) = p256_key();
    let log_id = sha2::Sha256::digest(&log_spki);
    let client = CtLogClient::new(&fake.url, &log_pem, reqwest::Client::new()).unwrap();
    assert_eq!(client.log_id().as_slice(), log_id.as_slice());
    let set = |status: u16, body: String| *fake.answer.lock().unwrap() = (status, body);

    // The right key, log id and entry: accepted, and usable for finish().
    set(200, sct_answer(&log_key, &log_id, &input, timestamp));
    let sct = client
        .add_pre_chain(&precert, issuer.chain_der())
        .await
        .unwrap();
    assert_eq!(sct.timestamp_ms(), timestamp);

    let refused = |err: CtClientError| {
        assert!(matches!(err, CtClientError::InvalidSct(_)), "{err}");
        err.to_string()
    };
    // Signed by another key under this log's id.
    let (other_key, _, other_spki) = p256_key();
    set(200, sct_answer(&other_key, &log_id, &input, timestamp));
    let err = client.add_pre_chain(&precert, issuer.chain_der()).await;
    assert!(refused(err.unwrap_err()).contains("does not verify"));
    // The right key, but over another TBS.
    let mut other_tbs = tbs.clone();
    *other_tbs.last_mut().unwrap() ^= 0xff;
    let other_input = precert_sct_input(timestamp, issuer.issuer_spki_der(), &other_tbs);
    set(200, sct_answer(&log_key, &log_id, &other_input, timestamp));
    let err = client.add_pre_chain(&precert, issuer.chain_der()).await;
    assert!(refused(err.unwrap_err()).contains("does not verify"));
    // Another timestamp than the one signed.
    let mut answer: serde_json::Value =
        serde_json::from_str(&sct_answer(&log_key, &log_id, &input, timestamp)).unwrap();
    answer["timestamp"] = (timestamp + 1).into();
    set(200, answer.to_string());
    let err = client.add_pre_chain(&precert, issuer.chain_der()).await;
    assert!(refused(err.unwrap_err()).contains("does not verify"));
    // A valid signature with the wrong log id.
    let wrong_id = sha2::Sha256::digest(&other_spki);
    set(200, sct_answer(&log_key, &wrong_id, &input, timestamp));
    let err = client.add_pre_chain(&precert, issuer.chain_der()).await;
    assert!(refused(err.unwrap_err()).contains("log id"));

    // Log failures are told apart from bad SCTs.
    set(400, r#"{"code":400,"message":"unknown root"}"#.into());
    let err = client
        .add_pre_chain(&precert, issuer.chain_der())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CtClientError::Rejected { status: 400, .. }) && !err.is_unreachable(),
        "{err}"
    );
    assert!(err.to_string().contains("unknown root"));
    set(200, "not json".into());
    let err = client
        .add_pre_chain(&precert, issuer.chain_der())
        .await
        .unwrap_err();
    assert!(matches!(err, CtClientError::MalformedResponse(_)), "{err}");

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = CtLogClient::new(&closed_url, &log_pem, reqwest::Client::new()).unwrap();
    let err = down
        .add_pre_chain(&precert, issuer.chain_der())
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err}");

    // The SCT that verified goes into the certificate unchanged.
    let leaf = issuer.finish(precert, &sct).unwrap();
    let sct_in_leaf = Sct::new(&log_id.into(), timestamp, &sct.tls_bytes()[43..]);
    assert_eq!(sct_in_leaf, sct);
    assert!(
        leaf.windows(sct.tls_bytes().len())
            .any(|w| w == sct.tls_bytes())
    );
}

#[test]
fn ct_client_requires_a_p256_key() {
    let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let err = CtLogClient::new("http://ct", &p384.public_key_pem(), reqwest::Client::new())
        .err()
        .unwrap();
    assert!(matches!(err, CtClientError::InvalidKey(_)), "{err}");
    assert!(CtLogClient::new("http://ct", "garbage", reqwest::Client::new()).is_err());
}
