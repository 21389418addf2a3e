//! A lean load driver for the benchmarks whose load generator shares the
//! cores with the server it measures (`tsa`, `rekor-v2`, `tlog-proofs`):
//! each of `concurrency` workers keeps one HTTP/1.1 connection of its own
//! (hyper's client, no pool, proxy or redirect logic per request) and sends
//! request after request on it, or, with `http2_connections`,
//! the workers share that many HTTP/2 connections (prior knowledge, as a
//! client behind TLS with ALPN would speak), whose streams batch the
//! reads and writes of many requests into few syscalls. Every answer is
//! read in full and checked by the caller, so a fast wrong answer does not
//! count. The load runs on a runtime of its own (`cpu_split::LOAD_THREAD`),
//! so the run can tell its CPU from the server's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::{TokioExecutor, TokioIo};
use reqwest::StatusCode;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::cpu_split::{LOAD_THREAD, load_threads_cpu, process_cpu};
use super::driver::Tally;
use super::error::BenchError;

/// Largest answer read; anything longer is an error of the server.
const MAX_ANSWER: usize = 1 << 20;

/// What a run sends, and what it takes for an answer.
pub(super) struct Calls<R, C> {
    pub(super) addr: SocketAddr,
    pub(super) count: u64,
    pub(super) load: Load,
    /// The status of a good answer.
    pub(super) success: StatusCode,
    /// Request `n`.
    pub(super) call: R,
    /// Whether a `success` answer to request `n` is right.
    pub(super) check: C,
}

/// One request of a run.
pub(super) enum Call {
    Get(String),
    Post {
        path: String,
        content_type: &'static str,
        body: Vec<u8>,
    },
}

/// How the requests are sent.
pub(super) struct Load {
    pub(super) concurrency: usize,
    /// HTTP/2 connections the workers share; `None`: one HTTP/1.1
    /// connection per worker.
    pub(super) http2_connections: Option<usize>,
    /// Open loop at this many requests per second, each latency counted
    /// from the request's scheduled time; closed loop when `None`.
    pub(super) rate: Option<f64>,
    pub(super) max_time: Duration,
}

/// The socket address of a loopback URL, and its path without a trailing `/`.
pub(super) fn address(base: &str) -> Result<(SocketAddr, String), BenchError> {
    let bad = |e: &dyn std::fmt::Display| BenchError::Args(format!("--url {base}: {e}"));
    let url = reqwest::Url::parse(base).map_err(|e| bad(&e))?;
    let addr = url
        .socket_addrs(|| None)
        .map_err(|e| bad(&e))?
        .into_iter()
        .next()
        .ok_or_else(|| bad(&"no address"))?;
    Ok((addr, url.path().trim_end_matches('/').to_owned()))
}

/// One connection's request sender.
enum Sender {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

impl Sender {
    async fn send(
        &mut self,
        request: hyper::Request<Body>,
    ) -> Result<hyper::Response<Incoming>, String> {
        let sent = match self {
            Sender::Http1(sender) => {
                sender.ready().await.map_err(|e| e.to_string())?;
                sender.send_request(request).await
            }
            Sender::Http2(sender) => {
                sender.ready().await.map_err(|e| e.to_string())?;
                sender.send_request(request).await
            }
        };
        sent.map_err(|e| e.to_string())
    }
}

async fn tcp(addr: SocketAddr) -> Result<TokioIo<TcpStream>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    Ok(TokioIo::new(stream))
}

// Each connection task ends when its senders are dropped or the server
// closes; a request in flight then sees the error itself.

async fn open_http2(addr: SocketAddr) -> Result<http2::SendRequest<Body>, String> {
    let (sender, connection) = http2::handshake(TokioExecutor::new(), tcp(addr).await?)
        .await
        .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn connect(addr: SocketAddr, http2: bool) -> Result<Sender, String> {
    if http2 {
        return open_http2(addr).await.map(Sender::Http2);
    }
    let (sender, connection) = http1::handshake(tcp(addr).await?)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(Sender::Http1(sender))
}

/// Sends one request on `sender`: the answer's status and body.
async fn send(
    sender: &mut Sender,
    host: &str,
    call: Call,
) -> Result<(StatusCode, axum::body::Bytes), String> {
    let request = match call {
        Call::Get(path) => hyper::Request::get(path)
            .header(HOST, host)
            .body(Body::empty()),
        Call::Post {
            path,
            content_type,
            body,
        } => hyper::Request::post(path)
            .header(HOST, host)
            .header(CONTENT_TYPE, content_type)
            .body(Body::from(body)),
    }
    .map_err(|e| e.to_string())?;
    let response = sender.send(request).await?;
    let status = StatusCode::from_u16(response.status().as_u16()).map_err(|e| e.to_string())?;
    let body = to_bytes(Body::new(response.into_body()), MAX_ANSWER)
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// Sends request `n` for every `n` below `calls.count` from
/// `calls.load.concurrency` workers, each on its own keep-alive connection or on
/// one of the shared HTTP/2 connections (a worker reconnects on its own
/// after a transport error). A `success` answer that fails `calls.check`
/// is tallied under status 0 (wrong answer). The workers run on threads
/// of their own; the tally carries their CPU and the rest of the process's.
pub(super) async fn drive_calls<R, C>(calls: Calls<R, C>) -> Result<Tally, BenchError>
where
    R: Fn(u64) -> Call + Send + Sync + 'static,
    C: Fn(u64, &[u8]) -> bool + Send + Sync + 'static,
{
    let (done, answer) = tokio::sync::oneshot::channel::<Result<Tally, BenchError>>();
    let process_before = process_cpu()?;
    let spawned = std::thread::Builder::new()
        .name(LOAD_THREAD.into())
        .spawn(move || {
            let run = || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .thread_name(LOAD_THREAD)
                    .enable_all()
                    .build()
                    .map_err(|source| BenchError::Io {
                        what: "the load generator's runtime".into(),
                        source,
                    })?;
                let mut tally = runtime.block_on(run_workers(calls))?;
                // Read while the runtime's threads still live.
                tally.load_cpu_secs = load_threads_cpu()?;
                Ok(tally)
            };
            let _ = done.send(run());
        });
    spawned.map_err(|source| BenchError::Io {
        what: "the load generator's thread".into(),
        source,
    })?;
    let mut tally = answer.await.map_err(|_| BenchError::Worker)??;
    tally.server_cpu_secs = (process_cpu()? - process_before - tally.load_cpu_secs).max(0.0);
    Ok(tally)
}

async fn run_workers<R, C>(calls: Calls<R, C>) -> Result<Tally, BenchError>
where
    R: Fn(u64) -> Call + Send + Sync + 'static,
    C: Fn(u64, &[u8]) -> bool + Send + Sync + 'static,
{
    let calls = Arc::new(calls);
    let host = Arc::new(calls.addr.to_string());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + calls.load.max_time;
    let mut shared = Vec::new();
    for _ in 0..calls.load.http2_connections.unwrap_or(0) {
        shared.push(open_http2(calls.addr).await.map_err(BenchError::Connect)?);
    }
    let http2 = calls.load.http2_connections.is_some();
    let workers: Vec<_> = (0..calls.load.concurrency)
        .map(|worker| {
            let (calls, host, next) = (calls.clone(), host.clone(), next.clone());
            let mut sender =
                (!shared.is_empty()).then(|| Sender::Http2(shared[worker % shared.len()].clone()));
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= calls.count {
                        break;
                    }
                    let from = match calls.load.rate {
                        Some(rate) => start + Duration::from_secs_f64(n as f64 / rate),
                        None => Instant::now(),
                    };
                    if from >= deadline {
                        break;
                    }
                    // A closed loop sends at once, without a trip through the timer.
                    if calls.load.rate.is_some() {
                        tokio::time::sleep_until(from).await;
                    }
                    tally.sent += 1;
                    let answer = match sender.as_mut() {
                        Some(open) => Ok(open),
                        None => connect(calls.addr, http2)
                            .await
                            .map(|open| sender.insert(open)),
                    };
                    let answer = match answer {
                        Ok(open) => send(open, &host, (calls.call)(n)).await,
                        Err(err) => Err(err),
                    };
                    let done = Instant::now();
                    tally.elapsed = done - start;
                    match answer {
                        Ok((status, body)) if status == calls.success => {
                            if (calls.check)(n, &body) {
                                *tally.statuses.entry(status.as_u16()).or_default() += 1;
                                tally.latencies_us.push((done - from).as_micros() as u64);
                            } else {
                                *tally.statuses.entry(0).or_default() += 1;
                            }
                        }
                        Ok((status, _)) => {
                            *tally.statuses.entry(status.as_u16()).or_default() += 1;
                        }
                        Err(err) => {
                            sender = None;
                            tally.transport_errors += 1;
                            tally.first_transport_error.get_or_insert(err);
                        }
                    }
                }
                tally
            })
        })
        .collect();
    Tally::gather(workers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_keeps_the_path() {
        let (addr, path) = address("http://127.0.0.1:3910/prefix/").unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:3910");
        assert_eq!(path, "/prefix");
        assert_eq!(address("http://127.0.0.1:3910").unwrap().1, "");
    }
}
