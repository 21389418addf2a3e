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
