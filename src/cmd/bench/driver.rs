//! The HTTP load driver every networked benchmark shares: loopback-only
//! URLs, closed- or open-loop workers over one connection pool, and latency
//! percentiles.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;
use tokio::time::Instant;

use super::cpu_split::process_cpu;
use super::entries::threads;
use super::error::BenchError;

const MAX_CONCURRENCY: usize = 4096;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The base URL, refused unless it is plain HTTP to this machine.
pub(super) fn loopback_url(raw: &str) -> Result<String, BenchError> {
    let url =
        reqwest::Url::parse(raw).map_err(|e| BenchError::Args(format!("--url {raw}: {e}")))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.scheme() != "http" || !loopback {
        return Err(BenchError::Args(format!(
            "--url must be http:// on a loopback address, got {raw}"
        )));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

pub(super) fn check_concurrency(concurrency: usize) -> Result<(), BenchError> {
    if concurrency == 0 || concurrency > MAX_CONCURRENCY {
        return Err(BenchError::Args(format!(
            "--concurrency must be between 1 and {MAX_CONCURRENCY}"
        )));
    }
    Ok(())
}

/// A count given by `flag`, which must be between 1 and `max`.
pub(super) fn check_count(flag: &str, count: u64, max: u64) -> Result<(), BenchError> {
    if count == 0 || count > max {
        return Err(BenchError::Args(format!(
            "{flag} must be between 1 and {max}"
        )));
    }
    Ok(())
}

/// An open loop's offered rate, when one is given, must be a positive number.
pub(super) fn check_rate(rate: Option<f64>) -> Result<(), BenchError> {
    if rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(BenchError::Args("--rate must be a positive number".into()));
    }
    Ok(())
}

/// `closed` (every worker sends as soon as it has its answer) or `open`
/// (a fixed offered rate).
pub(super) fn loop_mode(rate: Option<f64>) -> &'static str {
    if rate.is_some() { "open" } else { "closed" }
}

/// `count` over `secs`; none in no time.
pub(super) fn per_second(count: u64, secs: f64) -> f64 {
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

pub(super) fn http_client(concurrency: usize) -> Result<reqwest::Client, BenchError> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .build()?)
}

/// How requests are sent.
pub(super) struct Plan {
    pub(super) count: u64,
    pub(super) concurrency: usize,
    /// Open loop at this many requests per second; closed loop when `None`.
    pub(super) rate: Option<f64>,
    pub(super) max_time: Duration,
    /// The status whose latencies are recorded.
    pub(super) success: StatusCode,
}

/// What a run saw.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) sent: u64,
    pub(super) statuses: BTreeMap<u16, u64>,
    pub(super) transport_errors: u64,
    pub(super) first_transport_error: Option<String>,
    /// Latencies of `Plan::success` answers, in microseconds.
    pub(super) latencies_us: Vec<u64>,
    /// From the start to the last answer.
    pub(super) elapsed: Duration,
    /// CPU seconds of the load generator and of the rest of the process
    /// (the server), where the run measured them (`keep_alive`).
    pub(super) load_cpu_secs: f64,
    pub(super) server_cpu_secs: f64,
}

impl Tally {
    pub(super) fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.transport_errors += other.transport_errors;
        if self.first_transport_error.is_none() {
            self.first_transport_error = other.first_transport_error;
        }
        self.latencies_us.extend(other.latencies_us);
        self.elapsed = self.elapsed.max(other.elapsed);
        self.load_cpu_secs += other.load_cpu_secs;
        self.server_cpu_secs += other.server_cpu_secs;
    }

    /// The workers' tallies together; the first transport error is printed.
    pub(super) async fn gather(
        workers: Vec<tokio::task::JoinHandle<Tally>>,
    ) -> Result<Tally, BenchError> {
        let mut total = Tally::default();
        for worker in workers {
            total.merge(worker.await?);
        }
        if let Some(err) = &total.first_transport_error {
            eprintln!(
                "{} transport errors; the first: {err}",
                total.transport_errors
            );
        }
        Ok(total)
    }

    pub(super) fn status(&self, status: StatusCode) -> u64 {
        self.statuses.get(&status.as_u16()).copied().unwrap_or(0)
    }
}

/// Sends request `n` for every `n` below `plan.count` from `plan.concurrency`
/// workers sharing one connection pool.
pub(super) async fn drive<F>(plan: Plan, request: F) -> Result<Tally, BenchError>
where
    F: Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + plan.max_time;
    let plan = Arc::new(plan);
    let workers: Vec<_> = (0..plan.concurrency)
        .map(|_| {
            let (request, next, plan) = (request.clone(), next.clone(), plan.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= plan.count {
                        break;
                    }
                    let from = match plan.rate {
                        Some(rate) => start + Duration::from_secs_f64(n as f64 / rate),
                        None => Instant::now(),
                    };
                    if from >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(from).await;
                    tally.sent += 1;
                    // The body is read in full so the connection goes back to the pool.
                    let answer = match request(n).send().await {
                        Ok(response) => {
                            let status = response.status();
                            response.bytes().await.map(|_| status)
                        }
                        Err(err) => Err(err),
                    };
                    let done = Instant::now();
                    tally.elapsed = done - start;
                    match answer {
                        Ok(status) => {
                            *tally.statuses.entry(status.as_u16()).or_default() += 1;
                            if status == plan.success {
                                tally.latencies_us.push((done - from).as_micros() as u64);
                            }
                        }
                        Err(err) => {
                            tally.transport_errors += 1;
                            tally.first_transport_error.get_or_insert(err.to_string());
                        }
                    }
                }
                tally
            })
        })
        .collect();
    Tally::gather(workers).await
}

/// Latency percentiles, in milliseconds (nearest rank).
#[derive(Serialize)]
pub(super) struct Latency {
    pub(super) p50: f64,
    pub(super) p90: f64,
    pub(super) p99: f64,
    pub(super) p999: f64,
    pub(super) max: f64,
}

impl Latency {
    pub(super) fn of(mut micros: Vec<u64>) -> Option<Latency> {
        micros.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
            micros[rank - 1] as f64 / 1000.0
        };
        let max = *micros.last()? as f64 / 1000.0;
        Some(Latency {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max,
        })
    }

    pub(super) fn line(latency: Option<&Latency>) -> String {
        latency.map_or_else(
            || "none".into(),
            |l| {
                format!(
                    "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
                    l.p50, l.p90, l.p99, l.p999, l.max
                )
            },
        )
    }
}

pub(super) fn print_json(summary: &impl Serialize) -> Result<(), BenchError> {
    println!("{}", serde_json::to_string(summary)?);
    Ok(())
}

/// Operations per second of wall time, and per CPU-second they took.
#[derive(Clone, Copy, Default)]
pub(super) struct Rate {
    pub(super) per_second: f64,
    pub(super) per_cpu_second: f64,
}

impl Rate {
    /// The mean of `rates`.
    pub(super) fn mean(rates: &[Rate]) -> Rate {
        let n = rates.len().max(1) as f64;
        Rate {
            per_second: rates.iter().map(|r| r.per_second).sum::<f64>() / n,
            per_cpu_second: rates.iter().map(|r| r.per_cpu_second).sum::<f64>() / n,
        }
    }
}

/// Runs `op` on every core for `time`.
pub(super) fn per_second_on_every_core(
    time: Duration,
    op: impl Fn() -> Result<(), BenchError> + Sync,
) -> Result<Rate, BenchError> {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let cpu_before = process_cpu()?;
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads())
            .map(|_| {
                scope.spawn(|| {
                    let mut count = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        op()?;
                        count += 1;
                    }
                    done.fetch_add(count, Ordering::Relaxed);
                    Ok::<(), BenchError>(())
                })
            })
            .collect();
        std::thread::sleep(time);
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker.join().map_err(|_| BenchError::Worker)??;
        }
        Ok::<(), BenchError>(())
    })?;
    let done = done.load(Ordering::Relaxed) as f64;
    // The rest of the process idles meanwhile: its CPU is the workers'.
    let cpu = process_cpu()? - cpu_before;
    Ok(Rate {
        per_second: done / started.elapsed().as_secs_f64(),
        per_cpu_second: if cpu > 0.0 { done / cpu } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_urls_are_accepted() {
        for good in [
            "http://127.0.0.1:3000",
            "http://localhost:1/",
            "http://[::1]:8080",
        ] {
            assert!(loopback_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://10.0.0.1:3000",
            "https://127.0.0.1:3000",
            "http://example.com",
            "x",
        ] {
            assert!(loopback_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let latency = Latency::of((1..=1000).map(|ms| ms * 1000).collect()).unwrap();
        assert_eq!(latency.p50, 500.0);
        assert_eq!(latency.p99, 990.0);
        assert_eq!(latency.p999, 999.0);
        assert_eq!(latency.max, 1000.0);
        assert!(Latency::of(Vec::new()).is_none());
    }
}
