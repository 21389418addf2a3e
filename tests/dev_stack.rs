//! `atesto dev` as a user meets it: one process, two addresses, trust files
//! written, tokens from `atesto dev token` accepted, keys kept across
//! restarts; and `atesto trust-root` building a production trust root.

mod support;

use std::ffi::OsStr;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use support::*;

struct Dev {
    ca: Tlog,
    tlog_addr: String,
}

fn start_dev(data: &Path) -> Dev {
    start_dev_at(data, &free_addr(), &free_addr())
}

fn start_dev_at(data: &Path, ca_addr: &str, tlog_addr: &str) -> Dev {
    let ca = Tlog::start_args(
        &[
            OsStr::new("dev"),
            OsStr::new("--data"),
            data.as_os_str(),
            OsStr::new("--ca-addr"),
            OsStr::new(ca_addr),
            OsStr::new("--tlog-addr"),
            OsStr::new(tlog_addr),
        ],
        ca_addr,
    );
    // Both listeners start together; the log's answers once it is up.
    let health = client()
        .get(format!("http://{tlog_addr}/healthz"))
        .send()
        .unwrap();
    assert_eq!(health.status(), 200);
    Dev {
        ca,
        tlog_addr: tlog_addr.to_owned(),
    }
}

fn dev_token(data: &Path, flags: &[&str]) -> String {
    let mut args = vec!["dev", "token", "--data", data.to_str().unwrap()];
    args.extend(flags);
    let out = atesto(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pem_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    pem_rfc7468::decode_vec(text.trim().as_bytes()).unwrap().1
}

/// A v2 signing request for `challenge`, the token in the body.
fn sign_request(token: &str, challenge: &str) -> Value {
    let signer = Signer::new();
    json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": signer.public_key_pem()},
            "proofOfPossession": STANDARD.encode(signer.sign(challenge.as_bytes())),
        }
    })
}

#[test]
fn one_process_serves_ca_and_logs_and_describes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    let dev = start_dev(&data);

    let trust = read_json(&data.join("trust_config.json"));
    assert_eq!(
        trust["mediaType"],
        "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
    );
    let root = &trust["trustedRoot"];
    assert_eq!(root, &read_json(&data.join("trusted_root.json")));
    assert_eq!(
        trust["signingConfig"],
        read_json(&data.join("signing_config.json"))
    );
    let rekor = STANDARD.encode(pem_der(&data.join("rekor.pub")));
    let ct = STANDARD.encode(pem_der(&data.join("ctlog.pub")));
    assert_eq!(root["tlogs"][0]["publicKey"]["rawBytes"], rekor.as_str());
    assert_eq!(root["ctlogs"][0]["publicKey"]["rawBytes"], ct.as_str());
    assert_eq!(
        root["tlogs"][0]["baseUrl"],
        format!("http://{}", dev.tlog_addr)
    );
    assert_eq!(
        trust["signingConfig"]["caUrls"][0]["url"],
        format!("http://{}", dev.ca.addr)
    );
    // The log serves the key the trust root names.
    let served = reqwest::blocking::get(format!("http://{}/api/v1/log/publicKey", dev.tlog_addr))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        served,
        std::fs::read_to_string(data.join("rekor.pub")).unwrap()
    );
    let env = std::fs::read_to_string(data.join("cosign.env")).unwrap();
    for variable in [
        "SIGSTORE_ROOT_FILE=",
        "SIGSTORE_REKOR_PUBLIC_KEY=",
        "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE=",
    ] {
        assert!(env.contains(variable), "{env}");
    }

    for (flags, challenge) in [
        (
            vec!["--email", "dev@example.com"],
            "dev@example.com".to_owned(),
        ),
        (
            vec!["--k8s", "release/signer"],
            "system:serviceaccount:release:signer".to_owned(),
        ),
        (
            vec!["--github", "kubernetes/release"],
            "repo:kubernetes/release:ref:refs/heads/main".to_owned(),
        ),
    ] {
        let token = dev_token(&data, &flags);
        let reply = dev
            .ca
            .post("/api/v2/signingCert", &sign_request(&token, &challenge));
        assert_eq!(reply.status, 200, "{flags:?}: {}", reply.text);
        let chain = &reply.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"];
        assert_eq!(chain.as_array().unwrap().len(), 3);
    }
    let sth: Value = reqwest::blocking::get(format!("http://{}/ct/v1/get-sth", dev.tlog_addr))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(sth["tree_size"], 3, "one precertificate per certificate");

    let expired = dev_token(&data, &["--email", "dev@example.com", "--expired"]);
    let message = dev
        .ca
        .post(
            "/api/v2/signingCert",
            &sign_request(&expired, "dev@example.com"),
        )
        .expect_error(401);
    assert!(message.contains("expired"), "{message}");
}

#[test]
fn a_restart_keeps_every_key_and_the_trust_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    let first = start_dev(&data);
    let token = dev_token(&data, &["--email", "dev@example.com"]);
    let root = std::fs::read_to_string(data.join("trusted_root.json")).unwrap();
    let (ca_addr, tlog_addr) = (first.ca.addr.clone(), first.tlog_addr.clone());
    drop(first);

    let second = start_dev_at(&data, &ca_addr, &tlog_addr);
    assert_eq!(
        std::fs::read_to_string(data.join("trusted_root.json")).unwrap(),
        root,
        "same keys, same windows"
    );
    // A token minted before the restart verifies: the dev issuer key was kept.
    let reply = second.ca.post(
        "/api/v2/signingCert",
        &sign_request(&token, "dev@example.com"),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[test]
fn trust_root_builds_windows_for_rotated_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    drop(start_dev(&data));
    let old_key = dir.path().join("old-rekor.pem");
    let old_public = support::ca::keygen(&old_key);
    std::fs::write(dir.path().join("old-rekor.pub"), old_public).unwrap();
    let config = dir.path().join("trust.yaml");
    std::fs::write(
        &config,
        "operator: sig-release\n\
         cas:\n  - {url: https://fulcio.example, chain: dev/ca-chain.pem, valid_from: 2026-01-01T00:00:00Z}\n\
         tlogs:\n  - {url: https://rekor.example, public_key: old-rekor.pub, valid_from: 2025-01-01T00:00:00Z, valid_until: 2026-01-01T00:00:00Z}\n  \
           - {url: https://rekor.example, public_key: dev/rekor.pub, valid_from: 2026-01-01T00:00:00Z}\n\
         ctlogs:\n  - {url: https://ct.example, public_key: dev/ctlog.pub, valid_from: 2026-01-01T00:00:00Z}\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = atesto(&[
        "trust-root",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = read_json(&out_dir.join("trusted_root.json"));
    let tlogs = root["tlogs"].as_array().unwrap();
    assert_eq!(tlogs.len(), 2);
    assert_eq!(
        tlogs[0]["publicKey"]["validFor"]["end"],
        "2026-01-01T00:00:00Z"
    );
    assert!(tlogs[1]["publicKey"]["validFor"].get("end").is_none());
    assert_eq!(
        root["certificateAuthorities"][0]["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let signing = read_json(&out_dir.join("signing_config.json"));
    assert_eq!(signing["rekorTlogUrls"].as_array().unwrap().len(), 2);
    assert_eq!(signing["caUrls"][0]["operator"], "sig-release");
    let both = read_json(&out_dir.join("trust_config.json"));
    assert_eq!(both["trustedRoot"], root);

    std::fs::write(&config, "operator: x\ncas: []\ntlogs: []\nctlogs: []\n").unwrap();
    let refused = atesto(&[
        "trust-root",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("at least one entry"));
}

#[test]
fn oidc_config_adds_issuers_and_refuses_a_second_definition_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    let extra = dir.path().join("issuers.yaml");
    std::fs::write(
        &extra,
        "oidc-issuers:\n  https://token.actions.githubusercontent.com:\n    \
         issuer-url: https://token.actions.githubusercontent.com\n    client-id: sigstore\n    \
         type: github-workflow\n",
    )
    .unwrap();
    let (ca_addr, tlog_addr) = (free_addr(), free_addr());
    let dev = Tlog::start_args(
        &[
            OsStr::new("dev"),
            OsStr::new("--data"),
            data.as_os_str(),
            OsStr::new("--ca-addr"),
            OsStr::new(&ca_addr),
            OsStr::new("--tlog-addr"),
            OsStr::new(&tlog_addr),
            OsStr::new("--oidc-config"),
            extra.as_os_str(),
        ],
        &ca_addr,
    );
    let configuration = dev.get("/api/v2/configuration").json();
    let urls: Vec<&str> = configuration["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|issuer| issuer["issuerUrl"].as_str())
        .collect();
    assert!(
        urls.contains(&"https://token.actions.githubusercontent.com"),
        "{configuration}"
    );
    assert!(
        urls.contains(&format!("http://{ca_addr}/dev-oidc/email").as_str()),
        "{configuration}"
    );
    drop(dev);

    // A file that defines one of the dev issuers again cannot be merged.
    let email = format!("http://{ca_addr}/dev-oidc/email");
    std::fs::write(
        &extra,
        format!("oidc-issuers:\n  {email}:\n    issuer-url: {email}\n    client-id: sigstore\n    type: email\n"),
    )
    .unwrap();
    let out = atesto(&[
        "dev",
        "--data",
        data.to_str().unwrap(),
        "--ca-addr",
        &ca_addr,
        "--tlog-addr",
        &tlog_addr,
        "--oidc-config",
        extra.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("configured twice"), "{stderr}");
}
