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

/// What `sql` prints on the database at `url` (psql, so libpq reads the
/// URL), trimmed; a failing statement fails the test.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A connection URL to a new, empty database of the test cluster.
pub fn fresh_database() -> String {
    let admin = required("ATESTO_TEST_POSTGRES");
    let name = unique_name("t");
    psql(&admin, &format!("CREATE DATABASE {name}"));
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

/// Where the shared S3 server keeps the objects of `url` (`s3://BUCKET/PREFIX`).
pub fn bucket_dir(url: &str) -> std::path::PathBuf {
    object_store_dir().join(url.strip_prefix("s3://").expect("an s3:// URL"))
}

/// A versitygw S3 server of one test's own, for tests that stop it
/// (SIGSTOP) to see the log live through an object store that does not
/// answer: the shared server of `scripts/services` is never stopped.
/// Killed, and its files removed, when dropped.
pub struct PrivateS3 {
    child: std::process::Child,
    dir: tempfile::TempDir,
    pub endpoint: String,
}

pub const PRIVATE_BUCKET: &str = "atesto-private";
const PRIVATE_ACCESS: &str = "atesto-private";
const PRIVATE_SECRET: &str = "atesto-private-secret";

/// Starts a private versitygw (the binary `scripts/install-clients` built)
/// on a free loopback port, with one bucket, `PRIVATE_BUCKET`.
pub fn private_s3() -> PrivateS3 {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .current_dir(root)
        .args([
            "-c",
            "source scripts/install/lib.sh && source scripts/install/s3.sh && echo \"$VERSITYGW\"",
        ])
        .output()
        .expect("running scripts/install/s3.sh");
    assert!(
        out.status.success(),
        "finding versitygw: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = std::path::Path::new(root).join(String::from_utf8_lossy(&out.stdout).trim());
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("s3")).expect("s3 dir");
    let addr = super::free_addr();
    let log = std::fs::File::create(dir.path().join("versitygw.log")).expect("log file");
    let child = Command::new(binary)
        .args(["--port", &addr, "posix"])
        .arg(dir.path().join("s3"))
        .env("ROOT_ACCESS_KEY", PRIVATE_ACCESS)
        .env("ROOT_SECRET_KEY", PRIVATE_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting versitygw");
    let s3 = PrivateS3 {
        child,
        dir,
        endpoint: format!("http://{addr}"),
    };
    // Retried until the server listens.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let made = Command::new("curl")
            .args(["-fsS", "-o", "/dev/null", "-X", "PUT"])
            .arg(format!("{}/{PRIVATE_BUCKET}", s3.endpoint))
            .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
            .arg(format!("{PRIVATE_ACCESS}:{PRIVATE_SECRET}"))
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("running curl");
        if made.success() {
            return s3;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "versitygw did not start: {}",
            std::fs::read_to_string(s3.dir.path().join("versitygw.log")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

impl PrivateS3 {
    /// The `AWS_*` variables a log needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", PRIVATE_ACCESS.into()),
            ("AWS_SECRET_ACCESS_KEY", PRIVATE_SECRET.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Where it keeps the objects of `PRIVATE_BUCKET`, as plain files.
    pub fn bucket_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("s3").join(PRIVATE_BUCKET)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} versitygw");
    }

    /// SIGSTOP: the server keeps its connections but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT: it answers again, pending requests first.
    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        Self::start_configured(|_| {})
    }

    /// As `start`, with `configure` run on the data directory between
    /// initdb and the first start (certificates, postgresql.conf, pg_hba.conf).
    pub fn start_configured(configure: impl FnOnce(&std::path::Path)) -> Self {
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
        configure(&data);
        if is_root() {
            let chown = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&data)
                .status()
                .expect("chown");
            assert!(chown.success());
        }
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
