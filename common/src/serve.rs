//! Accepting and serving HTTP connections, the same way on every listener:
//! HTTP/1.1 and cleartext HTTP/2 (h2c, for gRPC) on one port, a time limit
//! on request headers, idle connections closed, a cap on open connections,
//! and a graceful shutdown that lets requests in flight finish.
//!
//! `axum::serve` has none of these limits: a client sending its headers
//! slowly, or nothing at all, kept its connection (and a task) forever.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// Per-listener connection limits, the `connections:` block of every
/// service's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// Seconds a client has to send a request's headers, counted from when
    /// the server starts waiting for them: a new connection, or the next
    /// request on an HTTP/1.1 keep-alive connection. Ten seconds is Go's
    /// common `ReadHeaderTimeout` (Fulcio, Rekor): ample for a real client
    /// across the world, short for one that holds a connection open.
    pub header_read_timeout_secs: u64,
    /// Seconds a connection with no request in flight stays open (HTTP/2;
    /// HTTP/1.1 waits for the next request's headers are also bounded by
    /// the header timeout). One minute outlives the pool idle time of most
    /// clients' connection pools, so they reuse rather than reconnect.
    pub idle_timeout_secs: u64,
    /// Open connections per listener; further clients wait in the kernel's
    /// accept backlog until one closes. 4096 stays well under the usual
    /// 65536 open-file limit with two listeners plus store files, and each
    /// idle connection costs a task and a few KiB of buffers.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 4096,
        }
    }
}

impl ConnectionLimits {
    /// Every limit must be positive: zero would refuse every client.
    pub fn validate(&self) -> Result<(), String> {
        if self.header_read_timeout_secs == 0 {
            return Err("connections.header_read_timeout_secs must be positive".into());
        }
        if self.idle_timeout_secs == 0 {
            return Err("connections.idle_timeout_secs must be positive".into());
        }
        if self.max_connections == 0 {
            return Err("connections.max_connections must be positive".into());
        }
        Ok(())
    }

    fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting, asks every open connection to finish its requests in flight
/// and close, and returns once they have.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_sender, stop) = watch::channel(false);
    // Every connection task holds a clone; `recv` yields None once all are gone.
    let (open_sender, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    pause_after_accept_error(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let stop = stop.clone();
        let open = open_sender.clone();
        tokio::spawn(async move {
            serve_connection(stream, router, limits, stop).await;
            tracing::trace!(%peer, "connection closed");
            drop(permit);
            drop(open);
        });
    }
    drop(listener);
    // Ignored error: no connection is listening, so there is nothing to stop.
    let _ = stop_sender.send(true);
    drop(open_sender);
    all_closed.recv().await;
}

/// Per-connection errors (a reset before accept) need no pause; running
/// out of file descriptors does, or the loop would spin on it.
async fn pause_after_accept_error(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%err, "accepting a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// When a connection last started or finished a request, and how many it
/// has in flight: what decides that it is idle.
struct Activity {
    in_flight: AtomicUsize,
    last_change: std::sync::Mutex<Instant>,
}

impl Activity {
    fn touch(&self) {
        if let Ok(mut last) = self.last_change.lock() {
            *last = Instant::now();
        }
    }

    /// When the connection becomes idle-expired, if nothing changes first.
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        let last = self
            .last_change
            .lock()
            .map_or_else(|_| Instant::now(), |last| *last);
        last + timeout
    }
}

/// Counts a request as in flight until its response is produced.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        activity.touch();
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    // Small answers go out at once rather than waiting for Nagle.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "setting TCP_NODELAY");
    }
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        last_change: std::sync::Mutex::new(Instant::now()),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_flight = InFlight::start(&activity);
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await;
                drop(in_flight);
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);

    // Until the first request, the client is still due its headers: the
    // protocol sniffing before HTTP/1 parsing starts is not covered by
    // hyper's header timer, so this loop enforces it.
    let mut wait = limits.header_read_timeout();
    let mut closing = false;
    loop {
        let deadline = activity.idle_deadline(wait);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%err, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !closing => {
                // A closed channel means the server is gone: close too.
                if changed.is_err() || *stop.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(deadline), if !closing => {
                let idle = activity.in_flight.load(Ordering::SeqCst) == 0;
                if idle && activity.idle_deadline(wait) <= Instant::now() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                wait = limits.idle_timeout();
            }
        }
    }
}
