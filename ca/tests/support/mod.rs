//! Shared by the CA's integration tests: a CA made by `init_chain`, the repo's
//! CT log run in-process, and checks written without the code under test
//! (RFC 6962 signature inputs and SCT parsing from atesto-test-support,
//! verified with RustCrypto p256).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use atesto_ca::issuance::{CertificateIssuer, InitOptions, InitOutput, init_chain};
use atesto_ca::principal::{FulcioExtension, Principal, SubjectAltName};
// Each test binary uses a different part (as with dead_code above).
#[allow(unused_imports)]
pub use atesto_test_support::ct::{p256_verify, parse_sct, precert_sct_input};
#[allow(unused_imports)]
pub use atesto_test_support::der::{tbs_of, tbs_without_extension};

pub fn init_ca(dir: &Path, p384: bool, password_env: Option<&str>) -> InitOutput {
    init_chain(
        dir,
        &InitOptions {
            p384,
            organization: "Atesto test".into(),
            common_name: "Atesto test CA".into(),
            validity_years: 1,
            password_env: password_env.map(str::to_string),
        },
    )
    .unwrap()
}

pub fn load_issuer(output: &InitOutput) -> CertificateIssuer {
    CertificateIssuer::load(&output.signer_config, Path::new("/nonexistent")).unwrap()
}

/// A client's P-256 public key, DER SPKI.
pub fn client_spki() -> Vec<u8> {
    rcgen::PublicKeyData::subject_public_key_info(&rcgen::KeyPair::generate().unwrap())
}

pub fn github_principal() -> Principal {
    Principal {
        challenge: "repo:org/repo:ref:refs/heads/main".into(),
        san: SubjectAltName::Uri(
            "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main".into(),
        ),
        extensions: vec![
            FulcioExtension::raw(1, "https://token.actions.githubusercontent.com"),
            FulcioExtension::utf8_string(8, "https://token.actions.githubusercontent.com"),
            FulcioExtension::utf8_string(12, "https://github.com/org/repo"),
        ],
    }
}

/// The repo's CT log on a local port, accepting `roots_pem`.
pub struct RunningCtLog {
    pub url: String,
    pub public_key_pem: String,
    pub public_key_der: Vec<u8>,
    _dir: tempfile::TempDir,
}

pub async fn start_ct_log(roots_pem: &Path) -> RunningCtLog {
    use atesto_common::http::ApiOptions;
    use atesto_ct_log::config::CtConfig;
    use atesto_ct_log::{self as ct, CtLog};
    use atesto_tlog_engine::store::redb::RedbStore;

    let dir = tempfile::tempdir().unwrap();
    let config = CtConfig {
        data: dir.path().join("ct"),
        roots: vec![roots_pem.to_path_buf()],
        ..CtConfig::default()
    };
    let roots = ct::read_roots(roots_pem).unwrap();
    let log = tokio::task::spawn_blocking(move || {
        let store = RedbStore::open_dir(&config.data, config.cache_mb << 20).unwrap();
        CtLog::start(Arc::new(store), &config, roots)
    })
    .await
    .unwrap()
    .unwrap();
    let public_key_pem = log.keys().public_key_pem.clone();
    let public_key_der = log.keys().public_key_der.clone();
    let router = ct::api::router(
        Arc::new(log),
        &ApiOptions {
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(30),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    RunningCtLog {
        url,
        public_key_pem,
        public_key_der,
        _dir: dir,
    }
}
