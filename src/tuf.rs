//! A static TUF repository distributing the deployment's trust documents the
//! way sigstore clients fetch them: `sigstore --instance URL` (python-tuf)
//! and sigstore-js `tufMirrorURL` read `URL/N.root.json`, `URL/timestamp.json`,
//! `URL/N.snapshot.json`, `URL/N.targets.json` and the targets as
//! `URL/targets/SHA256.NAME` (consistent snapshots).
//!
//! One key holds every top-level role (threshold 1): the repository is
//! re-signed unattended whenever the trust documents change or the
//! timestamp nears expiry, so that key is an online key by nature.
//! Re-publishing never starts over: every run signs the next targets,
//! snapshot and timestamp versions, and a new root version (signed by the
//! same key, so clients holding any older root follow the chain) only when
//! the root nears expiry or is asked for.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atesto_common::keys::{KeyError, KeyType, PrivateKey};
use aws_lc_rs::rand::SystemRandom;
use jiff::Timestamp;
use tough::editor::RepositoryEditor;
use tough::editor::signed::{PathExists, SignedRole};
use tough::key_source::KeySource;
use tough::schema::{
    KeyHolder, RoleKeys, RoleType, Root, Signed, Snapshot, Timestamp as TufTimestamp,
};
use tough::sign::Sign;

/// The target sigstore clients look up for the trusted root (sigstore-python
/// and sigstore-js alike).
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// The target sigstore-python 4.x looks up for the signing config (v0.2 format).
pub const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

const DAY: u64 = 24 * 60 * 60;

/// How long each role's signature holds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub root: Duration,
    pub targets: Duration,
    pub snapshot: Duration,
    pub timestamp: Duration,
}

impl Default for Lifetimes {
    /// The timestamp is the freshness guarantee: a week bounds how long a
    /// mirror can replay stale metadata (a freeze attack) unnoticed, at the
    /// price of re-publishing at least weekly. Targets and snapshot change
    /// only with the trust documents; three months leaves room for a
    /// less available key there later. The root is renewed rarely (clients
    /// walk every version), so a year; it is re-signed once half is used.
    fn default() -> Self {
        Lifetimes {
            root: Duration::from_secs(365 * DAY),
            targets: Duration::from_secs(90 * DAY),
            snapshot: Duration::from_secs(90 * DAY),
            timestamp: Duration::from_secs(7 * DAY),
        }
    }
}

/// One trust document to publish as a target.
pub struct Target<'a> {
    pub name: &'a str,
    pub contents: &'a [u8],
}

/// The versions a publication signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub root_version: u64,
    pub targets_version: u64,
    pub snapshot_version: u64,
    pub timestamp_version: u64,
    /// Whether this run signed a new root version.
    pub root_renewed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TufError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not TUF {role} metadata: {source}")]
    Metadata {
        path: String,
        role: &'static str,
        source: serde_json::Error,
    },
    #[error(
        "the TUF signing key {key} is inside the repository {repo}, which is published: keep it elsewhere"
    )]
    KeyInRepository { key: String, repo: String },
    #[error(
        "{root} does not give the key {key} every role: rotating the TUF key needs the old key to sign the new root (not supported); publish to a new repository to start over"
    )]
    ForeignKey { root: String, key: String },
    #[error("{0} holds TUF metadata but no timestamp.json or snapshot it names")]
    Incomplete(String),
    // Boxed: tough's errors carry backtraces and would bloat every Result here.
    #[error("TUF: {0}")]
    Tough(Box<tough::error::Error>),
    #[error("TUF key: {0}")]
    KeyId(Box<tough::schema::Error>),
    #[error("TUF: {0}")]
    Sign(String),
}

impl From<tough::error::Error> for TufError {
    fn from(e: tough::error::Error) -> Self {
        TufError::Tough(Box::new(e))
    }
}

impl From<tough::schema::Error> for TufError {
    fn from(e: tough::schema::Error) -> Self {
        TufError::KeyId(Box::new(e))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TufError + '_ {
    move |source| TufError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The TUF key as tough signs with it: the PKCS#8 DER of an Atesto key.
struct TufKey {
    pkcs8_der: Vec<u8>,
}

impl std::fmt::Debug for TufKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TufKey").finish_non_exhaustive()
    }
}

#[tough::async_trait]
impl KeySource for TufKey {
    async fn as_sign(
        &self,
    ) -> Result<Box<dyn Sign>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        Ok(Box::new(tough::sign::parse_keypair(&self.pkcs8_der)?))
    }

    async fn write(
        &self,
        _value: &str,
        _key_id_hex: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        // tough writes keys back only when rotating them, which Atesto never asks for.
        Err("the Atesto TUF key is read-only".into())
    }
}

/// Publishes `targets` (exactly these: earlier ones are dropped) into the
/// TUF repository at `repo`, signed with the key at `key_path` (Ed25519,
/// PKCS#8 PEM, mode 0600, made on first use). `renew_root` signs a new
/// root version even when the current one is far from expiry.
pub async fn publish(
    repo: &Path,
    key_path: &Path,
    targets: &[Target<'_>],
    lifetimes: &Lifetimes,
    renew_root: bool,
) -> Result<Published, TufError> {
    std::fs::create_dir_all(repo).map_err(io_err(repo))?;
    refuse_key_inside(repo, key_path)?;
    let key = PrivateKey::load_or_create(key_path, KeyType::Ed25519)?;
    let pem = key.to_pkcs8_pem()?;
    let (_, pkcs8_der) =
        pem_rfc7468::decode_vec(pem.as_bytes()).map_err(|e| KeyError::Pem(e.to_string()))?;
    let signer = tough::sign::parse_keypair(&pkcs8_der)?;
    let keys: Vec<Box<dyn KeySource>> = vec![Box::new(TufKey { pkcs8_der })];

    let now = Timestamp::now();
    let expires = |lifetime: Duration| -> Result<Timestamp, TufError> {
        // Whole seconds: python-tuf parses `expires` as %Y-%m-%dT%H:%M:%SZ.
        let secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        Timestamp::from_second(now.as_second().saturating_add(secs))
            .map_err(|e| TufError::Sign(format!("expiry out of range: {e}")))
    };

    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(repo)
        .map_err(io_err(repo))?;
    let rng = SystemRandom::new();

    // The current root, or a first one giving our key every role.
    let (root_path, root_renewed) = match latest_root(repo)? {
        Some((path, root)) => {
            let holds_every_role = root.signed.key_id(&signer).is_some_and(|id| {
                [
                    RoleType::Root,
                    RoleType::Targets,
                    RoleType::Snapshot,
                    RoleType::Timestamp,
                ]
                .iter()
                .all(|role| {
                    root.signed
                        .roles
                        .get(role)
                        .is_some_and(|keys| keys.keyids.contains(&id))
                })
            });
            if !holds_every_role {
                return Err(TufError::ForeignKey {
                    root: path.display().to_string(),
                    key: key_path.display().to_string(),
                });
            }
            let remaining = root.signed.expires.as_second() - now.as_second();
            let half = i64::try_from(lifetimes.root.as_secs() / 2).unwrap_or(i64::MAX);
            if renew_root || remaining < half {
                let mut next = root.signed.clone();
                next.version = next.version.saturating_add(1);
                next.expires = expires(lifetimes.root)?;
                (sign_root(next, &keys, &rng, staging.path()).await?, true)
            } else {
                (path, false)
            }
        }
        None => {
            let tuf_key = signer.tuf_key();
            let key_id = tuf_key.key_id()?;
            let role = || RoleKeys {
                keyids: vec![key_id.clone()],
                threshold: NonZeroU64::MIN,
                _extra: HashMap::new(),
            };
            let root = Root {
                spec_version: "1.0.0".into(),
                // Clients fetch N.targets.json and targets/HASH.NAME: a
                // mirror mid-update never serves a mix of versions.
                consistent_snapshot: true,
                version: NonZeroU64::MIN,
                expires: expires(lifetimes.root)?,
                keys: HashMap::from([(key_id.clone(), tuf_key)]),
                roles: HashMap::from([
                    (RoleType::Root, role()),
                    (RoleType::Targets, role()),
                    (RoleType::Snapshot, role()),
                    (RoleType::Timestamp, role()),
                ]),
                _extra: HashMap::new(),
            };
            (sign_root(root, &keys, &rng, staging.path()).await?, true)
        }
    };

    let (targets_version, snapshot_version, timestamp_version) = next_versions(repo)?;
    let mut editor = RepositoryEditor::new(&root_path).await?;
    let inputs = staging.path().join("targets");
    std::fs::create_dir_all(&inputs).map_err(io_err(&inputs))?;
    let mut input_paths = Vec::new();
    for target in targets {
        let path = inputs.join(target.name);
        std::fs::write(&path, target.contents).map_err(io_err(&path))?;
        editor.add_target_path(&path).await?;
        input_paths.push(path);
    }
    editor
        .targets_version(targets_version)?
        .targets_expires(expires(lifetimes.targets)?)?
        .snapshot_version(snapshot_version)
        .snapshot_expires(expires(lifetimes.snapshot)?)
        .timestamp_version(timestamp_version)
        .timestamp_expires(expires(lifetimes.timestamp)?);
    let signed = editor.sign(&keys).await?;

    // Content-addressed target files first: nothing published names them yet.
    let targets_dir = repo.join("targets");
    std::fs::create_dir_all(&targets_dir).map_err(io_err(&targets_dir))?;
    for path in &input_paths {
        signed
            .copy_target(path, &targets_dir, PathExists::Skip, None)
            .await?;
    }
    let metadata = staging.path().join("metadata");
    signed.write(&metadata).await?;
    let root_version = signed_root_version(&root_path)?;
    // Versioned files next, timestamp.json last (a rename: atomic), so a
    // client never reads a timestamp naming a snapshot not yet there.
    let root_name = format!("{root_version}.root.json");
    for name in [
        root_name.clone(),
        format!("{targets_version}.targets.json"),
        format!("{snapshot_version}.snapshot.json"),
    ] {
        let to = repo.join(&name);
        std::fs::rename(metadata.join(&name), &to).map_err(io_err(&to))?;
    }
    // root.json: the latest root, for bootstrapping new clients
    // (`sigstore trust-instance`, sigstore-js `tufRootPath`).
    let latest = metadata.join("root.json");
    std::fs::copy(repo.join(&root_name), &latest).map_err(io_err(&latest))?;
    for name in ["root.json", "timestamp.json"] {
        let to = repo.join(name);
        std::fs::rename(metadata.join(name), &to).map_err(io_err(&to))?;
    }

    Ok(Published {
        root_version,
        targets_version: targets_version.get(),
        snapshot_version: snapshot_version.get(),
        timestamp_version: timestamp_version.get(),
        root_renewed,
    })
}

/// Publishing the private key with the metadata would hand it to everyone.
fn refuse_key_inside(repo: &Path, key_path: &Path) -> Result<(), TufError> {
    let repo = std::fs::canonicalize(repo).map_err(io_err(repo))?;
    let parent = match key_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Ok(parent) = std::fs::canonicalize(&parent)
        && parent.starts_with(&repo)
    {
        return Err(TufError::KeyInRepository {
            key: key_path.display().to_string(),
            repo: repo.display().to_string(),
        });
    }
    Ok(())
}

async fn sign_root(
    root: Root,
    keys: &[Box<dyn KeySource>],
    rng: &SystemRandom,
    dir: &Path,
) -> Result<PathBuf, TufError> {
    let holder = KeyHolder::Root(root.clone());
    let version = root.version;
    let signed = SignedRole::new(root, &holder, keys, rng).await?;
    let path = dir.join(format!("{version}.root.json"));
    std::fs::write(&path, signed.buffer()).map_err(io_err(&path))?;
    Ok(path)
}

fn read_metadata<T: serde::de::DeserializeOwned>(
    path: &Path,
    role: &'static str,
) -> Result<Signed<T>, TufError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&bytes).map_err(|source| TufError::Metadata {
        path: path.display().to_string(),
        role,
        source,
    })
}

fn signed_root_version(path: &Path) -> Result<u64, TufError> {
    Ok(read_metadata::<Root>(path, "root")?.signed.version.get())
}

/// The highest `N.root.json` in `repo`.
fn latest_root(repo: &Path) -> Result<Option<(PathBuf, Signed<Root>)>, TufError> {
    let mut latest: Option<u64> = None;
    for entry in std::fs::read_dir(repo).map_err(io_err(repo))? {
        let entry = entry.map_err(io_err(repo))?;
        let name = entry.file_name();
        let version = name
            .to_str()
            .and_then(|n| n.strip_suffix(".root.json"))
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(v) = version {
            latest = latest.max(Some(v));
        }
    }
    latest
        .map(|v| {
            let path = repo.join(format!("{v}.root.json"));
            let root = read_metadata::<Root>(&path, "root")?;
            Ok((path, root))
        })
        .transpose()
}

/// The targets, snapshot and timestamp versions after the published ones
/// (all 1 in a new repository): clients refuse lower versions than they hold.
fn next_versions(repo: &Path) -> Result<(NonZeroU64, NonZeroU64, NonZeroU64), TufError> {
    let timestamp_path = repo.join("timestamp.json");
    if !timestamp_path.exists() {
        return Ok((NonZeroU64::MIN, NonZeroU64::MIN, NonZeroU64::MIN));
    }
    let incomplete = || TufError::Incomplete(repo.display().to_string());
    let timestamp = read_metadata::<TufTimestamp>(&timestamp_path, "timestamp")?;
    let snapshot_version = timestamp
        .signed
        .meta
        .get("snapshot.json")
        .ok_or_else(incomplete)?
        .version;
    let snapshot_path = repo.join(format!("{snapshot_version}.snapshot.json"));
    if !snapshot_path.exists() {
        return Err(incomplete());
    }
    let snapshot = read_metadata::<Snapshot>(&snapshot_path, "snapshot")?;
    let targets_version = snapshot
        .signed
        .meta
        .get("targets.json")
        .ok_or_else(incomplete)?
        .version;
    Ok((
        targets_version.saturating_add(1),
        snapshot_version.saturating_add(1),
        timestamp.signed.version.saturating_add(1),
    ))
}
