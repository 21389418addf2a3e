//! A bounded pool for CPU-bound request work (signature checks, chain checks,
//! certificate signing), shared by every service.
//!
//! Tokio's async workers must never run such work: one slow request would
//! stall every other connection on that worker, health checks included.
//! Work runs on tokio's blocking threads, at most `workers` at a time; up to
//! `queue` more requests wait for a turn. Beyond that `run` fails at once
//! with `CpuPoolError::Full`, which answers 503 with `Retry-After`, so a
//! flood of expensive requests is shed instead of queueing without bound.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Seconds a client is told to wait when the pool is full.
const RETRY_AFTER_SECS: &str = "1";

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

/// Cheap to clone: every clone shares the same bounds.
#[derive(Clone)]
pub struct CpuPool {
    /// Running plus waiting jobs: `workers + queue` permits, taken without waiting.
    admitted: Arc<Semaphore>,
    /// Running jobs: `workers` permits.
    running: Arc<Semaphore>,
}

impl CpuPool {
    pub fn new(config: &CpuPoolConfig) -> Self {
        // Semaphore::new panics above MAX_PERMITS; no real config gets near it.
        let workers = config.resolved_workers().min(Semaphore::MAX_PERMITS);
        let admitted = workers
            .saturating_add(config.queue)
            .min(Semaphore::MAX_PERMITS);
        Self {
            admitted: Arc::new(Semaphore::new(admitted)),
            running: Arc::new(Semaphore::new(workers)),
        }
    }

    /// Runs `job` on a blocking thread once a worker is free; fails with
    /// `Full` at once when `workers + queue` jobs are already admitted.
    pub async fn run<T, F>(&self, job: F) -> Result<T, CpuPoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| CpuPoolError::Full)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| CpuPoolError::Failed(e.to_string()))?;
        // The permits move into the job: a cancelled request (client gone)
        // still holds its slot until the work it started has finished.
        tokio::task::spawn_blocking(move || {
            let result = job();
            drop(running);
            drop(admitted);
            result
        })
        .await
        .map_err(|e| CpuPoolError::Failed(e.to_string()))
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
}
