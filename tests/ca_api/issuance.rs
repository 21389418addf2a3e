//! Certificates issued: one embedded SCT, every identity type and request
//! form, the legacy v1 API, ca init's chains, every accepted client key type.

use super::*;

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
