//! Shared by the CA's integration tests: a CA made by `init_chain`, the repo's
//! CT log run in-process, and checks written without the code under test
//! (RFC 6962 signature inputs rebuilt here, verified with RustCrypto p256).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use atesto_ca::issuance::{CertificateIssuer, InitOptions, InitOutput, init_chain};
use atesto_ca::principal::{FulcioExtension, Principal, SubjectAltName};
use p256::ecdsa::signature::Verifier;
use p256::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use x509_cert::der::asn1::{Any, ObjectIdentifier};
use x509_cert::der::{Decode, Encode, Tag, TagNumber, Tagged};
use x509_cert::ext::Extension;

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

/// The TBSCertificate bytes of a DER certificate.
pub fn tbs_of(cert: &[u8]) -> Vec<u8> {
    Vec::<Any>::from_der(cert).unwrap()[0].to_der().unwrap()
}

/// A TBSCertificate without the extension `oid`, every other byte kept.
pub fn tbs_without_extension(tbs: &[u8], oid: &str) -> Vec<u8> {
    let oid = ObjectIdentifier::new_unwrap(oid);
    let extensions_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(3),
    };
    let mut fields = Vec::<Any>::from_der(tbs).unwrap();
    for field in fields.iter_mut().filter(|f| f.tag() == extensions_tag) {
        let kept: Vec<Any> = Vec::<Any>::from_der(field.value())
            .unwrap()
            .into_iter()
            .filter(|raw| raw.decode_as::<Extension>().unwrap().extn_id != oid)
            .collect();
        *field = Any::new(extensions_tag, kept.to_der().unwrap()).unwrap();
    }
    fields.to_der().unwrap()
}

pub fn u24(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(bytes);
    out
}

/// RFC 6962 §3.2 signature input of a precert entry, rebuilt from the RFC.
pub fn precert_sct_input(timestamp: u64, issuer_spki: &[u8], tbs: &[u8]) -> Vec<u8> {
    let mut input = vec![0, 0];
    input.extend_from_slice(&timestamp.to_be_bytes());
    input.extend_from_slice(&[0, 1]);
    input.extend_from_slice(&Sha256::digest(issuer_spki));
    input.extend(u24(tbs));
    input.extend_from_slice(&[0, 0]);
    input
}

/// A parsed TLS SCT v1 with no extensions.
pub struct ParsedSct {
    pub log_id: [u8; 32],
    pub timestamp: u64,
    pub signature_der: Vec<u8>,
}

pub fn parse_sct(sct: &[u8]) -> ParsedSct {
    assert_eq!(sct[0], 0, "SCT version v1");
    let log_id = sct[1..33].try_into().unwrap();
    let timestamp = u64::from_be_bytes(sct[33..41].try_into().unwrap());
    assert_eq!(&sct[41..43], &[0, 0], "no SCT extensions");
    assert_eq!(&sct[43..45], &[4, 3], "sha256 + ecdsa");
    let len = u16::from_be_bytes([sct[45], sct[46]]) as usize;
    assert_eq!(sct.len(), 47 + len);
    ParsedSct {
        log_id,
        timestamp,
        signature_der: sct[47..].to_vec(),
    }
}

/// Verifies with RustCrypto p256 (not aws-lc, which made the signature).
pub fn p256_verify(spki_der: &[u8], message: &[u8], signature_der: &[u8]) -> bool {
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der).unwrap();
    let Ok(signature) = p256::ecdsa::Signature::from_der(signature_der) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}
