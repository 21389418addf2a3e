//! A bounded pool for CPU-bound request work (signature checks, chain checks,
//! certificate and timestamp signing), shared by every service.
//!
//! Tokio's async workers must never run such work: one slow request would
//! stall every other connection on that worker, health checks included.
//! Work runs on `workers` threads of the pool's own; up to `queue` more
//! jobs wait for a turn. Beyond that `run` fails at once with
//! `CpuPoolError::Full`, which answers 503 with `Retry-After`, so a flood of
//! expensive requests is shed instead of queueing without bound.
//!
//! Handlers hand jobs over in a queue the threads drain in batches: under
//! load a thread runs job after job with no wake-up, spawn or semaphore per
//! request (a `spawn_blocking` per job cost more CPU than a timestamp's
//! signature). A thread sleeps only when the queue is empty, and is woken
//! only then.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::error::ApiError;

/// Seconds a client is told to wait when the pool is full.
const RETRY_AFTER_SECS: &str = "1";
/// Jobs a thread takes from the queue at once, at most: enough to skip the
/// lock between jobs, few enough that the other threads get their share.
const MAX_BATCH: usize = 64;

/// The `cpu_pool` section of a service's YAML config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CpuPoolConfig {
    /// Jobs running at once; 0 means one per CPU core.
    pub workers: usize,
    /// Jobs waiting for a worker beyond which requests get 503. The default
    /// lets 1024 clients submit at once (`atesto bench tlog` at its highest
    /// concurrency) without a refusal; one hashedrekord check is well under
    /// a millisecond, so the wait stays short.
    pub queue: usize,
}

impl Default for CpuPoolConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            queue: 1024,
        }
    }
}

impl CpuPoolConfig {
    /// The worker count this config resolves to on this machine.
    pub fn resolved_workers(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CpuPoolError {
    #[error("the server is busy verifying other requests; retry shortly")]
    Full,
    #[error("a CPU-bound job failed: {0}")]
    Failed(String),
}

impl From<CpuPoolError> for ApiError {
    fn from(err: CpuPoolError) -> Self {
        match err {
            CpuPoolError::Full => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
                .with_header(header::RETRY_AFTER, RETRY_AFTER_SECS),
            CpuPoolError::Failed(reason) => {
                tracing::error!(%reason, "CPU-bound job failed");
                ApiError::internal()
            }
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// What the handlers and the threads share.
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job arrives while a thread sleeps, or at shutdown.
    work: Condvar,
    /// Running plus waiting jobs.
    admitted: AtomicUsize,
    /// `workers + queue`.
    capacity: usize,
    workers: usize,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Threads waiting on `work`: only then does a new job signal it.
    sleeping: usize,
    /// Signals sent that no sleeping thread has woken from yet. A woken
    /// thread counts as sleeping until it holds the lock again, and every
    /// `notify_one` is a system call: without this count, each job pushed
    /// in that window would signal again, one futex call per request.
    waking: usize,
    stopped: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Jobs run outside the lock, so a poisoned lock holds a consistent queue.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, job: Job) {
        let mut queue = self.lock();
        queue.jobs.push_back(job);
        let wake = queue.sleeping > queue.waking;
        if wake {
            queue.waking += 1;
        }
        drop(queue);
        if wake {
            self.work.notify_one();
        }
    }

    /// The next jobs for one thread, or `None` once stopped and drained.
    fn take(&self) -> Option<Vec<Job>> {
        let mut queue = self.lock();
        while queue.jobs.is_empty() {
            if queue.stopped {
                return None;
            }
            queue.sleeping += 1;
            queue = self
                .work
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
            queue.sleeping -= 1;
            // Spurious wake-ups consume a signal's count too: at worst a
            // later job signals once more than it had to.
            queue.waking = queue.waking.saturating_sub(1);
        }
        let share = queue.jobs.len().div_ceil(self.workers).min(MAX_BATCH);
        Some(queue.jobs.drain(..share).collect())
    }
}

/// A job's place among the admitted: given back when the job is done or dropped.
struct Admission(Arc<Shared>);

impl Admission {
    fn take(shared: &Arc<Shared>) -> Result<Self, CpuPoolError> {
        shared
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |admitted| {
                (admitted < shared.capacity).then_some(admitted + 1)
            })
            .map_err(|_| CpuPoolError::Full)?;
        Ok(Self(shared.clone()))
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Stops the threads once the last clone of the pool is gone (after the
/// jobs already queued).
struct Threads(Arc<Shared>);

impl Drop for Threads {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.work.notify_all();
    }
}

/// Cheap to clone: every clone shares the same threads and bounds.
#[derive(Clone)]
pub struct CpuPool {
    shared: Arc<Shared>,
    _threads: Arc<Threads>,
    /// Threads that started: with none, `run` fails rather than wait forever.
    started: usize,
}

impl CpuPool {
    pub fn new(config: &CpuPoolConfig) -> Self {
        let workers = config.resolved_workers().max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            admitted: AtomicUsize::new(0),
            capacity: workers.saturating_add(config.queue),
            workers,
        });
        // Jobs see the runtime they were submitted from, as on tokio's
        // blocking threads (a store may bridge to async code through it).
        let runtime = tokio::runtime::Handle::try_current().ok();
        let mut started = 0;
        for n in 0..workers {
            let (shared, runtime) = (shared.clone(), runtime.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("cpu-pool-{n}"))
                .spawn(move || {
                    let _entered = runtime.as_ref().map(tokio::runtime::Handle::enter);
                    while let Some(jobs) = shared.take() {
                        // Each job catches its own panic (`run`).
                        for job in jobs {
                            job();
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                // Fewer threads only slow the pool; none is refused in `run`.
                Err(err) => tracing::error!(%err, "starting a CPU pool thread"),
            }
        }
        Self {
            _threads: Arc::new(Threads(shared.clone())),
            shared,
            started,
        }
    }

    /// Runs `job` on a pool thread once one is free; fails with `Full` at
    /// once when `workers + queue` jobs are already admitted.
    pub async fn run<T, F>(&self, job: F) -> Result<T, CpuPoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if self.started == 0 {
            return Err(CpuPoolError::Failed(
                "no CPU pool thread could be started".into(),
            ));
        }
        let admission = Admission::take(&self.shared)?;
        let (reply, answer) = oneshot::channel();
        self.shared.push(Box::new(move || {
            // A cancelled request (client gone) that has not started is
            // skipped; one that has started holds its place until it ends.
            if reply.is_closed() {
                return;
            }
            // The place is given back before the caller hears of a panic
            // (the dropped reply), so its next job is admitted.
            let result = std::panic::catch_unwind(AssertUnwindSafe(job));
            drop(admission);
            if let Ok(result) = result {
                // Ignored error: the client left while the job ran.
                let _ = reply.send(result);
            }
        }));
        answer
            .await
            .map_err(|_| CpuPoolError::Failed("the job panicked or the pool stopped".into()))
    }

    /// Like `run`, for jobs whose own failure is already an `ApiError`.
    pub async fn run_api<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        self.run(job).await?
    }
}
#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn refuses_beyond_workers_plus_queue_and_recovers() {
        let pool = CpuPool::new(&CpuPoolConfig {
            workers: 1,
            queue: 1,
        });
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let mut held = Vec::new();
        for _ in 0..2 {
            let (pool, gate) = (pool.clone(), gate.clone());
            held.push(tokio::spawn(async move {
                pool.run(move || gate.lock().map(|g| g.recv().is_ok()).unwrap_or(false))
                    .await
            }));
        }
        // Both admitted jobs hold their permits; a third is refused at once.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = pool.run(|| 1).await;
        assert!(matches!(refused, Err(CpuPoolError::Full)), "{refused:?}");
        let answer = ApiError::from(CpuPoolError::Full);
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            answer
                .headers
                .iter()
                .any(|(n, _)| *n == header::RETRY_AFTER)
        );

        release.send(()).unwrap();
        release.send(()).unwrap();
        for job in held {
            assert!(job.await.unwrap().unwrap());
        }
        assert_eq!(pool.run(|| 2).await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn bursts_wake_sleeping_threads_without_losing_a_job_or_a_signal() {
        let workers = 3;
        let pool = CpuPool::new(&CpuPoolConfig {
            workers,
            queue: 1024,
        });
        for burst in 0..50u64 {
            let jobs: Vec<_> = (0..64u64)
                .map(|n| {
                    let pool = pool.clone();
                    tokio::spawn(async move { pool.run(move || burst * 64 + n).await })
                })
                .collect();
            for (n, job) in jobs.into_iter().enumerate() {
                let ran = tokio::time::timeout(Duration::from_secs(10), job)
                    .await
                    .expect("a job waited for a wake-up that never came");
                assert_eq!(ran.unwrap().unwrap(), burst * 64 + n as u64);
            }
            // Idle again: every thread asleep, no signal left outstanding,
            // so the next burst's first job wakes one.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let (sleeping, waking) = {
                    let queue = pool.shared.lock();
                    (queue.sleeping, queue.waking)
                };
                if sleeping == workers && waking == 0 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "sleeping {sleeping}, waking {waking}"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_request_and_the_pool_goes_on() {
        let pool = CpuPool::new(&CpuPoolConfig {
            workers: 1,
            queue: 0,
        });
        let failed = pool.run(|| -> u8 { panic!("a job bug") }).await;
        assert!(matches!(failed, Err(CpuPoolError::Failed(_))), "{failed:?}");
        // Its place was given back and its thread still runs jobs.
        assert_eq!(pool.run(|| 3).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_job_whose_request_was_cancelled_before_it_started_is_skipped() {
        let pool = CpuPool::new(&CpuPoolConfig {
            workers: 1,
            queue: 2,
        });
        let (release, gate) = mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move || gate.recv().is_ok()).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let queued = {
            let (pool, ran) = (pool.clone(), ran.clone());
            tokio::spawn(async move {
                pool.run(move || ran.store(true, std::sync::atomic::Ordering::SeqCst))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        queued.abort();
        assert!(queued.await.unwrap_err().is_cancelled());
        release.send(()).unwrap();
        assert!(busy.await.unwrap().unwrap());
        // Jobs run in order: once this one has run, the cancelled one was passed over.
        assert_eq!(pool.run(|| 4).await.unwrap(), 4);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
