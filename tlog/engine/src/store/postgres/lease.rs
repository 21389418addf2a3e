//! The integrator lease of replicas sharing one log: one row of `lease`
//! holding the current epoch, its holder, the URL writes are forwarded to
//! and when it expires (by the database's clock, the only one all replicas
//! share). Taking an expired lease increments the epoch; the holder renews
//! it under the same epoch. A batch commits only while the store's epoch is
//! the row's (`write_batch` reads it `FOR SHARE`, so a takeover waits for a
//! commit in flight and every later commit of the old holder is refused).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{PostgresStore, backend, to_u64};
use crate::store::{Candidate, Coordinator, Lease, StoreError};

/// How long a replica that does not hold the lease waits for its row.
const CONTENDER_LOCK_TIMEOUT: Duration = Duration::from_millis(500);

impl Coordinator for PostgresStore {
    fn claim(&self, candidate: &Candidate) -> Result<Lease, StoreError> {
        let ttl_secs = candidate.ttl.as_secs_f64();
        // From now on this store commits only under a lease it holds.
        self.fencing.store(true, Ordering::Release);
        // Every commit holds the row's share lock while it writes, so a
        // renewal waits behind this process's own commits: the holder waits
        // up to half its term (a commit is far shorter). Anyone else may be
        // waiting on a holder stalled in a commit, which keeps the row locked
        // until the server ends its session: it gives up soon and claims
        // again next time.
        let lock_timeout = if self.epoch.load(Ordering::Acquire) != 0 {
            (candidate.ttl / 2).max(CONTENDER_LOCK_TIMEOUT)
        } else {
            CONTENDER_LOCK_TIMEOUT
        };
        let lease = self.pool.with(|client| {
            let mut txn = client.transaction().map_err(backend)?;
            txn.batch_execute(&format!(
                "SET LOCAL lock_timeout = '{}ms'",
                lock_timeout.as_millis()
            ))
            .map_err(backend)?;
            txn.execute(
                "INSERT INTO lease AS l (singleton, epoch, holder, url, expires_at)
                 VALUES (TRUE, 1, $1, $2, now() + make_interval(secs => $3))
                 ON CONFLICT (singleton) DO UPDATE
                 SET epoch = CASE WHEN l.holder = EXCLUDED.holder THEN l.epoch ELSE l.epoch + 1 END,
                     holder = EXCLUDED.holder, url = EXCLUDED.url, expires_at = EXCLUDED.expires_at
                 WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()",
                &[&candidate.id, &candidate.url, &ttl_secs],
            )
            .map_err(backend)?;
            let row = txn
                .query_one("SELECT epoch, holder, url FROM lease", &[])
                .map_err(backend)?;
            txn.commit().map_err(backend)?;
            let holder: String = row.get(1);
            Ok(Lease {
                epoch: to_u64(row.get(0), "lease epoch")?,
                mine: holder == candidate.id,
                holder,
                url: row.get(2),
            })
        });
        // A failed claim changes nothing: if another replica has taken
        // over meanwhile, the epoch check of the next commit refuses it.
        if let Ok(lease) = &lease {
            let held = if lease.mine { lease.epoch } else { 0 };
            self.epoch.store(held, Ordering::Release);
        }
        lease
    }
}
