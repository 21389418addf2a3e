//! What the integration tests share: a real `atesto tlog` child process on a
//! loopback port, signed entries to send it, and independent verifiers of
//! what it answers (RFC 6962 proofs, checkpoints, SETs), written here from
//! the RFCs rather than taken from the server's code.

#![allow(dead_code)] // each test binary uses a different part

pub mod ca;
pub mod clients;
pub mod cosign;
pub mod ct;
pub mod deploy;
pub mod dev;
pub mod merkle;
pub mod promises;
pub mod raw_http;
pub mod rekor;
pub mod rekor_v2;
pub mod services;
pub mod signer;
pub mod tsa;

pub use merkle::*;
pub use rekor::*;
pub use signer::*;

use std::ffi::OsStr;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn atesto_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_atesto"))
}

/// Runs `atesto <args>` to completion.
pub fn atesto(args: &[&str]) -> std::process::Output {
    Command::new(atesto_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run atesto")
}

/// A free loopback port (bound once and released).
pub fn free_addr() -> String {
    // Picked below the kernel's ephemeral range: a port from bind(0) comes
    // from that range, where every outgoing connection of every test takes
    // its local port too, so one could take it before the server binds it
    // ("Address already in use"). Random, so parallel tests rarely pick
    // the same one, and free when picked.
    static PICKED: AtomicU64 = AtomicU64::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(32_768);
    let (low, high) = (10_000, ephemeral_low.max(20_000));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    for n in 0..1_000u64 {
        let seed = nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ PICKED.fetch_add(1, Ordering::Relaxed)
            ^ n;
        let port = low + splitmix64(seed) % (high - low);
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port as u16)) {
            return listener.local_addr().expect("local addr").to_string();
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").to_string()
}

/// A well-mixed 64-bit value of `seed` (SplitMix64's finalizer).
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes a YAML config for `atesto tlog --config`.
pub fn write_config(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("tlog.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path
}

/// A running `atesto tlog` (or `atesto ct`), killed when dropped.
pub struct Tlog {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
    /// The child's stderr goes to a file, not a pipe nobody drains: a full
    /// pipe would block the server's logging and so the server.
    stderr: tempfile::NamedTempFile,
    client: reqwest::blocking::Client,
}

impl Tlog {
    /// Starts `atesto tlog --data DIR --addr <free port> [extra args]` and waits for /healthz.
    pub fn start(data: &Path, extra: &[&str]) -> Tlog {
        Self::start_at(data, &free_addr(), extra)
    }

    /// As `start`, with extra environment variables.
    pub fn start_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Tlog {
        let addr = free_addr();
        let mut command = Self::command("tlog", data, &addr, extra);
        command.envs(env.iter().copied());
        Self::start_command(command, &addr, data)
    }

    pub fn start_at(data: &Path, addr: &str, extra: &[&str]) -> Tlog {
        Self::start_service("tlog", data, addr, extra)
    }

    /// Starts `atesto <service> --data DIR --addr ADDR [extra]` (`tlog` or
    /// `ct`) and waits for /healthz.
    pub fn start_service(service: &str, data: &Path, addr: &str, extra: &[&str]) -> Tlog {
        Self::start_command(Self::command(service, data, addr, extra), addr, data)
    }

    /// Starts `atesto <args>` serving on `addr` and waits for /healthz.
    pub fn start_args(args: &[&OsStr], addr: &str) -> Tlog {
        Self::start_args_env(args, &[], addr)
    }

    /// As `start_args`, with extra environment variables (secrets such as a
    /// key password travel this way, never as flags).
    pub fn start_args_env(args: &[&OsStr], env: &[(&str, &str)], addr: &str) -> Tlog {
        let mut command = Self::base_command();
        command.args(args).envs(env.iter().copied());
        Self::start_command(command, addr, Path::new(""))
    }

    fn start_command(mut command: Command, addr: &str, data: &Path) -> Tlog {
        let stderr = tempfile::NamedTempFile::new().expect("stderr file");
        let child = command
            .stderr(stderr.reopen().expect("reopen stderr file"))
            .spawn()
            .expect("spawn atesto");
        let mut tlog = Tlog {
            child,
            addr: addr.to_owned(),
            data: data.to_owned(),
            stderr,
            client: client(),
        };
        tlog.wait_ready();
        tlog
    }

    /// Spawns with stderr piped, without waiting (for starts expected to fail).
    pub fn spawn(data: &Path, addr: &str, extra: &[&str]) -> Child {
        Self::spawn_env(data, addr, extra, &[])
    }

    /// As `spawn`, with extra environment variables.
    pub fn spawn_env(data: &Path, addr: &str, extra: &[&str], env: &[(&str, &str)]) -> Child {
        Self::command("tlog", data, addr, extra)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn atesto tlog")
    }

    fn command(service: &str, data: &Path, addr: &str, extra: &[&str]) -> Command {
        let mut command = Self::base_command();
        command
            .args([service, "--data"])
            .arg(data)
            .args(["--addr", addr])
            .args(services::store_args(service, data))
            .args(extra);
        command
    }

    fn base_command() -> Command {
        let mut command = Command::new(atesto_bin());
        command
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        command
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// What the child has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("atesto exited with {status}: {}", self.stderr());
            }
            if let Ok(response) = self.client.get(self.url("/healthz")).send()
                && response.status().is_success()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("atesto did not become healthy at {}", self.addr);
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn get(&self, path: &str) -> Reply {
        Reply::from(self.client.get(self.url(path)).send().expect("GET"))
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, serde_json::to_vec(body).unwrap())
    }

    pub fn post_raw(&self, path: &str, body: Vec<u8>) -> Reply {
        let request = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body);
        Reply::from(request.send().expect("POST"))
    }

    /// POSTs JSON with `Authorization: Bearer <token>`.
    pub fn post_bearer(&self, path: &str, body: &Value, token: &str) -> Reply {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(body).unwrap());
        Reply::from(request.send().expect("POST"))
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> Reply {
        Reply::from(
            self.client
                .request(method, self.url(path))
                .send()
                .expect("request"),
        )
    }

    /// The log's public key, from GET /api/v1/log/publicKey.
    pub fn public_key(&self) -> LogKey {
        let reply = self.get("/api/v1/log/publicKey");
        assert_eq!(reply.status, 200, "{}", reply.text);
        LogKey::from_pem(&reply.text)
    }

    /// GET /api/v1/log as JSON.
    pub fn log_info(&self) -> Value {
        let reply = self.get("/api/v1/log");
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }

    /// Submits a ProposedEntry, expects 201 and checks the reply completely.
    pub fn submit(&self, proposed: &Value, key: &LogKey) -> LogEntry {
        let reply = self.post("/api/v1/log/entries", proposed);
        assert_eq!(reply.status, 201, "{}", reply.text);
        let entry = LogEntry::from_reply(&reply.text);
        assert_eq!(reply.header("ETag"), Some(entry.id.as_str()));
        assert_eq!(
            reply.header("Location"),
            Some(format!("/api/v1/log/entries/{}", entry.id).as_str())
        );
        entry.verify(key);
        entry
    }
}

impl Drop for Tlog {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A log on a new temporary data directory (`<tmp>/data`), started with the
/// YAML `config` (when not empty) and `extra` flags, and its public key.
/// Keep the directory alive as long as the log.
pub fn fresh_log(config: &str, extra: &[&str]) -> (tempfile::TempDir, Tlog, LogKey) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = write_config(dir.path(), config);
    let mut args: Vec<&str> = Vec::new();
    if !config.is_empty() {
        args.extend(["--config", config_path.to_str().unwrap()]);
    }
    args.extend(extra);
    let tlog = Tlog::start(&dir.path().join("data"), &args);
    let key = tlog.public_key();
    (dir, tlog, key)
}

/// Submits `n` unique entries from `threads` threads at once; returns them by index.
pub fn submit_concurrently(tlog: &Tlog, key: &LogKey, n: usize, threads: usize) -> Vec<LogEntry> {
    let mut entries: Vec<LogEntry> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let signer = Signer::new();
                    (t..n)
                        .step_by(threads)
                        .map(|i| {
                            tlog.submit(&signer.hashedrekord(format!("bulk {i}").as_bytes()), key)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    entries.sort_by_key(|e| e.log_index);
    entries
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Waits for a child to exit, up to `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Reads a child's piped stderr to the end (after it has exited).
pub fn read_stderr(child: &mut Child) -> String {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    stderr
}

/// An HTTP answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
    pub text: String,
}

impl From<reqwest::blocking::Response> for Reply {
    fn from(response: reqwest::blocking::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().expect("read body").to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status,
            headers,
            bytes,
            text,
        }
    }
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// Asserts a Rekor-shaped error: this status, JSON `{"code": status, "message": "..."}`
    /// and nothing else. Returns the message.
    pub fn expect_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        assert!(
            self.header("Content-Type")
                .is_some_and(|t| t.starts_with("application/json")),
            "error without a JSON content type: {:?}",
            self.headers
        );
        let body = self.json();
        let object = body.as_object().expect("error body is an object");
        assert_eq!(object.len(), 2, "error body has other keys: {body}");
        assert_eq!(
            object["code"], status,
            "code differs from the status: {body}"
        );
        let message = object["message"].as_str().expect("message is a string");
        assert!(!message.is_empty(), "empty error message");
        message.to_owned()
    }
}

/// Fetches and verifies the consistency proof between two sizes of a shard.
pub fn check_consistency(
    tlog: &Tlog,
    tree_id: Option<u64>,
    (first, first_root): (u64, Hash),
    (second, second_root): (u64, Hash),
) {
    let shard = tree_id.map_or_else(String::new, |t| format!("&treeID={t}"));
    let reply = tlog.get(&format!(
        "/api/v1/log/proof?firstSize={first}&lastSize={second}{shard}"
    ));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let proof = reply.json();
    assert_eq!(hex32(proof["rootHash"].as_str().unwrap()), second_root);
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex32(h.as_str().unwrap()))
        .collect();
    assert!(
        verify_consistency(first, second, &hashes, &first_root, &second_root),
        "consistency proof {first} -> {second} does not verify"
    );
}
