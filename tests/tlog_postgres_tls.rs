//! `atesto tlog --database "postgres://…?sslmode=…&sslrootcert=…"`: TLS to
//! a PostgreSQL cluster of the test's own that takes TLS connections only
//! (`hostssl` in pg_hba.conf, no `host`), with a server certificate for
//! `localhost` only, issued by a test CA's intermediate. libpq's modes:
//! verify-full checks the chain and the host name, verify-ca the chain,
//! require encrypts without checking; a start the database or the
//! client refuses ends the process with the reason. The role `certuser`
//! logs in by a client certificate of the test CA (`sslcert`, `sslkey`);
//! libpq's PG* variables fill in what the URL leaves out.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use atesto_test_support::pki::{TestCa, leaf_params};
use rcgen::{DnType, ExtendedKeyUsagePurpose, KeyPair};

use support::services::{PrivatePostgres, psql};
use support::*;

/// The cluster, and the files of the trust it is checked with.
struct TlsCluster {
    postgres: PrivatePostgres,
    /// The test CA, which also issues the client certificates the server trusts.
    authority: TestCa,
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
            set_mode(&key_path, 0o600);
            let conf = data.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).unwrap();
            text.push_str(
                "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
                 ssl_ca_file = 'root.crt'\n",
            );
            std::fs::write(&conf, text).unwrap();
            // Client certificates are checked against the test CA's root.
            std::fs::write(data.join("root.crt"), &ca.root_pem).unwrap();
            // TLS only: a plain TCP connection matches no line. `atesto`
            // is trusted, `certuser` shows a certificate naming it, any
            // other user gives its password (SCRAM).
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\n\
                 hostssl all certuser 127.0.0.1/32 cert\n\
                 hostssl all certuser ::1/128 cert\n\
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
            authority: ca,
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
        self.refused_env(name, url, &[])
    }

    /// As `refused`, with extra environment variables.
    fn refused_env(&self, name: &str, url: &str, env: &[(&str, &str)]) -> String {
        let mut child = Tlog::spawn_env(
            &self.data(name),
            &free_addr(),
            &["--database", url, "--database-schema", name],
            env,
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

    /// Asserts that `atesto` is connected as `user` and that every such
    /// connection is encrypted (the server says so).
    fn assert_encrypted(&self, user: &str) {
        let of_user = format!(
            "FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE application_name = 'atesto' AND usename = '{user}'"
        );
        let encrypted: u64 = self
            .query(&format!("SELECT count(*) {of_user} AND ssl"))
            .parse()
            .unwrap();
        assert!(encrypted >= 1, "no connection of atesto as {user}");
        assert_eq!(
            self.query(&format!("SELECT count(*) {of_user} AND NOT ssl")),
            "0"
        );
    }

    /// A client certificate naming `user` (PostgreSQL's `cert` method
    /// takes its common name) issued by `authority`'s intermediate, with
    /// the intermediate after it as libpq users write it, and its PKCS#8
    /// key, readable by the owner only: the files `name.crt`, `name.key`.
    fn client_files(&self, name: &str, authority: &TestCa, user: &str) -> (PathBuf, PathBuf) {
        let mut params = leaf_params(user, false, false);
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let intermediate = pem_rfc7468::encode_string(
            "CERTIFICATE",
            pem_rfc7468::LineEnding::LF,
            &authority.intermediate,
        )
        .unwrap();
        let leaf = params.signed_by(&key, &authority.issuer).unwrap();
        let cert_path = self.dir.path().join(format!("{name}.crt"));
        std::fs::write(&cert_path, format!("{}{intermediate}", leaf.pem())).unwrap();
        let key_path = self.dir.path().join(format!("{name}.key"));
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        set_mode(&key_path, 0o600);
        (cert_path, key_path)
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
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
    // Every connection of the log is encrypted, and the entry is in the
    // database.
    cluster.assert_encrypted("atesto");
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

#[test]
fn a_client_certificate_logs_in_a_role_that_needs_one() {
    let cluster = TlsCluster::start();
    cluster.query("CREATE ROLE certuser LOGIN");
    cluster.query("GRANT CREATE ON DATABASE postgres TO certuser");
    let (cert, key) = cluster.client_files("certuser", &cluster.authority, "certuser");
    let as_certuser = format!(
        "postgres://certuser@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        cluster.postgres.port,
        cluster.ca.display()
    );
    let with_files = |cert: &Path, key: &Path| {
        format!(
            "{as_certuser}&sslcert={}&sslkey={}",
            cert.display(),
            key.display()
        )
    };
    let tlog = cluster.tlog("by_certificate", &with_files(&cert, &key), &[]);
    write_and_read(&tlog, "logged in by a client certificate");
    assert_eq!(
        cluster.query(
            "SELECT DISTINCT client_dn FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE usename = 'certuser'"
        ),
        "/CN=certuser"
    );
    drop(tlog);
    // The same files from PGSSLCERT and PGSSLKEY.
    let tlog = cluster.tlog(
        "certificate_from_env",
        &as_certuser,
        &[
            ("PGSSLCERT", cert.to_str().unwrap()),
            ("PGSSLKEY", key.to_str().unwrap()),
        ],
    );
    write_and_read(&tlog, "a client certificate from the environment");
    drop(tlog);

    // Without a certificate the server refuses the role.
    let stderr = cluster.refused("no_certificate", &as_certuser);
    assert!(
        stderr.contains("connection requires a valid client certificate"),
        "{stderr}"
    );
    // A certificate of another CA: the server's TLS refuses it.
    let other = TestCa::new("not trusted by the server");
    let (other_cert, other_key) = cluster.client_files("other", &other, "certuser");
    let stderr = cluster.refused("other_ca_certificate", &with_files(&other_cert, &other_key));
    assert!(
        stderr.contains("connecting to the database") && stderr.contains("UnknownCA"),
        "{stderr}"
    );

    // Files that cannot work stop the start before any connection.
    let (open_cert, open_key) = cluster.client_files("open", &cluster.authority, "certuser");
    set_mode(&open_key, 0o644);
    let key_text = std::fs::read_to_string(&open_key).unwrap();
    let key_line = key_text.lines().nth(1).unwrap();
    let stderr = cluster.refused("open_key", &with_files(&open_cert, &open_key));
    assert!(
        stderr.contains(&format!("sslkey={}", open_key.display()))
            && stderr.contains("group or world access")
            && !stderr.contains(key_line),
        "{stderr}"
    );
    // Another certificate's key.
    let stderr = cluster.refused("mismatched_key", &with_files(&cert, &other_key));
    assert!(
        stderr.contains(&format!("sslkey={}", other_key.display())) && !stderr.contains(key_line),
        "{stderr}"
    );
    let stderr = cluster.refused(
        "certificate_alone",
        &format!("{as_certuser}&sslcert={}", cert.display()),
    );
    assert!(stderr.contains("needs sslkey"), "{stderr}");
}

/// libpq's variables that connect as `app` to the cluster on `port` over
/// verified TLS, with `changes` made (an empty value counts as unset).
fn app_env<'a>(
    cluster: &'a TlsCluster,
    port: &'a str,
    changes: &[(&'static str, &'a str)],
) -> Vec<(&'static str, &'a str)> {
    let mut env = vec![
        ("PGHOST", "localhost"),
        ("PGPORT", port),
        ("PGUSER", "app"),
        ("PGPASSWORD", "app-secret"),
        ("PGDATABASE", "postgres"),
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", cluster.ca.to_str().unwrap()),
    ];
    for &(name, value) in changes {
        match env.iter_mut().find(|(set, _)| *set == name) {
            Some(slot) => slot.1 = value,
            None => env.push((name, value)),
        }
    }
    env
}

#[test]
fn libpq_environment_variables_fill_in_what_the_url_leaves_out() {
    let cluster = TlsCluster::start();
    cluster.query("CREATE ROLE app LOGIN PASSWORD 'app-secret'");
    cluster.query("GRANT CREATE ON DATABASE postgres TO app");
    let port = &cluster.postgres.port.to_string();
    let env = |changes: &[(&'static str, &'static str)]| app_env(&cluster, port, changes);
    // Everything from the environment.
    let tlog = cluster.tlog("from_env", "postgres://", &env(&[]));
    write_and_read(&tlog, "connected by PG* variables");
    cluster.assert_encrypted("app");
    drop(tlog);

    // The URL's values win: a wrong port and database in the environment,
    // the right ones in the URL.
    let wrong = [("PGPORT", "1"), ("PGDATABASE", "nonexistent")];
    let url = format!("postgres://localhost:{port}/postgres");
    let tlog = cluster.tlog("url_wins", &url, &env(&wrong));
    write_and_read(&tlog, "the URL's port over PGPORT");
    drop(tlog);
    // The wrong port alone is refused, and so is a wrong password, which
    // the message never shows.
    let stderr = cluster.refused_env("wrong_port", "postgres://", &env(&wrong));
    assert!(stderr.contains("connecting to the database"), "{stderr}");
    let wrong_password = [("PGPASSWORD", "wrong-secret")];
    let stderr = cluster.refused_env("wrong_password", "postgres://", &env(&wrong_password));
    assert!(
        stderr.contains("password authentication failed") && !stderr.contains("wrong-secret"),
        "{stderr}"
    );

    // Without PGPASSWORD, the password file's line for this server; the
    // URL names only the database.
    let password_file = cluster.dir.path().join("pgpass");
    std::fs::write(
        &password_file,
        format!(
            "localhost:{port}:other:app:wrong-secret\nlocalhost:{port}:postgres:app:app-secret\n"
        ),
    )
    .unwrap();
    set_mode(&password_file, 0o600);
    let from_file = [
        ("PGPASSWORD", ""),
        ("PGPASSFILE", password_file.to_str().unwrap()),
    ];
    let tlog = cluster.tlog(
        "password_file",
        "postgres:///postgres",
        &app_env(&cluster, port, &from_file),
    );
    write_and_read(&tlog, "the password from the password file");
}
