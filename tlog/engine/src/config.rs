//! The engine's options, as the personalities' config files spell them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Most entries integrated by one batch (one transaction, one checkpoint).
    pub max_size: usize,
    /// Longest a batch waits for more entries after its first, in milliseconds.
    pub max_age_ms: u64,
    /// Submissions waiting for a batch beyond which new ones get 503.
    pub pool_size: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShardConfig {
    /// Start a new shard automatically once the active one holds this many entries.
    pub rotate_at_size: Option<u64>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_size: 1024,
            // No wait: a batch is whatever queued during the previous commit.
            // Measured in BENCHMARKS.md: 10 ms halved closed-loop throughput
            // at 64 in flight and added ~10 ms to every p50.
            max_age_ms: 0,
            pool_size: 16384,
        }
    }
}

impl BatchConfig {
    /// Why these options cannot run, if they cannot.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.max_size == 0 || self.pool_size == 0 {
            return Err("batch.max_size and batch.pool_size must be positive");
        }
        if self.max_age_ms > 1000 {
            return Err("batch.max_age_ms above 1000 ms would hold submitters too long");
        }
        Ok(())
    }

    pub fn max_age(&self) -> Duration {
        Duration::from_millis(self.max_age_ms)
    }
}

/// Replicas of a log on a shared database (`atesto tlog --database`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaConfig {
    /// Term of the integrator lease in milliseconds: a stalled integrator
    /// is replaced after this long, and writes wait that long for it.
    pub lease_ms: u64,
    /// Base URL the other replicas forward writes to while this one
    /// integrates; `http://<addr>` when absent.
    pub advertise_url: Option<String>,
    /// Who this process is in the lease, kept in its data directory (which
    /// one process at a time may use): a restarted replica renews the lease
    /// it held instead of waiting for it to expire. Random when absent.
    #[serde(skip)]
    pub id: Option<String>,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            lease_ms: 5000,
            advertise_url: None,
            id: None,
        }
    }
}

impl ReplicaConfig {
    pub fn check(&self) -> Result<(), &'static str> {
        if !(200..=600_000).contains(&self.lease_ms) {
            return Err("replicas.lease_ms must be between 200 and 600000");
        }
        if self
            .advertise_url
            .as_deref()
            .is_some_and(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err("replicas.advertise_url must be an http:// or https:// URL");
        }
        Ok(())
    }

    /// The replica options of a process listening on `addr`.
    pub fn options(&self, addr: &str) -> ReplicaOptions {
        let advertise_url = self.advertise_url.clone().unwrap_or_else(|| {
            let port = addr.rsplit_once(':').map_or("", |(_, port)| port);
            format!("http://{}:{port}", hostname_of(addr))
        });
        ReplicaOptions {
            id: self.id.clone(),
            advertise_url,
            lease: Duration::from_millis(self.lease_ms),
        }
    }
}

/// The name clients see when none is configured: the host of the listen
/// address `addr` (`HOST:PORT`), loopback's name for a wildcard address.
pub fn hostname_of(addr: &str) -> String {
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(host, _)| host)
        .trim_matches(['[', ']']);
    match host {
        "" | "0.0.0.0" | "::" => "localhost".into(),
        other => other.into(),
    }
}

/// The name clients see: `configured`, else the host of the listen address.
pub fn configured_hostname(configured: Option<&str>, addr: &str) -> String {
    configured.map_or_else(|| hostname_of(addr), str::to_owned)
}

/// How checkpoint origins name a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginStyle {
    /// `<hostname> - <tree id>`: Rekor v1, whose shards share one name.
    HostnameAndTreeId,
    /// The hostname alone: a C2SP log (Rekor v2), one tree per name.
    Hostname,
}

impl OriginStyle {
    pub fn origin(self, hostname: &str, tree_id: u64) -> String {
        match self {
            OriginStyle::HostnameAndTreeId => format!("{hostname} - {tree_id}"),
            OriginStyle::Hostname => hostname.to_owned(),
        }
    }
}

/// What `Log::start` needs besides its store and keys.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Name in checkpoint origins and signature lines.
    pub hostname: String,
    /// How the origin line is made of `hostname`.
    pub origin: OriginStyle,
    /// Tree id of the first shard of a new store; random when absent.
    pub tree_id: Option<u64>,
    pub batch: BatchConfig,
    pub shards: ShardConfig,
    /// Used when the store is shared by replicas.
    pub replica: ReplicaOptions,
}

/// How a replica presents itself.
#[derive(Debug, Clone)]
pub struct ReplicaOptions {
    /// This process in the lease; random (a new candidate) when absent.
    pub id: Option<String>,
    /// Base URL other replicas forward writes to (`http://host:port`).
    pub advertise_url: String,
    /// Term of the lease: a stalled integrator is replaced after this long.
    pub lease: Duration,
}
