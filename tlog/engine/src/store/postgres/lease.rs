//! The integrator lease of replicas sharing one log: one row of `lease`
//! holding the current epoch, its holder, the URL writes are forwarded to
//! and when it expires (by the database's clock, the only one all replicas
//! share). Taking an expired lease increments the epoch; the holder renews
//! it under the same epoch. A batch commits only while the store's epoch is
//! the row's (`write_batch` reads it `FOR SHARE`, so a takeover waits for a
//! commit in flight and every later commit of the old holder is refused).

use std::sync::atomic::Ordering;

use super::{PostgresStore, backend, to_u64};
use crate::store::{Candidate, Coordinator, Lease, StoreError};

impl Coordinator for PostgresStore {
    fn claim(&self, candidate: &Candidate) -> Result<Lease, StoreError> {
        let ttl_secs = candidate.ttl.as_secs_f64();
        // From now on this store commits only under a lease it holds.
        self.fencing.store(true, Ordering::Release);
        let lease = self.pool.with(|client| {
            let mut txn = client.transaction().map_err(backend)?;
            // A holder stalled in a commit keeps the row locked until the
            // server ends its session: give up and claim again next time.
            txn.batch_execute("SET LOCAL lock_timeout = '500ms'")
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
