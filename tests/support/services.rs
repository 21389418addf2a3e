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
