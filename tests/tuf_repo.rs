//! The TUF repository of the trust documents, read by clients that did not
//! write it: tough's own client (RepositoryLoader, full TUF verification
//! from a trusted root.json), sigstore-python 4.5.1 (`--instance`, python-tuf)
//! and the sigstore-js CLI (`--tuf-mirror-url`, tuf-js), the latter two as
//! installed by scripts/install-clients. A missing client fails the test.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Url;
use tough::{IntoVec, RepositoryLoader, TargetName};

use support::*;

const TRUSTED_ROOT: &str = "trusted_root.json";
const SIGNING_CONFIG: &str = "signing_config.v0.2.json";

/// `atesto dev` on free ports, its state under `data`; killed when dropped.
struct Dev {
    _server: Tlog,
    ca: String,
    tlog: String,
}

fn start_dev(data: &Path) -> Dev {
    start_dev_at(data, &free_addr(), &free_addr())
}

/// Also restarts a stack on the addresses clients already know.
fn start_dev_at(data: &Path, ca: &str, tlog: &str) -> Dev {
    let server = Tlog::start_args(
        &[
            OsStr::new("dev"),
            OsStr::new("--data"),
            data.as_os_str(),
            OsStr::new("--ca-addr"),
            OsStr::new(ca),
            OsStr::new("--tlog-addr"),
            OsStr::new(tlog),
        ],
        ca,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client()
        .get(format!("http://{tlog}/healthz"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "log not up: {}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    Dev {
        _server: server,
        ca: ca.to_owned(),
        tlog: tlog.to_owned(),
    }
}

/// What tough's client, starting from `root` (bytes of a trusted root.json),
/// verifies in the repository at `repo`: role versions and target bytes.
struct Loaded {
    root_version: u64,
    targets_version: u64,
    timestamp_version: u64,
    trusted_root: Vec<u8>,
    signing_config: Vec<u8>,
}

fn load(root: &[u8], repo: &Path) -> Result<Loaded, String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let repo = std::fs::canonicalize(repo).unwrap();
        let metadata = Url::from_directory_path(&repo).unwrap();
        let targets = Url::from_directory_path(repo.join("targets")).unwrap();
        let loaded = RepositoryLoader::new(&root, metadata, targets)
            .load()
            .await
            .map_err(|e| format!("tough refused the repository: {e}"))?;
        let mut read = Vec::new();
        for name in [TRUSTED_ROOT, SIGNING_CONFIG] {
            let stream = loaded
                .read_target(&TargetName::new(name).unwrap())
                .await
                .map_err(|e| format!("target {name}: {e}"))?
                .ok_or_else(|| format!("no target {name}"))?;
            read.push(
                stream
                    .into_vec()
                    .await
                    .map_err(|e| format!("target {name}: {e}"))?,
            );
        }
        let signing_config = read.pop().unwrap();
        let trusted_root = read.pop().unwrap();
        Ok(Loaded {
            root_version: loaded.root().signed.version.get(),
            targets_version: loaded.targets().signed.version.get(),
            timestamp_version: loaded.timestamp().signed.version.get(),
            trusted_root,
            signing_config,
        })
    })
}

fn succeed(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn trust_root(config: &Path, out: &Path, tuf: &[&OsStr]) -> std::process::Output {
    Command::new(atesto_bin())
        .args([OsStr::new("trust-root"), OsStr::new("--config")])
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(tuf)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn write_config(dir: &Path, operator: &str) -> PathBuf {
    let config = dir.join("trust.yaml");
    std::fs::write(
        &config,
        format!(
            "operator: {operator}\n\
             cas:\n  - {{url: https://fulcio.example, chain: dev/ca-chain.pem, valid_from: 2026-01-01T00:00:00Z}}\n\
             tlogs:\n  - {{url: https://rekor.example, public_key: dev/rekor.pub, valid_from: 2026-01-01T00:00:00Z}}\n\
             ctlogs:\n  - {{url: https://ct.example, public_key: dev/ctlog.pub, valid_from: 2026-01-01T00:00:00Z}}\n"
        ),
    )
    .unwrap();
    config
}

#[test]
fn trust_root_publishes_a_repository_tough_verifies_and_re_runs_extend_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    drop(start_dev(&data)); // keys and CA chain for the config
    let out = dir.path().join("out");
    let repo = dir.path().join("tuf");
    let key = dir.path().join("tuf-key.pem");
    let tuf_args = [
        OsStr::new("--tuf-repo"),
        repo.as_os_str(),
        OsStr::new("--tuf-key"),
        key.as_os_str(),
    ];

    let config = write_config(dir.path(), "first");
    succeed(trust_root(&config, &out, &tuf_args));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "TUF key mode {mode:o}");
    }
    let root_v1 = std::fs::read(repo.join("root.json")).unwrap();
    assert_eq!(root_v1, std::fs::read(repo.join("1.root.json")).unwrap());
    let first = load(&root_v1, &repo).unwrap();
    assert_eq!(
        (
            first.root_version,
            first.targets_version,
            first.timestamp_version
        ),
        (1, 1, 1)
    );
    assert_eq!(
        first.trusted_root,
        std::fs::read(out.join("trusted_root.json")).unwrap()
    );
    assert_eq!(
        first.signing_config,
        std::fs::read(out.join("signing_config.json")).unwrap()
    );
    // The layout clients fetch: versioned metadata, hash-prefixed targets.
    for name in ["1.targets.json", "1.snapshot.json", "timestamp.json"] {
        assert!(repo.join(name).is_file(), "{name} missing");
    }
    let target_files: Vec<String> = std::fs::read_dir(repo.join("targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        target_files
            .iter()
            .any(|n| n.len() == 64 + 1 + TRUSTED_ROOT.len() && n.ends_with(TRUSTED_ROOT)),
        "{target_files:?}"
    );

    // New documents and a renewed root: next versions, and a client
    // holding only root v1 follows the chain to v2.
    let config = write_config(dir.path(), "second");
    let mut renew = tuf_args.to_vec();
    renew.push(OsStr::new("--tuf-renew-root"));
    succeed(trust_root(&config, &out, &renew));
    let second = load(&root_v1, &repo).unwrap();
    assert_eq!(
        (
            second.root_version,
            second.targets_version,
            second.timestamp_version
        ),
        (2, 2, 2)
    );
    assert_eq!(
        second.signing_config,
        std::fs::read(out.join("signing_config.json")).unwrap()
    );
    assert!(String::from_utf8_lossy(&second.signing_config).contains("second"));
    assert_ne!(second.signing_config, first.signing_config);

    // A plain re-run keeps the root (far from expiry) and moves the rest on.
    succeed(trust_root(&config, &out, &tuf_args));
    let third = load(&root_v1, &repo).unwrap();
    assert_eq!(
        (
            third.root_version,
            third.targets_version,
            third.timestamp_version
        ),
        (2, 3, 3)
    );
    assert!(!repo.join("3.root.json").exists());
    // Nothing half-written stays behind to be served.
    assert!(
        std::fs::read_dir(&repo).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.')),
    );

    // A tampered target fails verification.
    let victim = std::fs::read_dir(repo.join("targets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let bytes = std::fs::read(p).unwrap();
            p.to_string_lossy().ends_with(SIGNING_CONFIG) && bytes == third.signing_config
        })
        .unwrap();
    let mut bytes = third.signing_config.clone();
    bytes[10] ^= 1;
    std::fs::write(&victim, &bytes).unwrap();
    let refused = load(&root_v1, &repo)
        .err()
        .expect("tampered target accepted");
    assert!(refused.contains(SIGNING_CONFIG), "{refused}");

    // Another key cannot take over the repository.
    let other = dir.path().join("other-key.pem");
    let out_other = trust_root(
        &config,
        &out,
        &[
            OsStr::new("--tuf-repo"),
            repo.as_os_str(),
            OsStr::new("--tuf-key"),
            other.as_os_str(),
        ],
    );
    assert!(!out_other.status.success());
    assert!(
        String::from_utf8_lossy(&out_other.stderr).contains("rotating the TUF key"),
        "{}",
        String::from_utf8_lossy(&out_other.stderr)
    );
    // And the key is never written where it would be published.
    let inside = repo.join("key.pem");
    let out_inside = trust_root(
        &config,
        &out,
        &[
            OsStr::new("--tuf-repo"),
            repo.as_os_str(),
            OsStr::new("--tuf-key"),
            inside.as_os_str(),
        ],
    );
    assert!(!out_inside.status.success());
    assert!(!inside.exists());
}

#[test]
fn dev_serves_its_tuf_repository_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    let dev = start_dev(&data);
    let repo = data.join("tuf");
    let root = std::fs::read(repo.join("root.json")).unwrap();
    let loaded = load(&root, &repo).unwrap();
    assert_eq!(
        loaded.trusted_root,
        std::fs::read(data.join("trusted_root.json")).unwrap()
    );
    assert_eq!(
        loaded.signing_config,
        std::fs::read(data.join("signing_config.json")).unwrap()
    );
    let http = client();
    for name in [
        "1.root.json",
        "timestamp.json",
        "1.snapshot.json",
        "1.targets.json",
    ] {
        let reply = http
            .get(format!("http://{}/tuf/{name}", dev.ca))
            .send()
            .unwrap();
        assert_eq!(reply.status(), 200, "{name}");
        assert_eq!(
            reply.bytes().unwrap().as_ref(),
            std::fs::read(repo.join(name)).unwrap(),
            "{name}"
        );
    }
    // The next root does not exist yet: clients stop walking on a 404.
    let missing = http
        .get(format!("http://{}/tuf/2.root.json", dev.ca))
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404);

    // A restart re-signs: the next versions, same key, same root.
    let (ca, tlog) = (dev.ca.clone(), dev.tlog.clone());
    drop(dev);
    let _dev = start_dev_at(&data, &ca, &tlog);
    let again = load(&root, &repo).unwrap();
    assert_eq!(
        (
            again.root_version,
            again.targets_version,
            again.timestamp_version
        ),
        (1, 2, 2)
    );
}

// --- real sigstore clients

fn installed(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/clients")
        .join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-clients",
        path.display()
    );
    path
}

fn run(what: &str, mut command: Command) -> String {
    let out = command
        .stdin(Stdio::null())
        .env_remove("SIGSTORE_ID_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let text = format!(
        "{what}: {command:?}\nexit {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

/// `sigstore --instance URL <args>` with its TUF cache under `home`.
fn sigstore_python(home: &Path, url: &str, args: &[&OsStr]) -> Command {
    let mut command = Command::new(installed("python/bin/sigstore"));
    command
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .arg("--instance")
        .arg(url)
        .args(args);
    command
}

#[test]
fn sigstore_python_and_js_trust_the_dev_stack_over_tuf() {
    installed("python/bin/sigstore");
    let js_cli = installed("js/node_modules/.bin/sigstore");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    let dev = start_dev(&data);
    let url = format!("http://{}/tuf", dev.ca);
    let home = dir.path().join("home");
    let root = data.join("tuf/root.json");
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed over TUF\n").unwrap();
    let bundle = dir.path().join("artifact.txt.sigstore.json");
    let issuer = format!("http://{}/dev-oidc/email", dev.ca);
    let token = succeed(atesto(&[
        "dev",
        "token",
        "--data",
        data.to_str().unwrap(),
        "--email",
        "tuf@example.com",
    ]));

    run(
        "sigstore trust-instance",
        sigstore_python(
            &home,
            &url,
            &[OsStr::new("trust-instance"), root.as_os_str()],
        ),
    );
    run(
        "sigstore sign",
        sigstore_python(
            &home,
            &url,
            &[
                OsStr::new("sign"),
                // The Rekor v1 log: @sigstore/cli 0.8.1, below, verifies with
                // @sigstore/verify 2.1, which cannot check a v2 entry (no
                // integrated time, an Ed25519 checkpoint).
                OsStr::new("--rekor-version"),
                OsStr::new("1"),
                OsStr::new("--identity-token"),
                OsStr::new(token.trim()),
                OsStr::new("--bundle"),
                bundle.as_os_str(),
                artifact.as_os_str(),
            ],
        ),
    );
    let verify = |what: &str| {
        run(
            what,
            sigstore_python(
                &home,
                &url,
                &[
                    OsStr::new("verify"),
                    OsStr::new("identity"),
                    OsStr::new("--bundle"),
                    bundle.as_os_str(),
                    OsStr::new("--cert-identity"),
                    OsStr::new("tuf@example.com"),
                    OsStr::new("--cert-oidc-issuer"),
                    OsStr::new(&issuer),
                    artifact.as_os_str(),
                ],
            ),
        )
    };
    verify("sigstore verify identity");

    // sigstore-js (tuf-js) from the same mirror, bootstrapped with root.json.
    let js_verify = |cache: &Path| {
        let mut command = Command::new(&js_cli);
        command
            .env("HOME", &home)
            .arg("verify")
            .arg(&bundle)
            .arg("--blob-file")
            .arg(&artifact)
            .args(["--certificate-identity-email", "tuf@example.com"])
            .arg("--certificate-issuer")
            .arg(&issuer)
            .arg("--tuf-mirror-url")
            .arg(&url)
            .arg("--tuf-root-path")
            .arg(&root)
            .arg("--tuf-cache-path")
            .arg(cache);
        run("sigstore-js verify", command)
    };
    let js_cache = dir.path().join("js-tuf");
    std::fs::create_dir_all(&js_cache).unwrap();
    js_verify(&js_cache);

    // After a restart the repository is re-signed at the next versions:
    // both clients update from the metadata they cached.
    let (ca, tlog) = (dev.ca.clone(), dev.tlog.clone());
    drop(dev);
    let dev = start_dev_at(&data, &ca, &tlog);
    verify("sigstore verify identity after an update");
    js_verify(&js_cache);
    let cached = home
        .join("data/sigstore-python/tuf")
        .read_dir()
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert!(cached > 0, "no sigstore-python TUF cache under {home:?}");
    drop(dev);
}
