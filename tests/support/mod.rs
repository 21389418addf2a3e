//! What the integration tests share: a real `atesto tlog` child process on a
//! loopback port, and signed entries to send it.

#![allow(dead_code)] // each test binary uses a different part

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

pub fn atesto_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_atesto"))
}

/// A free loopback port (bound once and released).
pub fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").to_string()
}

/// A running `atesto tlog`, killed when dropped.
pub struct Tlog {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
}

impl Tlog {
    /// Starts `atesto tlog --data DIR --addr <free port> [extra args]` and waits for /healthz.
    pub fn start(data: &Path, extra: &[&str]) -> Tlog {
        Self::start_at(data, &free_addr(), extra)
    }

    pub fn start_at(data: &Path, addr: &str, extra: &[&str]) -> Tlog {
        let child = Self::spawn(data, addr, extra);
        let mut tlog = Tlog {
            child,
            addr: addr.to_owned(),
            data: data.to_owned(),
        };
        tlog.wait_ready();
        tlog
    }

    /// Spawns without waiting (for tests that expect the start to fail).
    pub fn spawn(data: &Path, addr: &str, extra: &[&str]) -> Child {
        Command::new(atesto_bin())
            .args(["tlog", "--data"])
            .arg(data)
            .args(["--addr", addr])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn atesto tlog")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = client();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("atesto tlog exited with {status}: {stderr}");
            }
            if let Ok(response) = client.get(self.url("/healthz")).send()
                && response.status().is_success()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("atesto tlog did not become healthy at {}", self.addr);
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tlog {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// A signer of hashedrekord entries.
pub struct Signer {
    key: EcdsaKeyPair,
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

impl Signer {
    pub fn new() -> Self {
        Self {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("generate key"),
        }
    }

    pub fn public_key_pem(&self) -> String {
        let der = self.key.public_key().as_der().expect("public key der");
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, der.as_ref())
            .expect("pem")
    }

    /// ASN.1 ECDSA signature over SHA-256(artifact).
    pub fn sign(&self, artifact: &[u8]) -> Vec<u8> {
        self.key
            .sign(&SystemRandom::new(), artifact)
            .expect("sign")
            .as_ref()
            .to_vec()
    }

    /// A hashedrekord 0.0.1 ProposedEntry for `artifact`.
    pub fn hashedrekord(&self, artifact: &[u8]) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(artifact))}},
                "signature": {
                    "content": STANDARD.encode(self.sign(artifact)),
                    "publicKey": {"content": STANDARD.encode(self.public_key_pem())}
                }
            }
        })
    }
}

/// Writes a fresh Ed25519 PKCS#8 PEM to `path` (e.g. for `witness_key`).
pub fn write_ed25519_pkcs8(path: &Path) {
    let der = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .expect("generate ed25519 key");
    let pem = pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, der.as_ref())
        .expect("pem");
    std::fs::write(path, pem).expect("write ed25519 key");
}
