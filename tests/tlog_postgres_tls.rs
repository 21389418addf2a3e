//! `atesto tlog --database "postgres://…?sslmode=…&sslrootcert=…"`: TLS to
//! a PostgreSQL cluster of the test's own that takes TLS connections only
//! (`hostssl` in pg_hba.conf, no `host`), with a server certificate for
//! `localhost` only, issued by a test CA's intermediate. libpq's modes:
//! verify-full checks the chain and the host name, verify-ca the chain,
//! require encrypts without checking; a start the database or the
//! client refuses ends the process with the reason.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use atesto_test_support::pki::{TestCa, leaf_params};
use rcgen::{ExtendedKeyUsagePurpose, KeyPair};

use support::services::{PrivatePostgres, psql};
use support::*;

/// The cluster, and the files of the trust it is checked with.
struct TlsCluster {
    postgres: PrivatePostgres,
    /// The test CA's root (PEM) that issued the server's certificate.
    ca: PathBuf,
    /// Another CA's root, which did not.
    other_ca: PathBuf,
    dir: tempfile::TempDir,
}

impl TlsCluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("atesto postgres test");
        let mut params = leaf_params("localhost", false, false);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let leaf = params.signed_by(&key, &ca.issuer).unwrap();
        let intermediate = pem_rfc7468::encode_string(
            "CERTIFICATE",
            pem_rfc7468::LineEnding::LF,
            &ca.intermediate,
        )
        .unwrap();
        let postgres = PrivatePostgres::start_configured(|data| {
            // The server sends its chain up to the root.
            std::fs::write(
                data.join("server.crt"),
                format!("{}{intermediate}", leaf.pem()),
            )
            .unwrap();
            let key_path = data.join("server.key");
            std::fs::write(&key_path, key.serialize_pem()).unwrap();
            // PostgreSQL refuses a key others can read.
            std::fs::set_permissions(
                &key_path,
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
            let conf = data.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).unwrap();
            text.push_str(
                "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
            );
            std::fs::write(&conf, text).unwrap();
            // TLS only: a plain TCP connection matches no line. `atesto`
            // is trusted, any other user gives its password (SCRAM).
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\n\
                 hostssl all atesto 127.0.0.1/32 trust\n\
                 hostssl all atesto ::1/128 trust\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 hostssl all all ::1/128 scram-sha-256\n",
            )
            .unwrap();
        });
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, &ca.root_pem).unwrap();
        let other_ca = dir.path().join("other-ca.pem");
        std::fs::write(&other_ca, TestCa::new("another").root_pem).unwrap();
        TlsCluster {
            postgres,
            ca: ca_path,
            other_ca,
            dir,
        }
    }

    /// The cluster's URL at `host` with `query` (`sslmode=…&sslrootcert=…`).
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://atesto@{host}:{}/postgres?{query}",
            self.postgres.port
        )
    }

    /// `verify-full`/`verify-ca`/… against `root`.
    fn verified(&self, host: &str, mode: &str, root: &Path) -> String {
        self.url(
            host,
            &format!("sslmode={mode}&sslrootcert={}", root.display()),
        )
    }

    /// A data directory of its own for each start.
    fn data(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `atesto tlog` on `url`, in the schema and data directory `name`.
    fn tlog(&self, name: &str, url: &str, env: &[(&str, &str)]) -> Tlog {
        Tlog::start_env(
            &self.data(name),
            &["--database", url, "--database-schema", name],
            env,
        )
    }

    /// Starts `atesto tlog` on `url`, which must fail: its stderr.
    fn refused(&self, name: &str, url: &str) -> String {
        let mut child = Tlog::spawn(
            &self.data(name),
            &free_addr(),
            &["--database", url, "--database-schema", name],
        );
        let status = wait_exit(&mut child, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{url}: atesto did not exit"));
        let stderr = read_stderr(&mut child);
        assert!(!status.success(), "{url}: {stderr}");
        stderr
    }

    /// `psql` (libpq) on the cluster over verified TLS.
    fn query(&self, sql: &str) -> String {
        psql(&self.verified("localhost", "verify-full", &self.ca), sql)
    }
}

/// A write and its read by UUID.
fn write_and_read(tlog: &Tlog, what: &str) {
    let key = tlog.public_key();
    let entry = tlog.submit(&Signer::new().hashedrekord(what.as_bytes()), &key);
    let reply = tlog.get(&format!("/api/v1/log/entries/{}", entry.id));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let read = LogEntry::from_reply(&reply.text);
    read.verify(&key);
    assert_eq!(read.body, entry.body);
}

#[test]
fn verify_full_with_the_cluster_ca_serves_the_log_over_tls_only() {
    let cluster = TlsCluster::start();
    let url = cluster.verified("localhost", "verify-full", &cluster.ca);
    let tlog = cluster.tlog("verified", &url, &[]);
    write_and_read(&tlog, "over verified TLS");
    // Every connection of the log is encrypted (the server says so), and
    // the entry is in the database.
    let of_atesto = "FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
                     WHERE application_name = 'atesto'";
    let encrypted: u64 = cluster
        .query(&format!("SELECT count(*) {of_atesto} AND ssl"))
        .parse()
        .unwrap();
    assert!(encrypted >= 1);
    assert_eq!(
        cluster.query(&format!("SELECT count(*) {of_atesto} AND NOT ssl")),
        "0"
    );
    assert_eq!(cluster.query("SELECT count(*) FROM verified.entries"), "1");

    // Without sslrootcert the verify modes trust the system's roots: here
    // the test CA, through SSL_CERT_FILE (read by rustls-native-certs).
    let system = cluster.url("localhost", "sslmode=verify-full");
    let ca = cluster.ca.to_str().unwrap();
    let tlog = cluster.tlog("system", &system, &[("SSL_CERT_FILE", ca)]);
    write_and_read(&tlog, "trusting the system roots");
    let system_only = cluster.url("localhost", "sslrootcert=system");
    let tlog = cluster.tlog("system_only", &system_only, &[("SSL_CERT_FILE", ca)]);
    write_and_read(&tlog, "sslrootcert=system");
}

#[test]
fn a_password_is_bound_to_the_tls_session() {
    let cluster = TlsCluster::start();
    cluster.query("CREATE ROLE app LOGIN PASSWORD 'app-secret'");
    cluster.query("GRANT CREATE ON DATABASE postgres TO app");
    let ca = cluster.ca.display();
    let port = cluster.postgres.port;
    let as_app = |password: &str| {
        format!(
            "postgres://app:{password}@localhost:{port}/postgres\
             ?sslmode=verify-full&sslrootcert={ca}&channel_binding=require"
        )
    };
    // SCRAM-SHA-256-PLUS: the server's certificate hash (tls-server-end-point)
    // is in the proof, which `channel_binding=require` insists on.
    let tlog = cluster.tlog("app", &as_app("app-secret"), &[]);
    write_and_read(&tlog, "SCRAM with channel binding");
    let stderr = cluster.refused("app_wrong_password", &as_app("not-the-secret"));
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
}

#[test]
fn each_mode_checks_what_libpq_checks_and_a_refusal_stops_the_start() {
    let cluster = TlsCluster::start();

    // Plain text: the server has no pg_hba.conf line for it.
    let stderr = cluster.refused("plain", &cluster.url("localhost", "sslmode=disable"));
    assert!(
        stderr.contains("pg_hba.conf") && stderr.contains("no encryption"),
        "{stderr}"
    );

    // A chain to another root: refused by the client, in every checking mode.
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = cluster.verified("localhost", mode, &cluster.other_ca);
        let stderr = cluster.refused("other_ca", &url);
        assert!(stderr.contains("UnknownIssuer"), "{mode}: {stderr}");
    }
    // verify-full with the system roots, which do not hold the test CA.
    let stderr = cluster.refused(
        "no_system_root",
        &cluster.url("localhost", "sslmode=verify-full"),
    );
    assert!(
        stderr.contains("UnknownIssuer") || stderr.contains("the system has none"),
        "{stderr}"
    );

    // The certificate names `localhost` only: verify-full at 127.0.0.1 is
    // refused, verify-ca (the chain only) accepts the same server.
    let stderr = cluster.refused(
        "wrong_name",
        &cluster.verified("127.0.0.1", "verify-full", &cluster.ca),
    );
    assert!(
        stderr.contains("not valid for name \"127.0.0.1\""),
        "{stderr}"
    );
    let tlog = cluster.tlog(
        "chain_only",
        &cluster.verified("127.0.0.1", "verify-ca", &cluster.ca),
        &[],
    );
    write_and_read(
        &tlog,
        "verify-ca at an address the certificate does not name",
    );
    // require + sslrootcert is verify-ca, as in libpq: the right root passes.
    let tlog = cluster.tlog(
        "require_root",
        &cluster.verified("127.0.0.1", "require", &cluster.ca),
        &[],
    );
    write_and_read(&tlog, "require with a root");
    // require alone encrypts without checking; prefer (the default) too.
    for (name, query) in [("require", "sslmode=require"), ("prefer", "")] {
        let tlog = cluster.tlog(name, &cluster.url("127.0.0.1", query), &[]);
        write_and_read(&tlog, &format!("unverified TLS ({name})"));
    }

    // Parameters that cannot work are start-up errors naming them.
    let missing = cluster.dir.path().join("missing.pem");
    for (url, expected) in [
        (
            cluster.url("localhost", "sslmode=verify-everything"),
            "sslmode",
        ),
        (
            cluster.verified("localhost", "verify-full", &missing),
            "sslrootcert",
        ),
        (
            cluster.url("localhost", "sslmode=require&sslrootcert=system"),
            "sslrootcert=system needs sslmode=verify-full",
        ),
    ] {
        let stderr = cluster.refused("bad_parameter", &url);
        assert!(stderr.contains(expected), "{url}: {stderr}");
    }
}
