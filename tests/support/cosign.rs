//! The Go clients (cosign 2.x and 3.x, rekor-cli, sigstore-go, crane and a
//! local OCI registry) against `atesto dev`: where `scripts/install-clients`
//! put them, and how each is pointed at the dev stack and nothing else.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::dev::{Dev, Who, clients_dir, ok, rand_suffix};
use super::free_addr;

/// The path of a Go client, as `scripts/install/go-clients.sh` recorded it in
/// target/clients/go-clients.env (so the pinned versions live in that script).
pub fn go_client(name: &str) -> PathBuf {
    let list = clients_dir().join("go-clients.env");
    let text = std::fs::read_to_string(&list).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run scripts/install-clients (scripts/test does)",
            list.display()
        )
    });
    let relative = text
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{} names no {name}", list.display()));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-clients",
        path.display()
    );
    path
}

/// The two cosign majors under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cosign {
    V2,
    V3,
}

impl Cosign {
    /// `cosign <args>` isolated from the machine: its own HOME and TUF cache
    /// under the dev directory, no ambient SIGSTORE_* settings. cosign 2.x
    /// also gets the keys of `DIR/cosign.env` (its way to trust a private
    /// instance); cosign 3.x is configured by its flags only.
    pub fn command(self, dev: &Dev, args: &[&OsStr]) -> Command {
        let binary = match self {
            Cosign::V2 => go_client("cosign2"),
            Cosign::V3 => go_client("cosign3"),
        };
        let home = dev.path("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut command = Command::new(binary);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SIGSTORE_") {
                command.env_remove(name);
            }
        }
        command
            .env("HOME", &home)
            .env("TUF_ROOT", home.join(".sigstore/root"))
            .env("DOCKER_CONFIG", home.join(".docker"))
            .args(args);
        if self == Cosign::V2 {
            command.envs(cosign_env(dev));
        }
        command
    }
}

/// The variables of `DIR/cosign.env` (KEY=VALUE lines, `#` comments).
pub fn cosign_env(dev: &Dev) -> BTreeMap<String, String> {
    std::fs::read_to_string(dev.path("cosign.env"))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// `--certificate-identity SAN --certificate-oidc-issuer ISSUER`.
pub fn identity_args(dev: &Dev, who: &Who) -> Vec<String> {
    vec![
        "--certificate-identity".into(),
        who.san(),
        "--certificate-oidc-issuer".into(),
        who.issuer(dev),
    ]
}

/// A fresh artifact with random contents under the dev directory.
pub fn artifact(dev: &Dev, name: &str) -> PathBuf {
    let path = dev.path(&format!("{name}-{}", rand_suffix()));
    let mut contents = format!("artifact {name} ").into_bytes();
    contents.extend_from_slice(&random_bytes::<16>());
    std::fs::write(&path, contents).unwrap();
    path
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

/// A copy of `original` with one byte more: the same name's artifact, tampered.
pub fn tampered(original: &Path) -> PathBuf {
    let path = original.with_extension("tampered");
    let mut contents = std::fs::read(original).unwrap();
    contents.push(b'!');
    std::fs::write(&path, contents).unwrap();
    path
}

/// `cosign sign-blob` (3.x) configured by `trusted_root.json` and
/// `signing_config.json`, writing a bundle.
pub fn cosign3_sign(dev: &Dev, token: &Path, artifact: &Path, bundle: &Path) -> Command {
    let args = [
        "sign-blob".to_owned(),
        "--yes".into(),
        "--trusted-root".into(),
        dev.trusted_root().display().to_string(),
        "--signing-config".into(),
        dev.path("signing_config.json").display().to_string(),
        "--identity-token".into(),
        token.display().to_string(),
        "--bundle".into(),
        bundle.display().to_string(),
        artifact.display().to_string(),
    ];
    Cosign::V3.command(dev, &os_args(&args))
}

/// `sigstore-go-verify`, requiring one RFC 3161 timestamp from a TSA of `root`.
pub fn go_verify_timestamped(
    root: &Path,
    bundle: &Path,
    artifact: &Path,
    who: &Who,
    dev: &Dev,
) -> Command {
    let mut command = Command::new(go_client("sigstore-go-verify"));
    command
        .arg("--trusted-root")
        .arg(root)
        .arg("--bundle")
        .arg(bundle)
        .arg("--artifact")
        .arg(artifact)
        .args(["--san", &who.san(), "--issuer", &who.issuer(dev)])
        .args(["--signed-timestamps", "1"]);
    command
}

/// Borrows a list of strings as the `&OsStr`s a command takes.
pub fn os_args(args: &[String]) -> Vec<&OsStr> {
    args.iter().map(OsStr::new).collect()
}

// ---------------------------------------------------------------------------
// A local OCI registry (go-containerregistry's `registry`) and crane

/// A running `registry` on a free loopback port, killed when dropped.
pub struct Registry {
    child: std::process::Child,
    /// host:port
    pub addr: String,
}

impl Registry {
    pub fn start() -> Registry {
        let addr = free_addr();
        let port = addr.rsplit_once(':').unwrap().1.to_owned();
        let child = Command::new(go_client("registry"))
            .args(["-port", &port])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = Registry { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&registry.addr).is_err() {
            assert!(Instant::now() < deadline, "registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// Pushes a random single-layer image as REPO:latest and returns its
    /// reference by digest, `host:port/REPO@sha256:...`.
    pub fn push_random_image(&self, dev: &Dev, repo: &str) -> String {
        let layer = dev.path(&format!("layer-{}.tar", rand_suffix()));
        write_tar(&layer, "payload", &random_bytes::<32>());
        let tag = format!("{}/{repo}:latest", self.addr);
        ok(
            "crane append",
            crane(&[
                "append",
                "--insecure",
                "--new_layer",
                layer.to_str().unwrap(),
                "--new_tag",
                &tag,
            ]),
        );
        let out = crane(&["digest", "--insecure", &tag]).output().unwrap();
        assert!(out.status.success(), "crane digest {tag}");
        let digest = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        format!("{}/{repo}@{digest}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn crane(args: &[&str]) -> Command {
    let mut command = Command::new(go_client("crane"));
    command.args(args).stdin(Stdio::null());
    command
}

/// A ustar archive holding one regular file.
fn write_tar(path: &Path, name: &str, contents: &[u8]) {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", contents.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut archive = header.to_vec();
    archive.extend_from_slice(contents);
    archive.resize(archive.len().div_ceil(512) * 512 + 1024, 0);
    std::fs::write(path, archive).unwrap();
}
