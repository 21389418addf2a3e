//! The throwaway PostgreSQL cluster and S3 server that `scripts/services`
//! starts for the scale-out tests (scripts/test exports where they are).
//! Each test takes its own database and its own prefix in the one bucket,
//! so tests run in parallel without seeing each other's log.

use std::process::Command;

/// The variables `scripts/services start` exports; a test of the scale-out
/// backend fails (never skips) without them.
fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is unset: run the tests with scripts/test, which starts PostgreSQL and the S3 server (scripts/services)")
    })
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// A connection URL to a new, empty database of the test cluster.
pub fn fresh_database() -> String {
    let admin = required("ATESTO_TEST_POSTGRES");
    let name = unique_name("t");
    let out = Command::new("psql")
        .args([admin.as_str(), "-qAt", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "CREATE DATABASE {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("ATESTO_TEST_POSTGRES has no database path: {admin}"),
    }
}

/// An `s3://bucket/prefix` URL no other test writes under. The endpoint and
/// credentials are in the AWS_* variables the child process inherits.
pub fn fresh_object_store() -> String {
    let bucket = required("ATESTO_TEST_S3_BUCKET");
    required("AWS_ENDPOINT");
    format!("s3://{bucket}/{}", unique_name("log"))
}

/// Where the test S3 server keeps a bucket's objects as plain files
/// (versitygw's posix backend), for tests that look at what was written.
pub fn object_store_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(required("ATESTO_TEST_SERVICES_DIR")).join("s3")
}

/// With `ATESTO_TEST_STORE=postgres`, the flags that put a log started by
/// `Tlog::start*` on the test PostgreSQL cluster instead of redb: a database
/// of its own, remembered in its data directory so that a restarted log
/// finds it again. Runs the HTTP and durability suites on PostgreSQL
/// unchanged (scripts/test does once more).
pub fn store_args(service: &str, data: &std::path::Path) -> Vec<String> {
    let on_postgres = std::env::var("ATESTO_TEST_STORE").is_ok_and(|s| s == "postgres");
    if !on_postgres || !matches!(service, "tlog" | "ct") {
        return Vec::new();
    }
    let remembered = data.with_extension("database-url");
    let url = match std::fs::read_to_string(&remembered) {
        Ok(url) => url,
        Err(_) => {
            let url = fresh_database();
            std::fs::write(&remembered, &url).expect("remembering the test database");
            url
        }
    };
    vec!["--database".into(), url]
}

/// A PostgreSQL cluster of one test's own (initdb'd like scripts/services
/// does), for tests that stop or restart the server: the shared one must
/// never be. Stopped (immediately) when dropped.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    pub port: u16,
    /// The admin URL (database `postgres`).
    pub url: String,
}

/// A PostgreSQL server binary: on PATH, else where Debian keeps it.
fn pg_bin(name: &str) -> std::path::PathBuf {
    if let Ok(out) = Command::new("which").arg(name).output()
        && out.status.success()
    {
        return std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    }
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin").join(name))
        .filter(|path| path.exists())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no PostgreSQL {name}: .ci/run installs it"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `program args` as the database user: PostgreSQL refuses to run as root.
fn as_db_user(program: &std::path::Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("atesto-private-pg")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let data = dir.path().join("pg");
        std::fs::create_dir(&data).unwrap();
        if is_root() {
            let chown = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(chown.success());
        }
        let out = as_db_user(&pg_bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "atesto", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = super::free_addr()
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("a port");
        let postgres = Self {
            url: format!("postgres://atesto@127.0.0.1:{port}/postgres"),
            dir,
            port,
        };
        postgres.start_server();
        postgres
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let data = self.dir.path().join("pg");
        as_db_user(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(args)
            .output()
            .expect("pg_ctl")
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn start_server(&self) {
        let data = self.dir.path().join("pg");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            data.display()
        );
        let log = data.join("server.log");
        let out = self.pg_ctl(&["-l", log.to_str().unwrap(), "-w", "-o", &options, "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server at once (`-m immediate`: like a crash, no checkpoint).
    pub fn stop_server(&self) {
        let out = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }
}
