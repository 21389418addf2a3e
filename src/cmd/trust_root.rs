//! `atesto trust-root`: the documents clients trust a production deployment
//! with (trusted_root.json, signing_config.json and the combined
//! trust_config.json), built from the deployment's public keys, CA chains
//! and URLs. Each key, chain and URL carries its validity window, so that a
//! rotated key stays listed (with an end) and old bundles keep verifying.

use std::path::{Path, PathBuf};

use anyhow::Context;
use atesto_common::pubkey::PublicKey;
use atesto_common::trust_root::{self, CaChain, LogKey, Service, Validity};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(clap::Args)]
pub struct TrustRootArgs {
    /// YAML describing the deployment (see deploy/trust-root.example.yaml).
    #[arg(long)]
    config: PathBuf,
    /// Directory to write trusted_root.json, signing_config.json and trust_config.json into.
    #[arg(long)]
    out: PathBuf,
    /// Also publish trusted_root.json and signing_config.v0.2.json in this static TUF
    /// repository (serve it as-is; clients: `sigstore --instance URL`, sigstore-js
    /// `tufMirrorURL`). Re-running signs the next versions.
    #[arg(long)]
    tuf_repo: Option<PathBuf>,
    /// Ed25519 key (PKCS#8 PEM) signing the TUF metadata, made on first use.
    /// Keep it out of the repository directory. [default: tuf-key.pem beside --config]
    #[arg(long, requires = "tuf_repo")]
    tuf_key: Option<PathBuf>,
    /// Sign a new TUF root version now (it is renewed anyway once half its year is used).
    #[arg(long, requires = "tuf_repo")]
    tuf_renew_root: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustRootConfig {
    /// Who runs the services (signing config `operator`).
    operator: String,
    cas: Vec<CaEntry>,
    tlogs: Vec<LogEntry>,
    ctlogs: Vec<LogEntry>,
    /// Identity providers clients may offer for interactive sign-in.
    #[serde(default)]
    oidc_urls: Vec<OidcEntry>,
    /// RFC 3161 timestamp authorities (`atesto tsa`): `url` is the timestamp
    /// endpoint (`.../api/v1/timestamp`), `chain` the TSA certificate first.
    #[serde(default)]
    tsas: Vec<CaEntry>,
}

// Every entry has a window: RFC 3339 `valid_from`, and `valid_until` once
// the key, chain or URL is retired.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcEntry {
    url: String,
    valid_from: String,
    valid_until: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaEntry {
    url: String,
    /// PEM: the issuing CA first, the root last.
    chain: PathBuf,
    valid_from: String,
    valid_until: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    url: String,
    /// The log's public key, PEM.
    public_key: PathBuf,
    valid_from: String,
    valid_until: Option<String>,
    /// Of a transparency log: 1 for Rekor v1, 2 for Rekor v2 (tiles; its
    /// Ed25519 key is named by the URL's host, as it signs checkpoints).
    #[serde(default = "rekor_v1")]
    major_api_version: u32,
}

fn rekor_v1() -> u32 {
    1
}

pub async fn run(args: &TrustRootArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let config: TrustRootConfig = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("parsing {}", args.config.display()))?;
    let base = args.config.parent().unwrap_or(Path::new("."));
    if config.cas.is_empty() || config.tlogs.is_empty() || config.ctlogs.is_empty() {
        anyhow::bail!(
            "cas, tlogs and ctlogs each need at least one entry: clients refuse a trust root without them"
        );
    }

    let chains = |entries: &[CaEntry]| -> anyhow::Result<Vec<CaChain>> {
        entries
            .iter()
            .map(|ca| {
                let path = base.join(&ca.chain);
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Ok(CaChain {
                    url: ca.url.clone(),
                    chain_der: atesto_common::pem::certificates(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                        .into_iter()
                        .map(|cert| cert.der)
                        .collect(),
                    valid: validity(&ca.valid_from, ca.valid_until.as_deref())?,
                })
            })
            .collect()
    };
    let logs = |entries: &[LogEntry]| -> anyhow::Result<Vec<LogKey>> {
        entries
            .iter()
            .map(|log| {
                let path = base.join(&log.public_key);
                let pem =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let key = PublicKey::parse(&pem)
                    .with_context(|| format!("public key {}", path.display()))?;
                Ok(LogKey {
                    base_url: log.url.clone(),
                    public_key_der: key.spki_der().to_vec(),
                    valid: validity(&log.valid_from, log.valid_until.as_deref())?,
                })
            })
            .collect()
    };
    let trusted_root = trust_root::trusted_root(
        &logs(&config.tlogs)?,
        &logs(&config.ctlogs)?,
        &chains(&config.cas)?,
        &chains(&config.tsas)?,
    )?;

    let service = |url: &str, from: &str, until: Option<&str>| -> anyhow::Result<Service> {
        Ok(Service {
            url: url.to_owned(),
            major_api_version: 1,
            valid: validity(from, until)?,
            operator: config.operator.clone(),
        })
    };
    let chain_urls = |entries: &[CaEntry]| -> anyhow::Result<Vec<Service>> {
        entries
            .iter()
            .map(|ca| service(&ca.url, &ca.valid_from, ca.valid_until.as_deref()))
            .collect()
    };
    let ca_urls = chain_urls(&config.cas)?;
    let tsa_urls = chain_urls(&config.tsas)?;
    if let Some(log) = config
        .tlogs
        .iter()
        .find(|log| !(1..=2).contains(&log.major_api_version))
    {
        anyhow::bail!(
            "{}: major_api_version {} is neither 1 (Rekor v1) nor 2 (Rekor v2)",
            log.url,
            log.major_api_version
        );
    }
    let rekor_urls = config
        .tlogs
        .iter()
        .map(|log| {
            Ok(Service {
                major_api_version: log.major_api_version,
                ..service(&log.url, &log.valid_from, log.valid_until.as_deref())?
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let oidc_urls = config
        .oidc_urls
        .iter()
        .map(|oidc| service(&oidc.url, &oidc.valid_from, oidc.valid_until.as_deref()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let signing_config = trust_root::signing_config(&ca_urls, &oidc_urls, &rekor_urls, &tsa_urls)?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let write = |name: &str, value: &serde_json::Value| -> anyhow::Result<String> {
        let path = args.out.join(name);
        let text = serde_json::to_string_pretty(value)?;
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        Ok(text)
    };
    let trusted_root_text = write("trusted_root.json", &trusted_root)?;
    let signing_config_text = write("signing_config.json", &signing_config)?;
    write(
        "trust_config.json",
        &trust_root::client_trust_config(trusted_root.clone(), signing_config.clone()),
    )?;
    println!(
        "wrote trusted_root.json, signing_config.json and trust_config.json to {}",
        args.out.display()
    );

    if let Some(repo) = &args.tuf_repo {
        let key = args
            .tuf_key
            .clone()
            .unwrap_or_else(|| base.join("tuf-key.pem"));
        let published = crate::tuf::publish(
            repo,
            &key,
            &[
                crate::tuf::Target {
                    name: crate::tuf::TRUSTED_ROOT_TARGET,
                    contents: trusted_root_text.as_bytes(),
                },
                crate::tuf::Target {
                    name: crate::tuf::SIGNING_CONFIG_TARGET,
                    contents: signing_config_text.as_bytes(),
                },
            ],
            &crate::tuf::Lifetimes::default(),
            args.tuf_renew_root,
        )
        .await
        .with_context(|| format!("publishing the TUF repository {}", repo.display()))?;
        println!(
            "published TUF repository {} (root v{}{}, targets v{}, timestamp v{}; signed with {}); \
             re-run at least weekly: timestamp.json expires in 7 days",
            repo.display(),
            published.root_version,
            if published.root_renewed { " (new)" } else { "" },
            published.targets_version,
            published.timestamp_version,
            key.display(),
        );
    }
    Ok(())
}

fn validity(from: &str, until: Option<&str>) -> anyhow::Result<Validity> {
    let parse = |text: &str| {
        OffsetDateTime::parse(text, &Rfc3339).with_context(|| {
            format!("{text:?} is not an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)")
        })
    };
    let valid = Validity {
        start: parse(from)?,
        end: until.map(parse).transpose()?,
    };
    if valid.end.is_some_and(|end| end <= valid.start) {
        anyhow::bail!("valid_until {until:?} is not after valid_from {from:?}");
    }
    Ok(valid)
}
