//! Replicas: any number of processes serving one log from one shared store
//! (PostgreSQL). One of them integrates at a time, the holder of the
//! store's lease (`Coordinator`), whose fencing epoch the store checks in
//! every commit; the others forward writes to it and refresh their view of
//! the tree from the store, so every replica answers every read.
//!
//! A thread per process claims the lease every 200 ms (or a quarter of its
//! term if shorter): the
//! holder renews it; the others take it once it has expired (the holder
//! died or stalled). A process that takes over first brings its sequencer
//! to the stored tree (`SequencerHandle::resync`), then takes writes.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::config::ReplicaOptions;
use crate::metrics::Metrics;
use crate::sequencer::SequencerHandle;
use crate::store::{Candidate, Coordinator, LogStore, StoreError};
use crate::view::{LogView, SharedView};

/// Where this process sends a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// It holds the lease: its sequencer integrates.
    Integrator,
    /// Another replica does, at this URL (none known: no integrator now).
    Follower { integrator: Option<String> },
}

pub struct Replica {
    role: ArcSwap<Role>,
    candidate: Candidate,
    coordinator: Arc<dyn Coordinator>,
    store: Arc<dyn LogStore>,
    view: SharedView,
    sequencer: SequencerHandle,
    metrics: Arc<Metrics>,
}

impl Replica {
    /// Starts claiming the lease; until the first claim this process is a
    /// follower of nobody (writes get 503).
    pub fn start(
        options: &ReplicaOptions,
        coordinator: Arc<dyn Coordinator>,
        store: Arc<dyn LogStore>,
        view: SharedView,
        sequencer: SequencerHandle,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, StoreError> {
        let replica = Arc::new(Self {
            role: ArcSwap::from_pointee(Role::Follower { integrator: None }),
            candidate: Candidate {
                id: options.id.clone().unwrap_or_else(|| {
                    format!(
                        "{} pid {} #{:08x}",
                        options.advertise_url,
                        std::process::id(),
                        rand::random::<u32>()
                    )
                }),
                url: options.advertise_url.clone(),
                ttl: options.lease,
            },
            coordinator,
            store,
            view,
            sequencer,
            metrics,
        });
        // The first claim before serving: a lone replica integrates at once.
        replica.tick(Instant::now());
        let weak = Arc::downgrade(&replica);
        // Claims renew the lease well within its term; followers refresh
        // their view at least every 200 ms.
        let interval = (options.lease / 4)
            .min(Duration::from_millis(200))
            .max(Duration::from_millis(20));
        std::thread::Builder::new()
            .name("replica".into())
            .spawn(move || run(&weak, interval))
            .map_err(|e| StoreError::Backend(format!("starting the replica thread: {e}")))?;
        Ok(replica)
    }

    pub fn role(&self) -> Arc<Role> {
        self.role.load_full()
    }

    /// One claim of the lease, then a refresh of the view if another
    /// replica integrates. `last_renewed` is when this process last held it.
    fn tick(&self, last_renewed: Instant) -> Option<Instant> {
        let mut renewed = None;
        match self.coordinator.claim(&self.candidate) {
            Ok(lease) => {
                self.metrics.lease_epoch.set(lease.epoch as i64);
                if lease.mine {
                    renewed = Some(Instant::now());
                    if *self.role() != Role::Integrator {
                        self.take_over(lease.epoch);
                    }
                } else {
                    self.set_role(Role::Follower {
                        integrator: Some(lease.url),
                    });
                }
            }
            Err(err) => {
                tracing::warn!(%err, "claiming the integrator lease failed");
                // Past its term the lease may be another's: stop taking
                // writes (the store would refuse them anyway).
                if *self.role() == Role::Integrator && last_renewed.elapsed() >= self.candidate.ttl
                {
                    self.set_role(Role::Follower { integrator: None });
                }
            }
        }
        if *self.role() != Role::Integrator
            && let Err(err) = self.refresh_view()
        {
            tracing::warn!(%err, "refreshing the view from the store failed");
        }
        renewed
    }

    fn take_over(&self, epoch: u64) {
        match self.sequencer.resync() {
            Ok(()) => {
                tracing::info!(epoch, "this replica integrates the log now");
                self.set_role(Role::Integrator);
            }
            Err(err) => tracing::warn!(%err, "taking over as integrator failed; retrying"),
        }
    }

    fn set_role(&self, role: Role) {
        self.metrics
            .integrator
            .set(i64::from(role == Role::Integrator));
        if *self.role() != role {
            tracing::info!(?role, "replica role");
            self.role.store(Arc::new(role));
        }
    }

    /// Publishes what the store holds if it is ahead of the view.
    fn refresh_view(&self) -> Result<(), StoreError> {
        let stored = self.store.shards()?;
        let current = self.view.load_full();
        let size = |view: &[crate::store::ShardState]| view.last().map_or(0, |s| s.checkpoint.size);
        let ahead = stored.len() > current.shards.len()
            || (stored.len() == current.shards.len() && size(&stored) > size(&current.shards));
        self.metrics
            .view_lag_entries
            .set(size(&stored).saturating_sub(size(&current.shards)) as i64);
        if ahead {
            self.metrics.tree_size.set(size(&stored) as i64);
            self.view.store(Arc::new(LogView { shards: stored }));
        }
        Ok(())
    }
}

fn run(replica: &Weak<Replica>, interval: Duration) {
    let mut last_renewed = Instant::now();
    loop {
        let started = Instant::now();
        let Some(replica) = replica.upgrade() else {
            return;
        };
        if let Some(at) = replica.tick(last_renewed) {
            last_renewed = at;
        }
        drop(replica);
        std::thread::sleep(interval.saturating_sub(started.elapsed()));
    }
}
