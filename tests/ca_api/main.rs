//! HTTP tests of `atesto ca` as clients see it: a real CA child process, a
//! real `atesto ct` child for its SCTs, development OIDC issuers on loopback.
//! One test per refusal, each checking the message names the failed check
//! and never echoes the token.

mod support;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

use atesto_ca::identity::dev_issuer::DEV_GITHUB_SHA;
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

#[test]
fn issues_a_certificate_with_one_embedded_sct_from_the_ct_log() {
    let stack = CaStack::start();
    let signer = Signer::new();
    let token = stack.email_token("release@k8s.io");
    let reply = stack.ca.post_bearer(
        "/api/v2/signingCert",
        &v2_request(&signer, "release@k8s.io", None),
        &token,
    );
    let chain = embedded_chain(&reply);
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    let (_, intermediate) = X509Certificate::from_der(&chain[1]).unwrap();
    assert_eq!(leaf.issuer().as_raw(), intermediate.subject().as_raw());
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    assert!(san.critical);
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::RFC822Name("release@k8s.io")]
    );
    let issuer_ext = leaf
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.4.1.57264.1.1")
        .unwrap();
    assert_eq!(issuer_ext.value, stack.email.url.as_bytes());
    assert_eq!(
        leaf.public_key().raw,
        spki_der_of_pem(&signer.public_key_pem()).as_slice()
    );

    let ct_log_id = Sha256::digest(spki_der_of_pem(&stack.ct_public_key)).to_vec();
    assert_eq!(sct_log_ids(&leaf), vec![ct_log_id]);
    // The SCT is only given once the precertificate is in the log.
    let sth = stack.ct.get("/ct/v1/get-sth").json();
    assert_eq!(sth["tree_size"], 1, "{sth}");

    // The chain after the leaf is the published trust bundle.
    let bundle = stack.ca.get("/api/v2/trustBundle").json();
    let published: Vec<Vec<u8>> = bundle["chains"][0]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|pem| pem_blocks(pem.as_str().unwrap()))
        .collect();
    assert_eq!(published, chain[1..].to_vec());
    let root_cert = stack.ca.get("/api/v1/rootCert");
    assert_eq!(root_cert.status, 200);
    assert_eq!(pem_blocks(&root_cert.text), chain[1..].to_vec());
}

#[test]
fn token_in_the_body_and_a_csr_issue_a_kubernetes_identity() {
    let stack = CaStack::start();
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&key)
        .unwrap();
    let token = stack.kubernetes_token("release", "signer");
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "certificateSigningRequest": STANDARD.encode(csr.pem().unwrap()),
    });
    let chain = embedded_chain(&stack.ca.post("/api/v2/signingCert", &body));
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::URI(
            "https://kubernetes.io/namespaces/release/serviceaccounts/signer"
        )]
    );
}

#[test]
fn github_actions_claims_become_fulcio_extensions() {
    let stack = CaStack::start();
    let signer = Signer::new();
    let token = stack.github_token();
    let subject = format!("repo:{GITHUB_REPO}:ref:refs/heads/main");
    let reply = stack.ca.post_bearer(
        "/api/v2/signingCert",
        &v2_request(&signer, &subject, None),
        &token,
    );
    let chain = embedded_chain(&reply);
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    let ext = |arc: u32| {
        leaf.extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == format!("1.3.6.1.4.1.57264.1.{arc}"))
            .map(|e| e.value.to_vec())
    };
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    let workflow =
        format!("https://github.com/{GITHUB_REPO}/.github/workflows/release.yml@refs/heads/main");
    assert_eq!(san.value.general_names, vec![GeneralName::URI(&workflow)]);
    // .1.2 trigger, .1.3 sha, .1.5 repository: raw bytes (deprecated arcs).
    assert_eq!(ext(2).unwrap(), b"push");
    assert_eq!(ext(3).unwrap(), DEV_GITHUB_SHA.as_bytes());
    assert_eq!(ext(5).unwrap(), GITHUB_REPO.as_bytes());
    // .1.12 source repository URI: a DER UTF8String.
    let repo_uri = format!("https://github.com/{GITHUB_REPO}");
    let mut expected = vec![12, repo_uri.len() as u8];
    expected.extend_from_slice(repo_uri.as_bytes());
    assert_eq!(ext(12).unwrap(), expected);
}

#[test]
fn legacy_v1_answers_201_with_a_pem_chain() {
    let stack = CaStack::start();
    let signer = Signer::new();
    let token = stack.email_token("cosign@k8s.io");
    let der = spki_der_of_pem(&signer.public_key_pem());
    let body = json!({
        "publicKey": {"algorithm": "ecdsa", "content": STANDARD.encode(&der)},
        "signedEmailAddress": STANDARD.encode(signer.sign(b"cosign@k8s.io")),
    });
    let reply = stack.ca.post_bearer("/api/v1/signingCert", &body, &token);
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.header("Content-Type"),
        Some("application/pem-certificate-chain")
    );
    assert_eq!(pem_blocks(&reply.text).len(), 3);
}

#[test]
fn configuration_lists_the_issuers() {
    let stack = CaStack::start();
    let config = stack.ca.get("/api/v2/configuration").json();
    let issuers = config["issuers"].as_array().unwrap();
    let urls: Vec<&str> = issuers
        .iter()
        .filter_map(|i| i["issuerUrl"].as_str())
        .collect();
    for url in [&stack.email.url, &stack.kubernetes.url, &stack.github.url] {
        assert!(urls.contains(&url.as_str()), "{config}");
    }
    let metrics = stack.ca.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.text.contains("atesto_ca_"), "{}", metrics.text);
}

// ---------------------------------------------------------------- refusals

/// Sends an email-identity request with `token` and the proof over
/// `challenge`; expects `status` and returns the message, checking it does
/// not echo the token.
fn refused(stack: &CaStack, token: &str, challenge: &str, status: u16) -> String {
    let signer = Signer::new();
    let reply = stack.ca.post_bearer(
        "/api/v2/signingCert",
        &v2_request(&signer, challenge, None),
        token,
    );
    let message = reply.expect_error(status);
    if token.len() > 8 {
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(
                !message.contains(part),
                "message echoes the token: {message}"
            );
        }
    }
    message.to_lowercase()
}

fn with_claims(stack: &CaStack, change: impl FnOnce(&mut Value)) -> String {
    let mut claims = email_claims(&stack.email.url, "dev@k8s.io");
    change(&mut claims);
    stack.email.dev.mint(claims)
}

/// Expects the email token with `change` applied to its claims to be refused
/// with 401 and a message containing `expected`.
fn refused_claims(change: impl FnOnce(&mut Value, &CaStack), expected: &str) {
    let stack = CaStack::start();
    let token = with_claims(&stack, |claims| change(claims, &stack));
    let message = refused(&stack, &token, "dev@k8s.io", 401);
    assert!(message.contains(expected), "{message}");
}

#[test]
fn refuses_a_request_without_a_token() {
    let stack = CaStack::start();
    let message = stack
        .ca
        .post(
            "/api/v2/signingCert",
            &v2_request(&Signer::new(), "x", None),
        )
        .expect_error(401);
    assert!(message.contains("no identity token"), "{message}");
}

#[test]
fn refuses_an_unknown_issuer() {
    refused_claims(
        |c, _| c["iss"] = json!("https://issuer.invalid"),
        "unknown issuer",
    );
}

#[test]
fn refuses_an_expired_token() {
    refused_claims(
        |c, _| {
            c["exp"] = json!(now() - 120);
            c["iat"] = json!(now() - 600);
            c["nbf"] = json!(now() - 600);
        },
        "expired",
    );
}

#[test]
fn refuses_a_token_not_yet_valid() {
    refused_claims(|c, _| c["nbf"] = json!(now() + 3600), "not yet valid");
}

#[test]
fn refuses_a_token_for_another_audience() {
    refused_claims(|c, _| c["aud"] = json!("someone-else"), "audience");
}

#[test]
fn refuses_a_token_missing_its_email_claim() {
    refused_claims(
        |c, _| {
            c.as_object_mut().unwrap().remove("email");
        },
        "email",
    );
}

#[test]
fn refuses_an_unverified_email() {
    refused_claims(|c, _| c["email_verified"] = json!(false), "verified");
}

#[test]
fn refuses_a_payload_swapped_under_a_valid_signature() {
    let stack = CaStack::start();
    let good = stack.email_token("dev@k8s.io");
    let other = stack.email_token("attacker@k8s.io");
    let parts: Vec<&str> = good.split('.').collect();
    let other_payload = other.split('.').nth(1).unwrap();
    let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    let message = refused(&stack, &forged, "attacker@k8s.io", 401);
    assert!(message.contains("signature"), "{message}");
}

#[test]
fn refuses_alg_none_and_hmac_before_any_key_lookup() {
    let stack = CaStack::start();
    let payload = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&email_claims(&stack.email.url, "dev@k8s.io")).unwrap());
    for alg in ["none", "HS256"] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let token = format!("{header}.{payload}.c2lnbmF0dXJl");
        let message = refused(&stack, &token, "dev@k8s.io", 401);
        assert!(message.contains(&alg.to_lowercase()), "{alg}: {message}");
    }
}

#[test]
fn refuses_malformed_and_oversized_tokens() {
    let stack = CaStack::start();
    let message = refused(&stack, "only.two", "x", 401);
    assert!(message.contains("three"), "{message}");
    let huge = format!("{}.{}.sig", "a".repeat(20_000), "b".repeat(20_000));
    let message = refused(&stack, &huge, "x", 401);
    assert!(message.contains("too large"), "{message}");
}

/// A DER SubjectPublicKeyInfo of an RSA key with a `bits`-bit modulus.
fn rsa_spki(bits: usize) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 128 {
            out.push(len as u8);
        } else if len < 256 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }
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

/// Posts `body` with a valid email token; expects `status` and returns the
/// message, lowercased.
fn refused_request(body: &Value, status: u16) -> String {
    let stack = CaStack::start();
    let token = stack.email_token("dev@k8s.io");
    let reply = stack.ca.post_bearer("/api/v2/signingCert", body, &token);
    reply.expect_error(status).to_lowercase()
}

#[test]
fn refuses_a_proof_of_possession_over_another_identity() {
    let body = v2_request(&Signer::new(), "someone-else@k8s.io", None);
    let message = refused_request(&body, 400);
    assert!(message.contains("proof of possession"), "{message}");
}

#[test]
fn refuses_a_weak_key() {
    let body = json!({"publicKeyRequest": {
        "publicKey": {"content": STANDARD.encode(rsa_spki(1024))},
        "proofOfPossession": STANDARD.encode(b"whatever"),
    }});
    let message = refused_request(&body, 400);
    assert!(
        message.contains("insecure") && message.contains("1024"),
        "{message}"
    );
}

#[test]
fn refuses_an_unparsable_key() {
    let body = json!({"publicKeyRequest": {
        "publicKey": {"content": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
        "proofOfPossession": STANDARD.encode(b"whatever"),
    }});
    let message = refused_request(&body, 400);
    assert!(message.contains("could not be parsed"), "{message}");
}

#[test]
fn refuses_a_csr_whose_signature_does_not_verify() {
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&key)
        .unwrap();
    let mut der = csr.der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let body = json!({"certificateSigningRequest": STANDARD.encode(&der)});
    let message = refused_request(&body, 400);
    assert!(
        message.contains("signing request") && message.contains("signature"),
        "{message}"
    );
}

#[test]
fn refuses_malformed_requests() {
    let stack = CaStack::start();
    let message = stack
        .ca
        .post_raw("/api/v2/signingCert", b"{not json".to_vec())
        .expect_error(400);
    assert!(message.contains("malformed"), "{message}");

    let token = stack.email_token("dev@k8s.io");
    let bad_base64 = json!({"publicKeyRequest": {
        "publicKey": {"content": Signer::new().public_key_pem()},
        "proofOfPossession": "***",
    }});
    let message = stack
        .ca
        .post_bearer("/api/v2/signingCert", &bad_base64, &token)
        .expect_error(400);
    assert!(
        message.contains("proofOfPossession is not valid base64"),
        "{message}"
    );

    let oversized = vec![b' '; 256 << 10];
    stack
        .ca
        .post_raw("/api/v2/signingCert", oversized)
        .expect_error(413);
}

#[test]
fn refuses_to_start_without_a_ct_log_unless_told_to() {
    let dir = tempfile::tempdir().unwrap();
    init_chain(dir.path());
    std::fs::write(
        dir.path().join("issuers.yaml"),
        "OIDCIssuers:\n  https://issuer.invalid:\n    IssuerURL: https://issuer.invalid\n    ClientID: sigstore\n    Type: email\n",
    )
    .unwrap();
    let addr = free_addr();
    let config = dir.path().join("ca.yaml");
    std::fs::write(
        &config,
        format!(
            "addr: {addr}\nsigner:\n  chain: ca/chain.pem\n  key: ca/intermediate-key.pem\nissuers: issuers.yaml\n"
        ),
    )
    .unwrap();
    let out = atesto(&["ca", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no ct_log configured"), "{stderr}");

    let ca = Tlog::start_args(
        &[
            "ca".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--issue-without-sct".as_ref(),
        ],
        &addr,
    );
    assert_eq!(ca.get("/healthz").status, 200);
}

#[test]
fn a_p384_chain_with_encrypted_keys_from_ca_init_issues_certificates() {
    const PASSWORD_ENV: &str = "ATESTO_TEST_CA_PASSWORD";
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let init = std::process::Command::new(atesto_bin())
        .args([
            "ca",
            "init",
            "--p384",
            "--password-env",
            PASSWORD_ENV,
            "--dir",
        ])
        .arg(&ca_dir)
        .env(PASSWORD_ENV, "correct horse battery staple")
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let key = std::fs::read_to_string(ca_dir.join("intermediate-key.pem")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{key}"
    );

    let host = IssuerHost::new();
    let issuer = host.serve();
    let ct_key = dir.path().join("ct-key.pem");
    std::fs::write(dir.path().join("ct.pub"), keygen(&ct_key)).unwrap();
    let ct_addr = free_addr();
    let _ct = Tlog::start_service(
        "ct",
        &dir.path().join("ct-data"),
        &ct_addr,
        &[
            "--key",
            ct_key.to_str().unwrap(),
            "--roots",
            ca_dir.join("root.pem").to_str().unwrap(),
        ],
    );
    std::fs::write(
        dir.path().join("issuers.yaml"),
        format!(
            "OIDCIssuers:\n  {u}:\n    IssuerURL: {u}\n    ClientID: sigstore\n    Type: email\n",
            u = issuer.url
        ),
    )
    .unwrap();
    let config = dir.path().join("ca.yaml");
    // The config's address is overridden by --addr below.
    std::fs::write(
        &config,
        format!(
            "addr: 127.0.0.1:1\n\
             signer:\n  chain: ca/chain.pem\n  key: ca/intermediate-key.pem\n  key_password_env: {PASSWORD_ENV}\n\
             issuers: issuers.yaml\n\
             ct_log:\n  url: http://{ct_addr}\n  public_key: ct.pub\n"
        ),
    )
    .unwrap();

    // Without the password the CA refuses to start and says what is missing.
    let no_password = atesto(&["ca", "--config", config.to_str().unwrap()]);
    assert!(!no_password.status.success());
    let stderr = String::from_utf8_lossy(&no_password.stderr);
    assert!(stderr.contains(PASSWORD_ENV), "{stderr}");

    let addr = free_addr();
    let ca = Tlog::start_args_env(
        &[
            "ca".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--addr".as_ref(),
            addr.as_ref(),
        ],
        &[(PASSWORD_ENV, "correct horse battery staple")],
        &addr,
    );
    let signer = Signer::new();
    let token = issuer.dev.mint(email_claims(&issuer.url, "p384@k8s.io"));
    let reply = ca.post_bearer(
        "/api/v2/signingCert",
        &v2_request(&signer, "p384@k8s.io", None),
        &token,
    );
    let chain = embedded_chain(&reply);
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    assert_eq!(
        leaf.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.10045.4.3.3",
        "a P-384 CA signs with ecdsa-with-SHA384"
    );
    drop(host);
}

/// Every client key type of the policy gets a certificate for its key.
#[test]
fn every_accepted_client_key_type_is_certified() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};

    let stack = CaStack::start();
    let email = "keys@k8s.io";
    let rng = SystemRandom::new();
    let mut keys: Vec<(&str, Vec<u8>, Vec<u8>)> = Vec::new();
    for (name, algorithm) in [
        ("P-384", &signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        ("P-521", &signature::ECDSA_P521_SHA512_ASN1_SIGNING),
    ] {
        let key = EcdsaKeyPair::generate(algorithm).unwrap();
        let proof = key.sign(&rng, email.as_bytes()).unwrap().as_ref().to_vec();
        keys.push((
            name,
            key.public_key().as_der().unwrap().as_ref().to_vec(),
            proof,
        ));
    }
    let ed25519 = Ed25519KeyPair::generate().unwrap();
    keys.push((
        "Ed25519",
        ed25519.public_key().as_der().unwrap().as_ref().to_vec(),
        ed25519.sign(email.as_bytes()).as_ref().to_vec(),
    ));
    for (name, size) in [
        ("RSA 2048", KeySize::Rsa2048),
        ("RSA 4096", KeySize::Rsa4096),
    ] {
        let key = RsaKeyPair::generate(size).unwrap();
        let mut proof = vec![0; key.public_modulus_len()];
        key.sign(
            &signature::RSA_PKCS1_SHA256,
            &rng,
            email.as_bytes(),
            &mut proof,
        )
        .unwrap();
        keys.push((
            name,
            key.public_key().as_der().unwrap().as_ref().to_vec(),
            proof,
        ));
    }
    for (name, spki, proof) in keys {
        let body = json!({"publicKeyRequest": {
            "publicKey": {"content": STANDARD.encode(&spki)},
            "proofOfPossession": STANDARD.encode(&proof),
        }});
        let reply = stack
            .ca
            .post_bearer("/api/v2/signingCert", &body, &stack.email_token(email));
        assert_eq!(reply.status, 200, "{name}: {}", reply.text);
        let chain = embedded_chain(&reply);
        let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
        assert_eq!(leaf.public_key().raw, spki.as_slice(), "{name}");
    }
}
