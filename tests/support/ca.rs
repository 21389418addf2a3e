//! A whole CA stack for tests: a chain from `atesto ca init`, an `atesto ct`
//! trusting its root, development OIDC issuers served from this process (one
//! per identity type), and `atesto ca` wired to both.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use atesto_ca::identity::dev_issuer::{self, DevIssuer};
use serde_json::{Value, json};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Signer, Tlog, atesto, free_addr};

/// A development OIDC issuer on a loopback port of this test process.
pub struct TestIssuer {
    pub url: String,
    pub dev: Arc<DevIssuer>,
}

/// Serves issuers on one runtime that lives as long as the stack.
pub struct IssuerHost {
    runtime: tokio::runtime::Runtime,
}

impl IssuerHost {
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        Self { runtime }
    }

    pub fn serve(&self) -> TestIssuer {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind issuer");
        let url = format!("http://{}", listener.local_addr().expect("issuer addr"));
        let dev = Arc::new(DevIssuer::new(url.clone()));
        let router = dev.router();
        self.runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        TestIssuer { url, dev }
    }
}

pub const GITHUB_REPO: &str = "kubernetes/release";

pub struct CaStack {
    pub dir: tempfile::TempDir,
    pub email: TestIssuer,
    pub kubernetes: TestIssuer,
    pub github: TestIssuer,
    pub ct: Tlog,
    pub ca: Tlog,
    /// The CT log's public key, PEM.
    pub ct_public_key: String,
    // Declared last: dropped after the servers that fetch from it.
    _host: IssuerHost,
}

impl CaStack {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Starts the stack; `extra_config` is appended to the CA's YAML config.
    pub fn start_with(extra_config: &str) -> Self {
        Self::start_with_issuers(extra_config, "")
    }

    /// Like `start_with`; `extra_issuers` is appended to the issuer file
    /// (top-level keys other than `OIDCIssuers`, such as `MetaIssuers`).
    pub fn start_with_issuers(extra_config: &str, extra_issuers: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let host = IssuerHost::new();
        let (email, kubernetes, github) = (host.serve(), host.serve(), host.serve());
        init_chain(dir.path());

        let ct_key = dir.path().join("ct-key.pem");
        let ct_public_key = keygen(&ct_key);
        std::fs::write(dir.path().join("ct.pub"), &ct_public_key).expect("write ct.pub");
        let ct_addr = free_addr();
        let root = dir.path().join("ca/root.pem");
        let ct = Tlog::start_service(
            "ct",
            &dir.path().join("ct-data"),
            &ct_addr,
            &[
                "--key",
                ct_key.to_str().unwrap(),
                "--roots",
                root.to_str().unwrap(),
            ],
        );

        std::fs::write(
            dir.path().join("issuers.yaml"),
            issuers_yaml(&email, &kubernetes, &github) + extra_issuers,
        )
        .expect("write issuers");
        let ca_addr = free_addr();
        let config = format!(
            "addr: {ca_addr}\n\
             signer:\n  chain: ca/chain.pem\n  key: ca/intermediate-key.pem\n\
             issuers: issuers.yaml\n\
             ct_log:\n  url: http://{ct_addr}\n  public_key: ct.pub\n{extra_config}"
        );
        let config_path = dir.path().join("ca.yaml");
        std::fs::write(&config_path, config).expect("write ca config");
        let ca = Tlog::start_args(
            &[
                OsStr::new("ca"),
                OsStr::new("--config"),
                config_path.as_os_str(),
            ],
            &ca_addr,
        );
        CaStack {
            dir,
            email,
            kubernetes,
            github,
            ct,
            ca,
            ct_public_key,
            _host: host,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A valid email token for `email`.
    pub fn email_token(&self, email: &str) -> String {
        self.email.dev.mint(email_claims(&self.email.url, email))
    }

    /// A valid Kubernetes service-account token.
    pub fn kubernetes_token(&self, namespace: &str, account: &str) -> String {
        self.kubernetes
            .dev
            .mint(kubernetes_claims(&self.kubernetes.url, namespace, account))
    }

    /// A valid GitHub Actions token for a push to main of GITHUB_REPO.
    pub fn github_token(&self) -> String {
        self.github.dev.mint(github_claims(&self.github.url))
    }
}

/// A v2 public-key request: the key as PEM and the proof over `challenge`.
pub fn v2_request(signer: &Signer, challenge: &str, token: Option<&str>) -> Value {
    let mut body = json!({
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": signer.public_key_pem()},
            "proofOfPossession": STANDARD.encode(signer.sign(challenge.as_bytes())),
        }
    });
    if let Some(token) = token {
        body["credentials"] = json!({"oidcIdentityToken": token});
    }
    body
}

/// `atesto ca init --dir DIR/ca`.
pub fn init_chain(dir: &Path) {
    let out = atesto(&["ca", "init", "--dir", dir.join("ca").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "ca init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `atesto keygen --out PATH`, returning the public key PEM it prints.
pub fn keygen(path: &Path) -> String {
    let out = atesto(&["keygen", "--out", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 key")
}

/// Issuer config in Fulcio's file format: one issuer per identity type.
pub fn issuers_yaml(email: &TestIssuer, kubernetes: &TestIssuer, github: &TestIssuer) -> String {
    format!(
        "OIDCIssuers:\n  \
           {e}:\n    IssuerURL: {e}\n    ClientID: sigstore\n    Type: email\n  \
           {k}:\n    IssuerURL: {k}\n    ClientID: sigstore\n    Type: kubernetes\n  \
           {g}:\n    IssuerURL: {g}\n    ClientID: sigstore\n    Type: github-workflow\n",
        e = email.url,
        k = kubernetes.url,
        g = github.url,
    )
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// `claims` issued by `issuer` now, valid for five minutes.
fn issued_now(issuer: &str, mut claims: Value) -> Value {
    let now = now();
    claims["iss"] = json!(issuer);
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now);
    claims["exp"] = json!(now + 300);
    claims
}

pub fn email_claims(issuer: &str, email: &str) -> Value {
    issued_now(issuer, dev_issuer::email_claims(email))
}

pub fn kubernetes_claims(issuer: &str, namespace: &str, account: &str) -> Value {
    issued_now(issuer, dev_issuer::kubernetes_claims(namespace, account))
}

pub fn github_claims(issuer: &str) -> Value {
    issued_now(issuer, dev_issuer::github_claims(GITHUB_REPO))
}
