//! `atesto dev`: the whole stack in one process, for trying Atesto and for
//! tests. The CA (with built-in development OIDC issuers) listens on one
//! address; the transparency log (Rekor v1) and the CT log share another;
//! the Rekor v2 log has a third, as it serves its tiles at its root. All
//! state lives under `--data` (with `--database`, the three logs' trees
//! live in PostgreSQL, each in its own schema); keys are made on the first
//! start and reused.
//!
//! THE DEVELOPMENT ISSUERS SIGN ANY IDENTITY FOR ANYONE WHO ASKS: never
//! point a real deployment's trust at a dev stack.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use atesto_ca::config::{CaConfig, CtLogConfig};
use atesto_ca::identity::dev_issuer::{self, DevIssuer};
use atesto_ca::identity::{IssuerConfig, VerifierOptions};
use atesto_ca::issuance::{InitOptions, SignerConfig, init_chain};
use atesto_common::http::with_common_layers;
use atesto_common::keys::{KeyType, PrivateKey};
use atesto_common::trust_root::{self, CaChain, LogKey, Service, Validity};
use atesto_ct_log::config::CtConfig;
use atesto_rekor_v1::config::TlogConfig;
use atesto_rekor_v2::config::RekorV2Config;
use atesto_tlog_engine::config::hostname_of;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DevArgs {
    #[command(subcommand)]
    action: Option<DevAction>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
enum DevAction {
    /// Print an identity token the dev CA accepts (development issuers only).
    Token(TokenArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Directory of every key, store and trust file of the stack.
    #[arg(long, default_value = "atesto-dev")]
    data: PathBuf,
    /// Address of the CA and the development OIDC issuers.
    #[arg(long, default_value = "127.0.0.1:5555")]
    ca_addr: String,
    /// Address of the transparency log and the CT log.
    #[arg(long, default_value = DEFAULT_TLOG_ADDR)]
    tlog_addr: String,
    /// Address of the Rekor v2 log [default: its address at the last start,
    /// else 127.0.0.1:5557 beside the default --tlog-addr, else a free port
    /// on the --tlog-addr host].
    #[arg(long)]
    rekor_v2_addr: Option<String>,
    /// More issuers, in Fulcio's config format (JSON or YAML).
    #[arg(long)]
    oidc_config: Option<PathBuf>,
    /// PostgreSQL URL: the three logs keep their trees there (schemas
    /// `tlog`, `ct` and `rekor_v2`) instead of under --data; from the
    /// environment when it holds a password.
    #[arg(long, env = "ATESTO_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Publish the Rekor v1 and CT logs' C2SP read API under URL/tlog and
    /// URL/ct (s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX] or file:///DIR).
    #[arg(long)]
    object_store: Option<String>,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("identity").required(true).args(["email", "k8s", "github"])))]
struct TokenArgs {
    /// Data directory of the running (or last run) `atesto dev`.
    #[arg(long, default_value = "atesto-dev")]
    data: PathBuf,
    /// An email identity.
    #[arg(long)]
    email: Option<String>,
    /// A Kubernetes service account, NAMESPACE/NAME.
    #[arg(long, value_name = "NS/SA")]
    k8s: Option<String>,
    /// A GitHub Actions job of OWNER/REPO: a push to main running
    /// .github/workflows/release.yml.
    #[arg(long, value_name = "OWNER/REPO")]
    github: Option<String>,
    /// Mint a token that expired ten minutes ago (to see it refused).
    #[arg(long)]
    expired: bool,
}

const DEFAULT_TLOG_ADDR: &str = "127.0.0.1:5556";
const DEFAULT_REKOR_V2_ADDR: &str = "127.0.0.1:5557";

/// The dev issuers' paths under the CA address, one per identity type
/// (a Fulcio issuer has one type).
const ISSUERS: [(&str, &str); 3] = [
    ("email", "email"),
    ("kubernetes", "kubernetes"),
    ("github", "github-workflow"),
];

/// What `atesto dev token` needs to know of the running stack.
#[derive(Serialize, Deserialize)]
struct DevState {
    ca_url: String,
    tlog_url: String,
    /// Issuer URL by identity kind (`email`, `kubernetes`, `github`).
    issuers: std::collections::BTreeMap<String, String>,
    /// Where the Rekor v2 log listened: a restart without
    /// `--rekor-v2-addr` listens there again, so the trust files stay.
    #[serde(default)]
    rekor_v2_addr: Option<String>,
}

/// The stack's files under DIR.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    match args.action {
        Some(DevAction::Token(token_args)) => token(&token_args),
        None => serve(args.serve).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let files = Layout {
        dir: args.data.clone(),
    };
    std::fs::create_dir_all(&files.dir)
        .with_context(|| format!("creating {}", files.dir.display()))?;
    let ca_url = format!("http://{}", args.ca_addr);
    let tlog_url = format!("http://{}", args.tlog_addr);

    if !files.path("ca/chain.pem").exists() {
        init_chain(&files.path("ca"), &dev_chain_options())?;
    }
    let tsa = super::tsa::open(dev_tsa_config(&files)?).await?;
    let tsa_url = format!("{ca_url}{DEV_TSA_PATH}/api/v1/timestamp");
    let dev_key = PrivateKey::load_or_create(&files.path("dev-oidc-key.pem"), KeyType::EcdsaP256)?;
    let dev_issuers = ISSUERS
        .iter()
        .map(|(kind, _)| {
            let url = format!("{ca_url}/dev-oidc/{kind}");
            Ok((*kind, dev_issuer(&url, &dev_key)?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Each log under its own folder of the bucket (their paths overlap).
    let object_store = |log: &str| {
        args.object_store
            .as_ref()
            .map(|url| format!("{}/{log}", url.trim_end_matches('/')))
    };
    let tlog_config = TlogConfig {
        data: files.path("tlog"),
        addr: args.tlog_addr.clone(),
        database: args.database.clone(),
        object_store: object_store("tlog"),
        ..TlogConfig::default()
    };
    tlog_config.validate()?;
    let ct_config = CtConfig {
        data: files.path("ct"),
        addr: args.tlog_addr.clone(),
        roots: vec![files.path("ca/root.pem")],
        database: args.database.clone(),
        object_store: object_store("ct"),
        ..CtConfig::default()
    };
    ct_config.validate()?;
    let tlog = super::tlog::open(&tlog_config).await?;
    let ct = super::ct::open(&ct_config).await?;
    // Bound now: its URL goes into the trust files before it serves.
    let v2_listener = match &args.rekor_v2_addr {
        Some(addr) => tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?,
        None => bind_rekor_v2(&files, &args.tlog_addr).await?,
    };
    let v2_config = RekorV2Config {
        data: Some(files.path("rekor-v2")),
        addr: v2_listener.local_addr()?.to_string(),
        ..RekorV2Config::default()
    };
    v2_config.validate()?;
    let rekor_v2 = super::tlog::open_v2_on(&v2_config, args.database.as_deref()).await?;
    let rekor_v2_url = format!("http://{}", v2_config.addr);
    write_file(&files.path("rekor.pub"), &tlog.log.keys().public_key_pem)?;
    write_file(&files.path("ctlog.pub"), &ct.keys().public_key_pem)?;
    write_file(
        &files.path("rekor-v2.pub"),
        &rekor_v2.log.keys().public_key_pem,
    )?;

    let mut issuers = IssuerConfig::from_str(&dev_issuers_yaml(&dev_issuers))?;
    if let Some(path) = &args.oidc_config {
        issuers.merge(IssuerConfig::load(path)?)?;
    }
    let ca_config = CaConfig {
        addr: args.ca_addr.clone(),
        signer: SignerConfig {
            chain: files.path("ca/chain.pem"),
            key: Some(files.path("ca/intermediate-key.pem")),
            key_password_env: None,
            pkcs11: None,
        },
        issuers: PathBuf::new(),
        identity: VerifierOptions::default(),
        ct_log: Some(CtLogConfig {
            url: tlog_url.clone(),
            public_key: files.path("ctlog.pub"),
        }),
        issue_without_sct: false,
        body_limit: 64 << 10,
        request_timeout_secs: 30,
        cpu_pool: Default::default(),
        connections: tlog_config.connections,
        base_dir: PathBuf::new(),
    };
    let ca_options = super::api_options(ca_config.body_limit, ca_config.request_timeout_secs);
    let ca_connections = ca_config.connections;
    let ca_state = tokio::task::spawn_blocking(move || {
        atesto_ca::service::open_with_issuers(&ca_config, issuers)
    })
    .await??;
    let chain_der = ca_state.issuer.chain_der().to_vec();
    write_file(
        &files.path("ca-chain.pem"),
        &ca_state.issuer.chain_pem().concat(),
    )?;

    write_trust_files(
        &files,
        (&ca_url, &chain_der),
        (&tsa_url, tsa.tsa.chain_der()),
        (&tlog_url, &tlog.log.keys().public_key_der),
        (&rekor_v2_url, &rekor_v2.log.keys().public_key_der),
        &ct.keys().public_key_der,
    )?;
    publish_tuf(&files).await?;
    let state = DevState {
        ca_url: ca_url.clone(),
        tlog_url: tlog_url.clone(),
        issuers: dev_issuers
            .iter()
            .map(|(kind, issuer)| ((*kind).to_owned(), issuer.issuer_url().to_owned()))
            .collect(),
        rekor_v2_addr: Some(v2_config.addr.clone()),
    };
    write_file(
        &files.path("dev.json"),
        &serde_json::to_string_pretty(&state)?,
    )?;

    let mut ca_router = atesto_ca::api::router(Arc::new(ca_state), &ca_options);
    for (kind, issuer) in &dev_issuers {
        ca_router = ca_router.nest(&format!("/dev-oidc/{kind}"), issuer.router());
    }
    // The TUF repository is static files: served as they are, outside the API layers.
    // A missing file is a 404 in the upstream error shape, like every API answer.
    ca_router = ca_router.nest(
        DEV_TSA_PATH,
        atesto_tsa::api::router(tsa, &super::api_options(8 << 10, 10)),
    );
    ca_router = ca_router.nest_service(
        "/tuf",
        tower_http::services::ServeDir::new(files.path("tuf")).not_found_service(
            axum::handler::HandlerWithoutStateExt::into_service(tuf_not_found),
        ),
    );
    let tlog_metrics = tlog.log.metrics().http.clone();
    let tlog_routes = atesto_rekor_v1::routes(tlog).merge(atesto_ct_log::api::routes(ct));
    let tlog_router = with_common_layers(
        tlog_routes,
        tlog_metrics,
        &super::api_options(tlog_config.body_limit, tlog_config.request_timeout_secs),
    );

    let v2_router = atesto_rekor_v2::router(
        rekor_v2,
        &super::api_options(v2_config.body_limit, v2_config.request_timeout_secs),
    );

    print_instructions(&files, &state, &rekor_v2_url);
    print_tuf_instructions(&files, &state.ca_url);
    tokio::try_join!(
        super::serve(ca_router, &args.ca_addr, ca_connections),
        super::serve(tlog_router, &args.tlog_addr, tlog_config.connections),
        super::serve_on(v2_listener, v2_router, v2_config.connections),
    )?;
    Ok(())
}

/// The Rekor v2 log's listener without `--rekor-v2-addr`: where it listened
/// before (DIR/dev.json) if that is free, else 127.0.0.1:5557 beside the
/// default `--tlog-addr`, else any free port on the `--tlog-addr` host.
async fn bind_rekor_v2(files: &Layout, tlog_addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let previous = std::fs::read_to_string(files.path("dev.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<DevState>(&text).ok())
        .and_then(|state| state.rekor_v2_addr);
    if let Some(addr) = previous
        && let Ok(listener) = tokio::net::TcpListener::bind(&addr).await
    {
        return Ok(listener);
    }
    let addr = if tlog_addr == DEFAULT_TLOG_ADDR {
        DEFAULT_REKOR_V2_ADDR.to_owned()
    } else {
        format!("{}:0", hostname_of(tlog_addr))
    };
    tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

/// The CA's and the TSA's chains: unencrypted keys, made on the first start.
fn dev_chain_options() -> InitOptions {
    InitOptions {
        p384: false,
        organization: "Atesto dev".into(),
        common_name: "atesto dev".into(),
        validity_years: 10,
        password_env: None,
    }
}

/// The TSA is served under this path of the CA's address.
const DEV_TSA_PATH: &str = "/tsa";

/// The TSA's chain under DIR/tsa, made on the first start.
fn dev_tsa_config(files: &Layout) -> anyhow::Result<atesto_tsa::config::TsaConfig> {
    let dir = files.path("tsa");
    if !dir.join("chain.pem").exists() {
        atesto_tsa::init::init_chain(&dir, &dev_chain_options())?;
    }
    Ok(atesto_tsa::config::TsaConfig::new(SignerConfig {
        chain: dir.join("chain.pem"),
        key: Some(dir.join("tsa-key.pem")),
        key_password_env: None,
        pkcs11: None,
    }))
}

async fn tuf_not_found() -> atesto_common::error::ApiError {
    atesto_common::error::ApiError::not_found("no such file in the TUF repository")
}

fn dev_issuer(url: &str, key: &PrivateKey) -> anyhow::Result<DevIssuer> {
    let pem = key.to_pkcs8_pem()?;
    let (_, pkcs8) = pem_rfc7468::decode_vec(pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("dev issuer key: {e}"))?;
    DevIssuer::from_pkcs8(url.to_owned(), &pkcs8)
        .map_err(|e| anyhow::anyhow!("dev issuer key rejected: {e}"))
}

/// The dev issuers in Fulcio's config format.
fn dev_issuers_yaml(issuers: &[(&str, DevIssuer)]) -> String {
    let mut yaml = String::from("oidc-issuers:\n");
    for ((_, issuer_type), (_, issuer)) in ISSUERS.iter().zip(issuers) {
        let url = issuer.issuer_url();
        yaml.push_str(&format!(
            "  {url}:\n    issuer-url: {url}\n    client-id: sigstore\n    type: {issuer_type}\n"
        ));
    }
    yaml
}

/// trusted_root.json, signing_config.json, trust_config.json and cosign.env.
/// Both logs are listed: clients take the highest `majorApiVersion` they
/// support (2 needs the TSA, which is listed too). The CT log shares the
/// Rekor v1 log's URL.
fn write_trust_files(
    files: &Layout,
    (ca_url, chain_der): (&str, &[Vec<u8>]),
    (tsa_url, tsa_chain_der): (&str, &[Vec<u8>]),
    (tlog_url, tlog_key_der): (&str, &[u8]),
    (rekor_v2_url, rekor_v2_key_der): (&str, &[u8]),
    ct_key_der: &[u8],
) -> anyhow::Result<()> {
    // Every key of the stack was made when its CA was, on the first start:
    // dating all windows from the CA certificate keeps them stable across
    // restarts, so bundles made before a restart still verify.
    let issuing = chain_der.first().context("empty CA chain")?;
    let (_, certificate) =
        X509Certificate::from_der(issuing).map_err(|e| anyhow::anyhow!("CA certificate: {e}"))?;
    let since = Validity::since(certificate.validity().not_before.to_datetime());
    let log = |url: &str, key: &[u8]| LogKey {
        base_url: url.to_owned(),
        public_key_der: key.to_vec(),
        valid: since,
    };
    let trusted_root = trust_root::trusted_root(
        &[
            log(tlog_url, tlog_key_der),
            log(rekor_v2_url, rekor_v2_key_der),
        ],
        &[log(tlog_url, ct_key_der)],
        &[CaChain {
            url: ca_url.to_owned(),
            chain_der: chain_der.to_vec(),
            valid: since,
        }],
        &[CaChain {
            url: tsa_url.to_owned(),
            chain_der: tsa_chain_der.to_vec(),
            valid: since,
        }],
    )?;
    let service = |url: String, major_api_version| Service {
        url,
        major_api_version,
        valid: since,
        operator: "atesto-dev".into(),
    };
    let signing_config = trust_root::signing_config(
        &[service(ca_url.to_owned(), 1)],
        &[service(format!("{ca_url}/dev-oidc/email"), 1)],
        &[
            service(rekor_v2_url.to_owned(), 2),
            service(tlog_url.to_owned(), 1),
        ],
        &[service(tsa_url.to_owned(), 1)],
    )?;
    write_file(
        &files.path("trusted_root.json"),
        &serde_json::to_string_pretty(&trusted_root)?,
    )?;
    write_file(
        &files.path("signing_config.json"),
        &serde_json::to_string_pretty(&signing_config)?,
    )?;
    let both = trust_root::client_trust_config(trusted_root, signing_config);
    write_file(
        &files.path("trust_config.json"),
        &serde_json::to_string_pretty(&both)?,
    )?;
    let absolute = |name: &str| -> anyhow::Result<String> {
        Ok(std::path::absolute(files.path(name))?.display().to_string())
    };
    write_file(
        &files.path("cosign.env"),
        &format!(
            "# cosign 2.x against this dev stack: `set -a; . {env}; set +a`\n\
             SIGSTORE_ROOT_FILE={root}\n\
             SIGSTORE_REKOR_PUBLIC_KEY={rekor}\n\
             SIGSTORE_CT_LOG_PUBLIC_KEY_FILE={ct}\n",
            env = absolute("cosign.env")?,
            root = absolute("ca-chain.pem")?,
            rekor = absolute("rekor.pub")?,
            ct = absolute("ctlog.pub")?,
        ),
    )?;
    Ok(())
}

fn write_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

fn print_instructions(files: &Layout, state: &DevState, rekor_v2: &str) {
    let dir = files.dir.display();
    let (ca, tlog) = (&state.ca_url, &state.tlog_url);
    println!(
        "\n\
         atesto dev: CA {ca}, transparency log {tlog} (Rekor v1) and {rekor_v2} (Rekor v2), CT log {tlog}/ct/v1, timestamp authority {ca}{DEV_TSA_PATH}/api/v1/timestamp\n\
         !!! DEVELOPMENT ONLY: the built-in OIDC issuers under {ca}/dev-oidc/ sign any identity for anyone !!!\n\n\
         sigstore-python 4.x:\n  \
           TOKEN=$(atesto dev token --data {dir} --email you@example.com)\n  \
           sigstore --trust-config {dir}/trust_config.json sign --identity-token \"$TOKEN\" FILE   # Rekor v2 + TSA; --rekor-version 1 for v1\n  \
           sigstore --trust-config {dir}/trust_config.json verify identity \\\n    \
             --cert-identity you@example.com --cert-oidc-issuer {ca}/dev-oidc/email FILE\n\n\
         cosign 3.x, as tests/cosign_blob.rs runs it (tests/cosign_image.rs: the same trust flags for `cosign sign|verify IMAGE`):\n  \
           cosign sign-blob --yes --trusted-root {dir}/trusted_root.json --signing-config {dir}/signing_config.json \\\n    \
             --identity-token \"$TOKEN\" --bundle FILE.sigstore.json FILE\n  \
           cosign verify-blob --trusted-root {dir}/trusted_root.json --bundle FILE.sigstore.json \\\n    \
             --certificate-identity you@example.com --certificate-oidc-issuer {ca}/dev-oidc/email FILE\n\n\
         cosign 2.x, the same way:\n  \
           set -a; . {dir}/cosign.env; set +a\n  \
           cosign sign-blob --yes --fulcio-url {ca} --rekor-url {tlog} --identity-token \"$TOKEN\" \\\n    \
             --output-signature FILE.sig --output-certificate FILE.cert FILE\n  \
           cosign verify-blob --rekor-url {tlog} --signature FILE.sig --certificate FILE.cert \\\n    \
             --certificate-identity you@example.com --certificate-oidc-issuer {ca}/dev-oidc/email FILE\n  \
           RFC 3161 timestamps (sigstore-python, sigstore-js and cosign 3.x take them from signing_config.json):\n  \
           cosign sign-blob ... --timestamp-server-url {ca}{DEV_TSA_PATH}/api/v1/timestamp --rfc3161-timestamp FILE.tsr FILE\n  \
           cosign verify-blob ... --rfc3161-timestamp FILE.tsr --timestamp-certificate-chain {dir}/tsa/chain.pem --use-signed-timestamps FILE\n"
    );
}

/// Publishes trusted_root.json and signing_config.json as TUF targets under
/// DATA/tuf, signed with DATA/tuf-key.pem. Every start signs the next
/// versions, which also renews the week-long timestamp.
async fn publish_tuf(files: &Layout) -> anyhow::Result<()> {
    let read = |name: &str| -> anyhow::Result<Vec<u8>> {
        let path = files.path(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let trusted_root = read("trusted_root.json")?;
    let signing_config = read("signing_config.json")?;
    crate::tuf::publish(
        &files.path("tuf"),
        &files.path("tuf-key.pem"),
        &[
            crate::tuf::Target {
                name: crate::tuf::TRUSTED_ROOT_TARGET,
                contents: &trusted_root,
            },
            crate::tuf::Target {
                name: crate::tuf::SIGNING_CONFIG_TARGET,
                contents: &signing_config,
            },
        ],
        &crate::tuf::Lifetimes::default(),
        false,
    )
    .await
    .context("publishing the dev TUF repository")?;
    Ok(())
}

fn print_tuf_instructions(files: &Layout, ca_url: &str) {
    let dir = files.dir.display();
    println!(
        "sigstore-python 4.x and sigstore-js over TUF ({ca_url}/tuf, files in {dir}/tuf):\n  \
           sigstore --instance {ca_url}/tuf trust-instance {dir}/tuf/root.json   # once\n  \
           sigstore --instance {ca_url}/tuf sign --identity-token \"$TOKEN\" FILE\n  \
           sigstore --instance {ca_url}/tuf verify identity \\\n    \
             --cert-identity you@example.com --cert-oidc-issuer {ca_url}/dev-oidc/email FILE\n  \
           sigstore-js: {{ tufMirrorURL: '{ca_url}/tuf', tufRootPath: '{dir}/tuf/root.json' }}\n"
    );
}

fn token(args: &TokenArgs) -> anyhow::Result<()> {
    let state_path = args.data.join("dev.json");
    let text = std::fs::read_to_string(&state_path).with_context(|| {
        format!(
            "reading {}: start `atesto dev --data {}` first",
            state_path.display(),
            args.data.display()
        )
    })?;
    let state: DevState = serde_json::from_str(&text)?;
    let key = PrivateKey::load(&args.data.join("dev-oidc-key.pem"))?;
    let (kind, mut claims) = if let Some(email) = &args.email {
        ("email", dev_issuer::email_claims(email))
    } else if let Some(account) = &args.k8s {
        let (namespace, name) = account
            .split_once('/')
            .filter(|(ns, sa)| !ns.is_empty() && !sa.is_empty() && !sa.contains('/'))
            .context("--k8s takes NAMESPACE/SERVICEACCOUNT")?;
        ("kubernetes", dev_issuer::kubernetes_claims(namespace, name))
    } else if let Some(repository) = &args.github {
        repository
            .split_once('/')
            .filter(|(owner, repo)| !owner.is_empty() && !repo.is_empty() && !repo.contains('/'))
            .context("--github takes OWNER/REPO")?;
        ("github", dev_issuer::github_claims(repository))
    } else {
        // clap's required group makes this unreachable from the command line.
        anyhow::bail!("say which identity: --email, --k8s or --github");
    };
    let url = state
        .issuers
        .get(kind)
        .with_context(|| format!("{} names no {kind} issuer", state_path.display()))?;
    if args.expired {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        claims["iat"] = (now - 1200).into();
        claims["nbf"] = (now - 1200).into();
        claims["exp"] = (now - 600).into();
    }
    println!("{}", dev_issuer(url, &key)?.mint_portable(claims));
    Ok(())
}
