//! `atesto tlog`: serve the transparency log (Rekor v1, and Rekor v2 on its
//! own listener when the config has a `rekor_v2:` section),
//! `atesto tlog rotate` and `atesto tlog migrate` (`migrate.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use atesto_rekor_v1::config::{ConfigError, TlogConfig};
use atesto_rekor_v1::{self as rekor_v1, AppState};
use atesto_rekor_v2::RekorV2;
use atesto_rekor_v2::config::RekorV2Config;
use atesto_tlog_engine::store::LogStore;
use atesto_tlog_engine::store::postgres::{self, PostgresStore};
use atesto_tlog_engine::store::redb::{self, RedbStore};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TlogArgs {
    #[command(subcommand)]
    action: Option<TlogAction>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
enum TlogAction {
    /// Start a new shard on a running log; older shards stay readable.
    Rotate(RotateArgs),
    /// Copy an embedded log into an empty PostgreSQL schema, verified
    /// against its signed checkpoints.
    Migrate(super::migrate::MigrateArgs),
}

/// The flags `atesto tlog` and `atesto ct` share; each overrides its config file.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Directory of the embedded store and generated keys.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Listen address.
    #[arg(long)]
    addr: Option<String>,
    /// ECDSA P-256 signing key (PKCS#8 PEM); created under --data when absent.
    #[arg(long)]
    key: Option<PathBuf>,
    /// YAML file with every option; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Publish the C2SP read API to this bucket: s3://BUCKET[/PREFIX]
    /// (endpoint and credentials from AWS_*), gs://BUCKET[/PREFIX] or file:///DIR.
    #[arg(long)]
    object_store: Option<String>,
    /// PostgreSQL URL of a scale-out log (the store goes there, not under
    /// --data); from the environment when it holds a password. libpq's
    /// PG* variables give what it leaves out (`postgres://`: all of it).
    #[arg(long, env = "ATESTO_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// PostgreSQL schema of this log's tables (logs sharing a database each take their own).
    #[arg(long)]
    database_schema: Option<String>,
    /// Replicas: the base URL other replicas forward writes to while this
    /// one integrates (default http://<addr>).
    #[arg(long)]
    advertise_url: Option<String>,
}

/// The fields of a config that the shared flags override.
pub struct ServeFields<'a> {
    pub data: &'a mut PathBuf,
    pub addr: &'a mut String,
    pub key: &'a mut Option<PathBuf>,
    pub database: &'a mut Option<String>,
    pub database_schema: &'a mut String,
    pub advertise_url: &'a mut Option<String>,
    pub object_store: &'a mut Option<String>,
}

impl ServeArgs {
    /// The config file (or `default` without one) with the flags applied.
    pub fn load<C>(
        self,
        from_file: impl FnOnce(&Path) -> Result<C, ConfigError>,
        default: impl FnOnce() -> C,
        fields: impl FnOnce(&mut C) -> ServeFields<'_>,
    ) -> Result<C, ConfigError> {
        let mut config = match &self.config {
            Some(path) => from_file(path)?,
            None => default(),
        };
        let fields = fields(&mut config);
        if let Some(value) = self.data {
            *fields.data = value;
        }
        if let Some(value) = self.addr {
            *fields.addr = value;
        }
        if let Some(value) = self.key {
            *fields.key = Some(value);
        }
        if let Some(value) = self.database {
            *fields.database = Some(value);
        }
        if let Some(value) = self.database_schema {
            *fields.database_schema = value;
        }
        if let Some(value) = self.advertise_url {
            *fields.advertise_url = Some(value);
        }
        if let Some(value) = self.object_store {
            *fields.object_store = Some(value);
        }
        Ok(config)
    }
}

#[derive(clap::Args)]
struct RotateArgs {
    /// Data directory of the running log (its admin token is read from there).
    #[arg(long)]
    data: PathBuf,
    /// Address the log listens on.
    #[arg(long)]
    addr: String,
}

pub async fn run(args: TlogArgs) -> anyhow::Result<()> {
    match args.action {
        Some(TlogAction::Rotate(rotate_args)) => rotate(rotate_args).await,
        Some(TlogAction::Migrate(migrate_args)) => super::migrate::run(migrate_args).await,
        None => serve(args.serve).await,
    }
}

fn load_config(args: ServeArgs) -> anyhow::Result<TlogConfig> {
    let config = args.load(TlogConfig::from_file, TlogConfig::default, |c| {
        ServeFields {
            data: &mut c.data,
            addr: &mut c.addr,
            key: &mut c.key,
            database: &mut c.database,
            database_schema: &mut c.database_schema,
            advertise_url: &mut c.replicas.advertise_url,
            object_store: &mut c.object_store,
        }
    })?;
    config.validate()?;
    Ok(config)
}

/// The admin token: made on first start and kept beside the store, mode
/// 0600. Replicas share the one the first of them stored in the database
/// (a rotation a follower takes is forwarded with it), each keeping a copy
/// in its data directory for `atesto tlog rotate`. Blocking.
fn load_or_create_admin_token(store: &dyn LogStore, path: &Path) -> anyhow::Result<String> {
    let local = if path.exists() {
        let token =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Some(token.trim().to_owned())
    } else {
        None
    };
    let proposed = match &local {
        Some(token) => token.clone(),
        None => {
            let mut bytes = [0u8; 32];
            aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
            hex::encode(bytes)
        }
    };
    let token = store
        .shared_setting("admin_token", &proposed)
        .context("reading the replicas' admin token")?;
    if local.as_ref() != Some(&token) {
        write_secret(path, &token)?;
    }
    Ok(token)
}

/// Writes `secret` to `path` (mode 0600), durably, replacing what was there.
fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    let staged = path.with_extension("new");
    let _ = std::fs::remove_file(&staged);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&staged)
        .with_context(|| format!("creating {}", staged.display()))?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&staged, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    let v2_config = super::rekor_v2_section::rekor_v2_config(&config)?;
    let state = open(&config).await?;
    let router = rekor_v1::router(
        state,
        &super::api_options(config.body_limit, config.request_timeout_secs),
    );
    let v1 = super::serve(router, &config.addr, config.connections);
    let Some(v2_config) = v2_config else {
        return v1.await;
    };
    let v2 = open_v2_on(&v2_config, config.database.as_deref()).await?;
    let v2_router = atesto_rekor_v2::router(
        v2,
        &super::api_options(v2_config.body_limit, v2_config.request_timeout_secs),
    );
    let v2 = super::serve(v2_router, &v2_config.addr, v2_config.connections);
    tokio::try_join!(v1, v2)?;
    Ok(())
}

/// Opens the Rekor v2 log on its embedded store, with its key and sequencer.
pub async fn open_v2(config: &RekorV2Config) -> anyhow::Result<Arc<RekorV2>> {
    open_v2_on(config, None).await
}

/// Opens the Rekor v2 log: its own store (its schema of `database` when
/// the v1 log has one, else embedded under its data directory), key and
/// sequencer.
pub async fn open_v2_on(
    config: &RekorV2Config,
    database: Option<&str>,
) -> anyhow::Result<Arc<RekorV2>> {
    let v2 = {
        let mut config = config.clone();
        let database = database.map(str::to_owned);
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let store = open_store(
                &config.data_dir(),
                config.cache_mb,
                database.as_deref(),
                &config.database_schema,
                &mut config.replicas.id,
            )?;
            Ok(atesto_rekor_v2::start(store, &config)?)
        })
        .await??
    };
    let view = v2.log.view();
    let active = view.active().context("log has no tree")?;
    tracing::info!(
        data = %config.data_dir().display(),
        store = if database.is_some() { "postgres" } else { "redb" },
        tree_size = active.checkpoint.size,
        origin = %active.info.origin,
        "Rekor v2 log opened"
    );
    Ok(v2)
}

/// The log's store: its PostgreSQL schema with a database URL (and then
/// this data directory's replica id in `replica_id`), else the embedded
/// store under `data`. Blocking.
pub fn open_store(
    data: &Path,
    cache_mb: usize,
    database: Option<&str>,
    schema: &str,
    replica_id: &mut Option<String>,
) -> anyhow::Result<Arc<dyn LogStore>> {
    Ok(match database {
        Some(url) => {
            let store = PostgresStore::open(url, schema, postgres::DEFAULT_POOL_SIZE)
                .with_context(|| format!("opening the log's PostgreSQL schema {schema}"))?
                .hold_dir_lock(redb::lock_dir(data)?);
            // A new tree under the same key and origin would fork the log.
            let embedded = data.join(redb::STORE_FILE);
            if embedded.is_file() && store.shards()?.is_empty() {
                bail!(
                    "{} holds this log's embedded store and the database schema {schema} is empty: \
                     copy the log with `atesto tlog migrate` first (a new tree would fork it)",
                    embedded.display()
                );
            }
            *replica_id = Some(load_or_create_replica_id(data)?);
            Arc::new(store)
        }
        None => Arc::new(RedbStore::open_dir(data, cache_mb << 20)?),
    })
}

/// The id of the replica whose data directory this is (made on first
/// start): the directory's lock makes it one process's at a time.
fn load_or_create_replica_id(data: &Path) -> anyhow::Result<String> {
    let path = data.join("replica.id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return Ok(id.trim().to_owned());
    }
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let id = hex::encode(bytes);
    std::fs::write(&path, &id).with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

/// Opens the log (its store, keys, sequencer), its admin token, and its
/// publisher to object storage if configured.
pub async fn open(config: &TlogConfig) -> anyhow::Result<AppState> {
    let (log, admin_token) = {
        let mut config = config.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let store = open_store(
                &config.data,
                config.cache_mb,
                config.database.as_deref(),
                &config.database_schema,
                &mut config.replicas.id,
            )?;
            let admin_token = load_or_create_admin_token(&*store, &config.admin_token_path())?;
            Ok((rekor_v1::start(store, &config)?, admin_token))
        })
        .await??
    };
    let state = AppState::new(log, config, &admin_token);
    if let Some(url) = &config.object_store {
        atesto_tlog_object_store::start(state.clone(), url).await?;
    }
    let log = &state.log;
    let view = log.view();
    let active = view.active().context("log has no shard")?;
    tracing::info!(
        data = %config.data.display(),
        store = if config.database.is_some() { "postgres" } else { "redb" },
        tree_id = active.info.tree_id,
        tree_size = active.checkpoint.size,
        origin = %active.info.origin,
        "transparency log opened"
    );
    Ok(state)
}

pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or_default(),
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or_default();
    tracing::info!("shutting down");
}

async fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    let token_path = args.data.join("admin.token");
    let token = std::fs::read_to_string(&token_path)
        .with_context(|| format!("reading the admin token {}", token_path.display()))?;
    let url = format!("http://{}/admin/v1/rotate", args.addr);
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token.trim())
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("rotation refused ({status}): {body}");
    }
    println!("{}", body.trim_end());
    Ok(())
}
