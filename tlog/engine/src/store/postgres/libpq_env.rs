//! libpq's environment variables: `PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`,
//! `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT` and `PGSSLKEY` give a
//! connection parameter the `--database` URL leaves out (the URL wins, as
//! in libpq); then the password file (`PGPASSFILE`, else `~/.pgpass`) gives
//! a password neither gave. The environment is read through a lookup
//! function, so tests pass theirs instead of changing the process's.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::config::Host;

use crate::store::StoreError;

/// The process's environment, or a test's.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// A connection parameter's value and where it came from, for errors that
/// name what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub parameter: &'static str,
    pub value: String,
    /// The environment variable that gave it; `None` for the URL's.
    pub variable: Option<&'static str>,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.parameter, self.value)?;
        match self.variable {
            Some(variable) => write!(f, " (from {variable})"),
            None => Ok(()),
        }
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::Backend(format!("database URL: {message}"))
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// A variable's value; an empty one counts as unset.
    fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.is_empty())
    }

    /// `parameter` (`sslmode`, `sslrootcert`, `sslcert` or `sslkey`) from
    /// its variable, for a URL without it.
    pub fn tls_setting(&self, parameter: &'static str) -> Option<Setting> {
        let variable = match parameter {
            "sslmode" => "PGSSLMODE",
            "sslrootcert" => "PGSSLROOTCERT",
            "sslcert" => "PGSSLCERT",
            "sslkey" => "PGSSLKEY",
            _ => return None,
        };
        self.var(variable).map(|value| Setting {
            parameter,
            value,
            variable: Some(variable),
        })
    }

    /// PGPORT's ports (libpq takes a list, one a host).
    fn ports(&self) -> Result<Option<Vec<u16>>, StoreError> {
        let Some(ports) = self.var("PGPORT") else {
            return Ok(None);
        };
        ports
            .split(',')
            .map(|port| {
                port.trim()
                    .parse()
                    .map_err(|_| invalid(format!("PGPORT={ports:?}: not a port number")))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// A `postgres://` URL (without its query) with PGPORT's port on each
    /// host that names none: the driver would give those 5432, where
    /// libpq takes PGPORT. A URL without hosts is left as it is: `fill`
    /// gives it PGHOST and PGPORT.
    pub fn url_with_default_ports(&self, url: &str) -> Result<String, StoreError> {
        let Some(ports) = self.ports()? else {
            return Ok(url.to_owned());
        };
        let Some((scheme, after_scheme)) = url.split_once("://") else {
            return Ok(url.to_owned());
        };
        // Where the driver looks: the credentials end at the first '@',
        // the hosts at the next '/'.
        let (credentials, rest) = match after_scheme.split_once('@') {
            Some((credentials, rest)) => (Some(credentials), rest),
            None => (None, after_scheme),
        };
        let (hosts, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if hosts.is_empty() {
            return Ok(url.to_owned());
        }
        let hosts: Vec<&str> = hosts.split(',').collect();
        if ports.len() > 1 && ports.len() != hosts.len() {
            return Err(invalid(format!(
                "PGPORT names {} ports for the URL's {} hosts",
                ports.len(),
                hosts.len()
            )));
        }
        let hosts: Vec<String> = hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let has_port = match host.strip_prefix('[') {
                    Some(bracketed) => bracketed
                        .split_once(']')
                        .is_some_and(|(_, after)| after.starts_with(':')),
                    None => host.contains(':'),
                };
                if has_port {
                    (*host).to_owned()
                } else {
                    format!("{host}:{}", ports[if ports.len() == 1 { 0 } else { i }])
                }
            })
            .collect();
        let credentials = credentials.map_or_else(String::new, |c| format!("{c}@"));
        Ok(format!("{scheme}://{credentials}{}{path}", hosts.join(",")))
    }

    /// Gives `config` (the URL's driver parameters) what it leaves out
    /// from the variables, then a password from the password file.
    pub fn fill(&self, config: &mut tokio_postgres::Config) -> Result<(), StoreError> {
        if config.get_hosts().is_empty()
            && config.get_hostaddrs().is_empty()
            && let Some(hosts) = self.var("PGHOST")
        {
            for host in hosts.split(',').filter(|host| !host.is_empty()) {
                config.host(host);
            }
        }
        if config.get_ports().is_empty()
            && let Some(ports) = self.ports()?
        {
            for port in ports {
                config.port(port);
            }
        }
        if config.get_user().is_none()
            && let Some(user) = self.var("PGUSER")
        {
            config.user(&user);
        }
        if config.get_password().is_none()
            && let Some(password) = self.var("PGPASSWORD")
        {
            config.password(password);
        }
        if config.get_dbname().is_none()
            && let Some(dbname) = self.var("PGDATABASE")
        {
            config.dbname(&dbname);
        }
        if config.get_application_name().is_none()
            && let Some(name) = self.var("PGAPPNAME")
        {
            config.application_name(&name);
        }
        if config.get_connect_timeout().is_none()
            && let Some(timeout) = self.var("PGCONNECT_TIMEOUT")
        {
            let seconds: u64 = timeout.trim().parse().map_err(|_| {
                invalid(format!(
                    "PGCONNECT_TIMEOUT={timeout:?}: not a number of seconds"
                ))
            })?;
            // As the driver reads the URL's: 0 is no timeout of its own.
            if seconds > 0 {
                config.connect_timeout(Duration::from_secs(seconds));
            }
        }
        if config.get_password().is_none()
            && let Some(password) = self.password_from_file(config)?
        {
            config.password(password);
        }
        Ok(())
    }

    /// The user the driver logs in as: the given one, else the process's.
    fn user(&self, config: &tokio_postgres::Config) -> Option<String> {
        config
            .get_user()
            .map(str::to_owned)
            .or_else(|| self.var("USER"))
            .or_else(|| self.var("LOGNAME"))
    }

    /// The password file's password for the first host: libpq's format,
    /// `host:port:database:user:password`, `*` matching anything, `\`
    /// escaping `:` and `\`. As libpq, a file others may read is ignored
    /// with a warning, and a missing one is no error.
    fn password_from_file(
        &self,
        config: &tokio_postgres::Config,
    ) -> Result<Option<String>, StoreError> {
        let path = match (self.var("PGPASSFILE"), self.var("HOME")) {
            (Some(file), _) => PathBuf::from(file),
            (None, Some(home)) => Path::new(&home).join(".pgpass"),
            (None, None) => return Ok(None),
        };
        let Ok(metadata) = std::fs::metadata(&path) else {
            return Ok(None);
        };
        if !metadata.is_file() {
            return Ok(None);
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions());
        if mode & 0o077 != 0 {
            tracing::warn!(
                "password file {} ignored: group or others may read it; permissions should be u=rw (0600) or less",
                path.display()
            );
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(format!("password file {}: {e}", path.display())))?;
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(dir)) => dir.display().to_string(),
            None => match config.get_hostaddrs().first() {
                Some(address) => address.to_string(),
                None => return Ok(None),
            },
        };
        let port = config
            .get_ports()
            .first()
            .copied()
            .unwrap_or(5432)
            .to_string();
        let user = self.user(config);
        let dbname = config.get_dbname().map(str::to_owned).or(user.clone());
        let wanted = [Some(host), Some(port), dbname, user];
        Ok(text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(password_file_entry)
            .find(|(fields, _)| {
                fields.iter().zip(&wanted).all(|(field, wanted)| {
                    field == "*" || wanted.as_deref().is_some_and(|wanted| field == wanted)
                })
            })
            .map(|(_, password)| password))
    }
}

/// A password file line's four matching fields and its password (the rest
/// of the line, where `:` needs no escape); `None` for a line with fewer.
fn password_file_entry(line: &str) -> Option<([String; 4], String)> {
    let mut fields: [String; 4] = Default::default();
    let mut chars = line.chars();
    for field in &mut fields {
        loop {
            match chars.next()? {
                ':' => break,
                '\\' => field.push(chars.next()?),
                c => field.push(c),
            }
        }
    }
    let mut password = String::new();
    while let Some(c) = chars.next() {
        // As libpq: a '\' that ends the line stays.
        password.push(match c {
            '\\' => chars.next().unwrap_or('\\'),
            c => c,
        });
    }
    Some((fields, password))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::str::FromStr;

    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    /// `url`'s driver config filled from `vars`.
    fn filled(url: &str, vars: &[(&str, &str)]) -> Result<tokio_postgres::Config, StoreError> {
        let vars = env_of(vars);
        let lookup = |name: &str| vars.get(name).cloned();
        let env = Env::new(&lookup);
        let url = env.url_with_default_ports(url)?;
        let mut config = tokio_postgres::Config::from_str(&url).unwrap();
        env.fill(&mut config)?;
        Ok(config)
    }

    fn hosts(config: &tokio_postgres::Config) -> Vec<String> {
        config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            })
            .collect()
    }

    const ALL: &[(&str, &str)] = &[
        ("PGHOST", "db.example"),
        ("PGPORT", "6432"),
        ("PGUSER", "env-user"),
        ("PGPASSWORD", "env-secret"),
        ("PGDATABASE", "env-db"),
        ("PGAPPNAME", "env-app"),
        ("PGCONNECT_TIMEOUT", "7"),
    ];

    #[test]
    fn the_environment_fills_an_empty_url() {
        for url in ["postgres://", "postgresql://", "host=db.example"] {
            let config = filled(url, ALL).unwrap();
            assert_eq!(hosts(&config), ["db.example"], "{url}");
            assert_eq!(config.get_ports(), [6432], "{url}");
            assert_eq!(config.get_user(), Some("env-user"));
            assert_eq!(config.get_password(), Some(&b"env-secret"[..]));
            assert_eq!(config.get_dbname(), Some("env-db"));
            assert_eq!(config.get_application_name(), Some("env-app"));
            assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(7)));
        }
        // Only the database named.
        let config = filled("postgres:///db", ALL).unwrap();
        assert_eq!(hosts(&config), ["db.example"]);
        assert_eq!(config.get_ports(), [6432]);
        assert_eq!(config.get_dbname(), Some("db"));
        let config = filled("postgres://", &[("PGHOST", "a,b"), ("PGPORT", "1,2")]).unwrap();
        assert_eq!(hosts(&config), ["a", "b"]);
        assert_eq!(config.get_ports(), [1, 2]);
    }

    #[test]
    fn the_url_wins_over_the_environment() {
        let config = filled(
            "postgres://u:pw@h:5/db?application_name=app&connect_timeout=3",
            ALL,
        )
        .unwrap();
        assert_eq!(hosts(&config), ["h"]);
        assert_eq!(config.get_ports(), [5]);
        assert_eq!(config.get_user(), Some("u"));
        assert_eq!(config.get_password(), Some(&b"pw"[..]));
        assert_eq!(config.get_dbname(), Some("db"));
        assert_eq!(config.get_application_name(), Some("app"));
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(3)));
        // A host without a port takes PGPORT, not the driver's 5432.
        let config = filled("postgres://u@h,[::1],k:9/db", ALL).unwrap();
        assert_eq!(hosts(&config), ["h", "::1", "k"]);
        assert_eq!(config.get_ports(), [6432, 6432, 9]);
        assert_eq!(filled("postgres://h", &[]).unwrap().get_ports(), [5432]);
        // Without a password in the URL, PGPASSWORD's; the URL's user stays.
        let config = filled("postgres://u@h/db", ALL).unwrap();
        assert_eq!(config.get_password(), Some(&b"env-secret"[..]));
        assert_eq!(config.get_user(), Some("u"));
        // An empty variable is unset.
        let config = filled("postgres://", &[("PGHOST", ""), ("PGUSER", "")]).unwrap();
        assert!(config.get_hosts().is_empty() && config.get_user().is_none());
    }

    #[test]
    fn a_bad_variable_is_an_error_naming_it() {
        let error = |vars: &[(&str, &str)], url: &str| match filled(url, vars) {
            Ok(_) => panic!("{vars:?} accepted"),
            Err(e) => e.to_string(),
        };
        assert!(error(&[("PGPORT", "x")], "postgres://").contains("PGPORT=\"x\""));
        assert!(error(&[("PGPORT", "1,2")], "postgres://h,i,j").contains("PGPORT names 2 ports"));
        assert!(
            error(&[("PGCONNECT_TIMEOUT", "soon")], "postgres://h").contains("PGCONNECT_TIMEOUT")
        );
    }

    #[test]
    fn tls_settings_name_their_variable() {
        let vars = env_of(&[("PGSSLKEY", "/k.pem")]);
        let lookup = |name: &str| vars.get(name).cloned();
        let env = Env::new(&lookup);
        let key = env.tls_setting("sslkey").unwrap();
        assert_eq!(key.to_string(), "sslkey=/k.pem (from PGSSLKEY)");
        assert_eq!(env.tls_setting("sslcert"), None);
    }

    #[test]
    fn the_password_file_gives_the_first_matching_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\n\
             other:5432:*:u:not-this\n\
             h:5432:db:u:it\\:s:a\\\\secret\n\
             *:*:*:*:fallback\n",
        )
        .unwrap();
        let set_mode = |mode| {
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .unwrap();
        };
        set_mode(0o600);
        let path = file.to_str().unwrap();
        let password = |url: &str, vars: &[(&str, &str)]| {
            let mut vars = vars.to_vec();
            vars.push(("PGPASSFILE", path));
            filled(url, &vars)
                .unwrap()
                .get_password()
                .map(<[u8]>::to_vec)
        };
        assert_eq!(
            password("postgres://u@h/db", &[]),
            Some(b"it:s:a\\secret".to_vec())
        );
        // The database defaults to the user, the user to the process's.
        assert_eq!(
            password("postgres://h", &[("USER", "u"), ("PGDATABASE", "db")]),
            Some(b"it:s:a\\secret".to_vec())
        );
        assert_eq!(
            password("postgres://u@h:5433/db", &[]),
            Some(b"fallback".to_vec())
        );
        // PGPASSWORD and the URL come first.
        assert_eq!(
            password("postgres://u@h/db", &[("PGPASSWORD", "env")]),
            Some(b"env".to_vec())
        );
        assert_eq!(
            password("postgres://u:url@h/db", &[]),
            Some(b"url".to_vec())
        );
        // A file others may read is ignored, as libpq does.
        set_mode(0o644);
        assert_eq!(password("postgres://u@h/db", &[]), None);
        // ~/.pgpass when PGPASSFILE is unset; none at all is no error.
        set_mode(0o600);
        std::fs::rename(&file, dir.path().join(".pgpass")).unwrap();
        let home = dir.path().to_str().unwrap();
        let vars = [("HOME", home)];
        assert_eq!(
            filled("postgres://u@h/db", &vars).unwrap().get_password(),
            Some(&b"it:s:a\\secret"[..])
        );
        assert_eq!(
            filled("postgres://u@h/db", &[("HOME", "/nonexistent")])
                .unwrap()
                .get_password(),
            None
        );
    }
}
