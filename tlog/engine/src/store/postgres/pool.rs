//! A small blocking connection pool: at most `max` connections, idle ones
//! kept for reuse, a connection that failed at the transport level dropped
//! (with every idle one: after a server restart they are all dead).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Config, Row, Statement};

use super::tls::Tls;

use crate::store::StoreError;

/// How long a caller waits for a free connection before giving up.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled connection and the statements prepared on it. A read is
/// parsed once per connection instead of at every call, where an
/// unprepared `query` makes a prepare round trip before it executes.
pub struct Connection {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl Connection {
    /// Runs `sql`, prepared on this connection at its first use (the
    /// server infers the parameters' types, as for an unprepared query).
    pub fn query_cached(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = match self.prepared.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.client.prepare(sql)?;
                self.prepared.insert(sql, statement.clone());
                statement
            }
        };
        self.client.query(&statement, params)
    }
}

impl Deref for Connection {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

struct Slots {
    idle: Vec<Connection>,
    /// Connections checked out or being opened.
    busy: usize,
}

pub struct Pool {
    config: Config,
    tls: Tls,
    max: usize,
    slots: Mutex<Slots>,
    freed: Condvar,
}

/// Whether an error means the connection (or the server) is gone, rather
/// than a statement failed: the store cannot work for now, and the
/// connection must not be reused.
pub fn is_transport(err: &postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    match err.code() {
        // No SQLSTATE: a transport failure (an I/O error, a refused
        // connection, a timeout), or a fault of ours (a parameter that does
        // not encode), which is no reason to retry.
        None => {
            std::error::Error::source(err).is_some_and(|source| source.is::<std::io::Error>())
                || err.to_string().starts_with("timeout waiting for server")
        }
        Some(code) => {
            let code = code.code();
            // Connection exceptions, operator intervention (shutdown, admin
            // termination), insufficient resources, a session ended for
            // idling in a transaction (a stalled process), a lock not
            // granted in time, a transaction rolled back by the server
            // (serialization, deadlock): all pass, so the store is only
            // unavailable for now.
            code.starts_with("08")
                || code.starts_with("57")
                || code.starts_with("53")
                || code.starts_with("40")
                || code == "25P03"
                || code == "55P03"
        }
    }
}

/// Maps a driver error: a lost connection or server is `Unavailable` (the
/// sequencer retries through `recover`), anything else a backend fault.
pub fn backend(err: postgres::Error) -> StoreError {
    // The driver's own message is only "db error"; the server's reason
    // (a lock timeout, a violated constraint) is in its source.
    let message = match std::error::Error::source(&err) {
        Some(source) => format!("database: {err}: {source}"),
        None => format!("database: {err}"),
    };
    if is_transport(&err) {
        StoreError::Unavailable(message)
    } else {
        StoreError::Backend(message)
    }
}

impl Pool {
    pub fn new(config: Config, tls: Tls, max: usize) -> Self {
        Self {
            config,
            tls,
            max: max.max(1),
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                busy: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Slots>, StoreError> {
        self.slots
            .lock()
            .map_err(|_| StoreError::Backend("connection pool lock poisoned".into()))
    }

    /// Runs `work` on a pooled connection. A transport failure drops the
    /// connection and every idle one, and is `Unavailable`; any other error
    /// goes through `map`.
    pub fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.checkout()?;
        let result = work(&mut client);
        let reusable = !matches!(result, Err(StoreError::Unavailable(_))) && !client.is_closed();
        self.checkin(reusable.then_some(client));
        result
    }

    fn checkout(&self) -> Result<Connection, StoreError> {
        let mut slots = self.lock()?;
        loop {
            if let Some(client) = slots.idle.pop() {
                slots.busy += 1;
                return Ok(client);
            }
            if slots.busy < self.max {
                break;
            }
            let (next, timeout) = self
                .freed
                .wait_timeout(slots, CHECKOUT_TIMEOUT)
                .map_err(|_| StoreError::Backend("connection pool lock poisoned".into()))?;
            slots = next;
            if timeout.timed_out() && slots.idle.is_empty() && slots.busy >= self.max {
                return Err(StoreError::Unavailable(
                    "every database connection is busy".into(),
                ));
            }
        }
        slots.busy += 1;
        drop(slots);
        match self.config.connect(self.tls.clone()) {
            Ok(client) => Ok(Connection {
                client,
                prepared: HashMap::new(),
            }),
            Err(err) => {
                self.checkin(None);
                Err(connect_failed(&err))
            }
        }
    }

    /// Returns a connection, or `None` for one that is gone (then the idle
    /// ones are dropped too).
    fn checkin(&self, client: Option<Connection>) {
        let dropped = match self.lock() {
            Ok(mut slots) => {
                slots.busy = slots.busy.saturating_sub(1);
                match client {
                    Some(client) => {
                        slots.idle.push(client);
                        Vec::new()
                    }
                    None => std::mem::take(&mut slots.idle),
                }
            }
            Err(_) => Vec::new(),
        };
        self.freed.notify_one();
        close(dropped);
    }
}

/// A connection that could not be opened; the reason (a refused
/// certificate, the server's own message) is in the error's sources.
pub fn connect_failed(err: &postgres::Error) -> StoreError {
    let mut message = format!("connecting to the database: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    StoreError::Unavailable(message)
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = match self.slots.get_mut() {
            Ok(slots) => std::mem::take(&mut slots.idle),
            Err(_) => Vec::new(),
        };
        close(idle);
    }
}

/// Drops connections on a thread of their own: each owns a small runtime,
/// which must not be dropped on an async worker (the store may be dropped
/// at shutdown from one).
fn close(clients: Vec<Connection>) {
    if clients.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("pg-close".into())
        .spawn(move || drop(clients))
        .map(|thread| thread.join());
}
