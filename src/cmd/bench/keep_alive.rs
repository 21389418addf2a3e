//! A lean closed-loop load driver for the in-process benchmarks (`tsa`,
//! `rekor-v2`), where the load generator shares the cores with the server it
//! measures: each of `concurrency` workers keeps one HTTP/1.1 connection of
//! its own (hyper's client, no pool, proxy or redirect logic per request)
//! and POSTs request after request on it. Every answer is read in full and
//! checked by the caller, so a fast wrong answer does not count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::driver::Tally;
use super::error::BenchError;

/// Largest answer read; anything longer is an error of the server.
const MAX_ANSWER: usize = 1 << 20;

/// What a run sends, and what it takes for an answer.
pub(super) struct Posts<B, C> {
    pub(super) addr: SocketAddr,
    pub(super) path: &'static str,
    pub(super) content_type: &'static str,
    pub(super) count: u64,
    pub(super) concurrency: usize,
    pub(super) max_time: Duration,
    /// The status of a good answer.
    pub(super) success: StatusCode,
    /// The body of request `n`.
    pub(super) body: B,
    /// Whether a `success` answer to request `n` is right.
    pub(super) check: C,
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Body>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let (sender, connection) = handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; a request
        // in flight then sees the error itself.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request on `sender`: the answer's status and body.
async fn post(
    sender: &mut SendRequest<Body>,
    host: &str,
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
) -> Result<(StatusCode, axum::body::Bytes), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let request = hyper::Request::post(path)
        .header(HOST, host)
        .header(CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = StatusCode::from_u16(response.status().as_u16()).map_err(|e| e.to_string())?;
    let body = to_bytes(Body::new(response.into_body()), MAX_ANSWER)
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// Sends request `n` for every `n` below `posts.count` from
/// `posts.concurrency` workers, each on its own keep-alive connection
/// (reconnecting after a transport error). A `success` answer that fails
/// `posts.check` is tallied under status 0 (wrong answer).
pub(super) async fn drive_posts<B, C>(posts: Posts<B, C>) -> Result<Tally, BenchError>
where
    B: Fn(u64) -> Vec<u8> + Send + Sync + 'static,
    C: Fn(u64, &[u8]) -> bool + Send + Sync + 'static,
{
    let posts = Arc::new(posts);
    let host = Arc::new(posts.addr.to_string());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + posts.max_time;
    let workers: Vec<_> = (0..posts.concurrency)
        .map(|_| {
            let (posts, host, next) = (posts.clone(), host.clone(), next.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut sender: Option<SendRequest<Body>> = None;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= posts.count || Instant::now() >= deadline {
                        break;
                    }
                    tally.sent += 1;
                    let from = Instant::now();
                    let answer = match sender.as_mut() {
                        Some(open) => Ok(open),
                        None => connect(posts.addr).await.map(|open| sender.insert(open)),
                    };
                    let answer = match answer {
                        Ok(open) => {
                            post(open, &host, posts.path, posts.content_type, (posts.body)(n)).await
                        }
                        Err(err) => Err(err),
                    };
                    let done = Instant::now();
                    tally.elapsed = done - start;
                    match answer {
                        Ok((status, body)) if status == posts.success => {
                            if (posts.check)(n, &body) {
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
