//! `atesto dev` for real-client tests: the running stack, the identities its
//! development issuers hand out, and how a client command is run and judged.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Tlog, free_addr};

/// The `sha` claim of `atesto dev token --github` tokens.
pub const GITHUB_SHA: &str = "0123456789abcdef0123456789abcdef01234567";
pub const GITHUB_REPO: &str = "atesto-dev/widget";

/// A running `atesto dev` (CA + CT log + transparency log) on free loopback
/// ports with its own data directory; killed when dropped.
pub struct Dev {
    _server: Tlog,
    pub dir: tempfile::TempDir,
    pub ca: String,
    pub tlog: String,
    /// The Rekor v2 log's address.
    pub rekor_v2: String,
}

impl Dev {
    pub fn start() -> Dev {
        Self::start_with(&[])
    }

    /// `atesto dev` with `extra` flags (`--database URL`, ...).
    pub fn start_with(extra: &[&str]) -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let ca = free_addr();
        let tlog = free_addr();
        let rekor_v2 = free_addr();
        let args = [
            OsStr::new("dev"),
            OsStr::new("--data"),
            dir.path().as_os_str(),
            OsStr::new("--ca-addr"),
            OsStr::new(&ca),
            OsStr::new("--tlog-addr"),
            OsStr::new(&tlog),
            OsStr::new("--rekor-v2-addr"),
            OsStr::new(&rekor_v2),
        ];
        let args: Vec<&OsStr> = args
            .into_iter()
            .chain(extra.iter().map(OsStr::new))
            .collect();
        // Waits for /healthz on the CA address; the log address is polled below.
        let server = Tlog::start_args(&args, &ca);
        let client = super::client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = client
                .get(format!("http://{tlog}/healthz"))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ok && dir.path().join("trust_config.json").exists() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "atesto dev: log at {tlog} not healthy or no trust_config.json: {}",
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Dev {
            _server: server,
            dir,
            ca,
            tlog,
            rekor_v2,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn trust_config(&self) -> PathBuf {
        self.path("trust_config.json")
    }

    pub fn trusted_root(&self) -> PathBuf {
        self.path("trusted_root.json")
    }

    pub fn fulcio_url(&self) -> String {
        format!("http://{}", self.ca)
    }

    pub fn rekor_url(&self) -> String {
        format!("http://{}", self.tlog)
    }

    pub fn rekor_v2_url(&self) -> String {
        format!("http://{}", self.rekor_v2)
    }

    pub fn issuer(&self, kind: &str) -> String {
        format!("http://{}/dev-oidc/{kind}", self.ca)
    }

    /// `atesto dev token --data DIR <args>`, written to a file (clients read
    /// it from there, so tokens stay off command lines where possible).
    pub fn token(&self, args: &[&str]) -> PathBuf {
        let out = Command::new(super::atesto_bin())
            .args(["dev", "token", "--data"])
            .arg(self.dir.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "atesto dev token {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
        let path = self.path(&format!("token-{}", rand_suffix()));
        std::fs::write(&path, &token).unwrap();
        path
    }
}

/// The three identities the dev issuers hand out.
pub enum Who {
    Email(&'static str),
    K8s(&'static str, &'static str),
    GitHub,
}

impl Who {
    pub fn token(&self, dev: &Dev) -> PathBuf {
        match self {
            Who::Email(email) => dev.token(&["--email", email]),
            Who::K8s(ns, sa) => dev.token(&["--k8s", &format!("{ns}/{sa}")]),
            Who::GitHub => dev.token(&["--github", GITHUB_REPO]),
        }
    }

    pub fn san(&self) -> String {
        match self {
            Who::Email(email) => (*email).to_owned(),
            Who::K8s(ns, sa) => {
                format!("https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}")
            }
            Who::GitHub => format!(
                "https://github.com/{GITHUB_REPO}/.github/workflows/release.yml@refs/heads/main"
            ),
        }
    }

    pub fn issuer(&self, dev: &Dev) -> String {
        dev.issuer(match self {
            Who::Email(_) => "email",
            Who::K8s(..) => "kubernetes",
            Who::GitHub => "github",
        })
    }
}

pub fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes `contents` under the dev directory and returns its path.
pub fn write(dev: &Dev, name: &str, contents: &[u8]) -> PathBuf {
    let path = dev.path(name);
    std::fs::write(&path, contents).unwrap();
    path
}

// ---------------------------------------------------------------------------
// Running the clients

pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/clients")
}

pub fn installed(relative: &str) -> PathBuf {
    let path = clients_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-clients (scripts/test does)",
        path.display()
    );
    path
}

/// `sigstore --trust-config DIR/trust_config.json <args>` (sigstore-python CLI).
pub fn python(dev: &Dev, args: &[&OsStr]) -> Command {
    let mut command = Command::new(installed("python/bin/sigstore"));
    command
        .arg("--trust-config")
        .arg(dev.trust_config())
        .args(args);
    command
}

/// `python tests/clients/python/<script>` in the sigstore-python venv.
pub fn python_script(script: &str) -> Command {
    let mut command = Command::new(installed("python/bin/python"));
    command.arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients/python")
            .join(script),
    );
    command
}

/// `node tests/clients/js/client.js <args>` with the installed sigstore-js.
pub fn js(args: &[&OsStr]) -> Command {
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", installed("js/node_modules"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/js/client.js"))
        .args(args);
    command
}

/// Runs a client; Ok(output) on exit 0, Err(output) otherwise.
pub fn run(mut command: Command) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .env_remove("SIGSTORE_ID_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let text = format!(
        "{command:?}\nexit {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[track_caller]
pub fn ok(what: &str, command: Command) {
    if let Err(out) = run(command) {
        panic!("{what} failed:\n{out}");
    }
}

/// The client must exit non-zero, and not because its arguments were wrong.
#[track_caller]
pub fn refused(what: &str, command: Command) -> String {
    match run(command) {
        Ok(out) => panic!("{what} was accepted:\n{out}"),
        Err(out) => {
            assert!(
                !out.contains("usage:") && !out.contains("ERR_PARSE_ARGS"),
                "{what} failed on its arguments, not on the check:\n{out}"
            );
            out
        }
    }
}

pub fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}
