//! TLS to PostgreSQL with libpq's connection parameters `sslmode`
//! (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`),
//! `sslrootcert` (a PEM file of trusted CAs, or `system`), and `sslcert` +
//! `sslkey` (the client's certificate chain and key, PEM). The `postgres`
//! crate knows none of them but `sslmode`, and not its verify modes, so they
//! are taken out of the URL here and the rest goes to its parser; libpq's
//! environment variables fill in what the URL leaves out (`libpq_env.rs`).
//!
//! As in libpq: `prefer` (the default) and `require` encrypt without
//! checking the server's certificate, unless `sslrootcert` is given (then
//! they check its chain, like `verify-ca`); `verify-ca` checks the chain,
//! `verify-full` the chain and the host name. Without `sslrootcert` the
//! verify modes trust the system's roots (rustls-native-certs: the OS
//! store, or `SSL_CERT_FILE`/`SSL_CERT_DIR`); libpq would read
//! `~/.postgresql/root.crt` instead. The client certificate is offered
//! whenever the server asks (every mode but `disable`), as libpq does; its
//! key file must not be readable by group or others, as libpq insists
//! (0640 is allowed when root owns it); `sslpassword` (an encrypted key) is
//! not supported. rustls on aws-lc-rs.

use std::borrow::Cow;
use std::future::Future;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::Socket;
use postgres::config::SslMode as DriverSslMode;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::libpq_env::{Env, Setting};
use crate::store::StoreError;

/// libpq's `sslmode` values (`allow` is not supported: it prefers plain text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = StoreError;

    fn from_str(value: &str) -> Result<Self, StoreError> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => {
                return Err(invalid(format!(
                    "sslmode={value:?}: use disable, prefer, require, verify-ca or verify-full"
                )));
            }
        })
    }
}

/// What the client checks of the server's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// Where trusted roots come from.
enum Roots<'a> {
    File(&'a Setting),
    System,
}

/// The certificate chain (end-entity first) and key the client proves
/// itself with.
struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Both parameters, for an error rustls finds in the pair.
    named: String,
}

/// A `--database` URL taken apart: the driver's config and the TLS
/// connector its connections use.
pub struct Database {
    pub config: tokio_postgres::Config,
    pub tls: Tls,
    pub ssl_mode: SslMode,
}

fn invalid(message: String) -> StoreError {
    StoreError::Backend(format!("database URL: {message}"))
}

/// Parses a PostgreSQL URL (`postgres://…?sslmode=…&sslrootcert=…`) or
/// key-value string, with libpq's environment variables for what it
/// leaves out, reading `sslrootcert` (or the system's roots), `sslcert`
/// and `sslkey` now: a bad value is a start-up error naming the parameter.
/// Blocking.
pub fn parse(url: &str) -> Result<Database, StoreError> {
    let lookup = |name: &str| std::env::var(name).ok();
    parse_in(url, &Env::new(&lookup))
}

/// `parse` in the environment `env`.
pub fn parse_in(url: &str, env: &Env<'_>) -> Result<Database, StoreError> {
    let mut params = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        take_from_url(url, env)?
    } else {
        take_from_key_values(url)?
    };
    if params.sslpassword {
        return Err(invalid(
            "sslpassword (an encrypted sslkey) is not supported: give a key file without a password, readable only by its owner".into(),
        ));
    }
    for (parameter, slot) in [
        ("sslmode", &mut params.sslmode),
        ("sslrootcert", &mut params.sslrootcert),
        ("sslcert", &mut params.sslcert),
        ("sslkey", &mut params.sslkey),
    ] {
        if slot.is_none() {
            *slot = env.tls_setting(parameter);
        }
    }
    let roots = match &params.sslrootcert {
        None => None,
        Some(setting) if setting.value == "system" => Some(Roots::System),
        Some(setting) => Some(Roots::File(setting)),
    };
    let ssl_mode = match (&params.sslmode, &roots) {
        (Some(mode), _) => mode.value.parse().map_err(|e| match mode.variable {
            Some(variable) => StoreError::Backend(format!("{e} (from {variable})")),
            None => e,
        })?,
        // libpq 16: the system's roots mean nothing without the host name.
        (None, Some(Roots::System)) => SslMode::VerifyFull,
        (None, _) => SslMode::Prefer,
    };
    if matches!(roots, Some(Roots::System)) && ssl_mode != SslMode::VerifyFull {
        return Err(invalid(
            "sslrootcert=system needs sslmode=verify-full (as in libpq)".into(),
        ));
    }
    let check = match (ssl_mode, &roots) {
        (SslMode::Disable, _) => Check::Nothing,
        (SslMode::Prefer | SslMode::Require, None) => Check::Nothing,
        (SslMode::Prefer | SslMode::Require | SslMode::VerifyCa, Some(_)) => Check::Chain,
        (SslMode::VerifyCa, None) => Check::Chain,
        (SslMode::VerifyFull, _) => Check::ChainAndName,
    };
    let client = match (&params.sslcert, &params.sslkey) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(client_identity(cert, key)?),
        (Some(cert), None) => {
            return Err(invalid(format!(
                "{cert} needs sslkey, the file of its private key"
            )));
        }
        (None, Some(key)) => {
            return Err(invalid(format!(
                "{key} needs sslcert, the file of its certificate"
            )));
        }
    };
    let mut config =
        tokio_postgres::Config::from_str(&params.rest).map_err(|e| invalid(e.to_string()))?;
    env.fill(&mut config)?;
    config.ssl_mode(match ssl_mode {
        SslMode::Disable => DriverSslMode::Disable,
        SslMode::Prefer => DriverSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
    });
    let trusted = match (check, roots.unwrap_or(Roots::System)) {
        (Check::Nothing, _) => RootCertStore::empty(),
        (_, Roots::File(path)) => roots_from_file(path)?,
        (_, Roots::System) => system_roots()?,
    };
    Ok(Database {
        config,
        tls: Tls::new(check, trusted, client)?,
        ssl_mode,
    })
}

/// The URL's TLS parameters, and the URL without them.
#[derive(Default)]
struct Params {
    rest: String,
    sslmode: Option<Setting>,
    sslrootcert: Option<Setting>,
    sslcert: Option<Setting>,
    sslkey: Option<Setting>,
    /// Whether the URL has one: an error, never read (it is a secret).
    sslpassword: bool,
}

impl Params {
    /// Takes `key` if it is one of ours; false for the driver's.
    fn take(
        &mut self,
        key: &str,
        value: impl FnOnce() -> Result<String, StoreError>,
    ) -> Result<bool, StoreError> {
        let (parameter, slot) = match key {
            "sslmode" => ("sslmode", &mut self.sslmode),
            "sslrootcert" => ("sslrootcert", &mut self.sslrootcert),
            "sslcert" => ("sslcert", &mut self.sslcert),
            "sslkey" => ("sslkey", &mut self.sslkey),
            "sslpassword" => {
                self.sslpassword = true;
                return Ok(true);
            }
            _ => return Ok(false),
        };
        *slot = Some(Setting {
            parameter,
            value: value()?,
            variable: None,
        });
        Ok(true)
    }
}

/// `text` percent-decoded; the error names `what`, never the text (it
/// may be a password).
fn percent_decoded(text: &str, what: &str) -> Result<String, StoreError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| invalid(format!("{what} is not UTF-8 once percent-decoded")))
}

/// The URL's TLS parameters, and the rest with PGPORT's port on hosts
/// that name none (see `Env::url_with_default_ports`).
fn take_from_url(url: &str, env: &Env<'_>) -> Result<Params, StoreError> {
    let mut params = Params::default();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let base = env.url_with_default_ports(base)?;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decoded(key, "a query parameter's name")?;
        if !params.take(&key, || {
            percent_decoded(value, &format!("the value of {key}"))
        })? {
            kept.push(pair);
        }
    }
    params.rest = if kept.is_empty() {
        base
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(params)
}

/// libpq's `key=value key='quoted \' value'` form.
fn take_from_key_values(text: &str) -> Result<Params, StoreError> {
    let mut params = Params::default();
    let mut kept = Vec::new();
    let mut chars = text.chars().peekable();
    let escaped = |next: Option<char>| next.ok_or_else(|| invalid("a '\\' ends the string".into()));
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            // Not echoed: a malformed string may hold a password.
            return Err(invalid(
                "neither a postgres:// URL nor key=value pairs".into(),
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.push(escaped(chars.next())?),
                    Some(c) => value.push(c),
                    None => return Err(invalid(format!("the value of {key} has no closing '"))),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(if c == '\\' { escaped(chars.next())? } else { c });
            }
        }
        let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
        if !params.take(&key, || Ok(value))? {
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    params.rest = kept.join(" ");
    Ok(params)
}

fn roots_from_file(setting: &Setting) -> Result<RootCertStore, StoreError> {
    let fail = |why: String| invalid(format!("{setting}: {why}"));
    let pem = std::fs::read(&setting.value).map_err(|e| fail(e.to_string()))?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("not PEM certificates: {e}")))?;
        store
            .add(cert)
            .map_err(|e| fail(format!("a certificate rustls cannot use: {e}")))?;
    }
    if store.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    Ok(store)
}

/// Reads `sslcert` (PEM certificates, the client's first) and `sslkey`
/// (a PEM private key: PKCS#8, SEC1 or PKCS#1), refusing a key file
/// libpq would refuse. Errors name the file, never show its content.
fn client_identity(cert: &Setting, key: &Setting) -> Result<ClientIdentity, StoreError> {
    let pem = std::fs::read(&cert.value).map_err(|e| invalid(format!("{cert}: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{cert}: not PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(invalid(format!("{cert}: holds no PEM certificate")));
    }
    let key_file = std::fs::File::open(&key.value).map_err(|e| invalid(format!("{key}: {e}")))?;
    let metadata = key_file
        .metadata()
        .map_err(|e| invalid(format!("{key}: {e}")))?;
    if !metadata.is_file() {
        return Err(invalid(format!("{key}: not a regular file")));
    }
    let mode = metadata.permissions().mode();
    let others_may_use = if metadata.uid() == 0 {
        mode & 0o037
    } else {
        mode & 0o077
    };
    if others_may_use != 0 {
        return Err(invalid(format!(
            "{key}: the private key file has group or world access (mode {:04o}); as libpq, it must be u=rw (0600) or less, or u=rw,g=r (0640) or less if owned by root",
            mode & 0o7777
        )));
    }
    let mut pem = Vec::new();
    (&key_file)
        .read_to_end(&mut pem)
        .map_err(|e| invalid(format!("{key}: {e}")))?;
    // The parser's error names the PEM section, never the key's bytes.
    let key_der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        invalid(format!(
            "{key}: no PEM private key (PKCS#8, SEC1 or PKCS#1) that can be read: {e}"
        ))
    })?;
    Ok(ClientIdentity {
        chain,
        key: key_der,
        named: format!("{cert} and {key}"),
    })
}

fn system_roots() -> Result<RootCertStore, StoreError> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(found.certs);
    if store.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(invalid(format!(
            "the certificate check needs trusted roots and the system has none ({}): give sslrootcert=/path/ca.pem",
            errors.join("; ")
        )));
    }
    Ok(store)
}

/// The connector of every connection of one database URL.
#[derive(Clone)]
pub struct Tls {
    connector: tokio_rustls::TlsConnector,
}

impl Tls {
    fn new(
        check: Check,
        roots: RootCertStore,
        client: Option<ClientIdentity>,
    ) -> Result<Self, StoreError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let chain = match check {
            Check::Nothing => None,
            Check::Chain | Check::ChainAndName => Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| invalid(format!("sslrootcert: {e}")))?,
            ),
        };
        let verifier = Arc::new(ServerCheck {
            chain,
            name: check == Check::ChainAndName,
            provider: provider.clone(),
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Backend(format!("TLS configuration: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match client {
            None => builder.with_no_client_auth(),
            // rustls checks that the key is the certificate's.
            Some(client) => builder
                .with_client_auth_cert(client.chain, client.key)
                .map_err(|e| invalid(format!("{}: {e}", client.named)))?,
        };
        // What libpq 17 offers; servers before 17 ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }
}

impl MakeTlsConnect<Socket> for Tls {
    type Stream = PostgresTlsStream;
    type TlsConnect = Handshake;
    type Error = io::Error;

    /// Called for every connection, TLS or not (`disable`, a Unix socket):
    /// a host that cannot be a TLS server name fails only a handshake.
    fn make_tls_connect(&mut self, host: &str) -> Result<Handshake, io::Error> {
        Ok(Handshake {
            connector: self.connector.clone(),
            server: ServerName::try_from(host.to_owned()).ok(),
            host: host.to_owned(),
        })
    }
}

pub struct Handshake {
    connector: tokio_rustls::TlsConnector,
    server: Option<ServerName<'static>>,
    host: String,
}

impl TlsConnect<Socket> for Handshake {
    type Stream = PostgresTlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<PostgresTlsStream>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        Box::pin(async move {
            let server = self.server.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "TLS to {:?}: neither a DNS name nor an IP address",
                        self.host
                    ),
                )
            })?;
            let stream = self.connector.connect(server, socket).await?;
            Ok(PostgresTlsStream(stream))
        })
    }
}

pub struct PostgresTlsStream(tokio_rustls::client::TlsStream<Socket>);

impl TlsStream for PostgresTlsStream {
    /// `tls-server-end-point` (RFC 5929): SCRAM-SHA-256-PLUS binds the
    /// password exchange to this TLS session, as libpq does by default.
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|certificate| tls_server_end_point(certificate))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

/// The hash of the server's certificate with its signature's hash
/// function, SHA-256 for MD5 and SHA-1 (RFC 5929 section 4.1); `None` for
/// signatures without one (Ed25519, RSA-PSS), where no binding is defined.
fn tls_server_end_point(certificate: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::digest;
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, parsed) = X509Certificate::from_der(certificate).ok()?;
    let algorithm = match parsed.signature_algorithm.algorithm.to_id_string().as_str() {
        // md5, sha1, sha256 with RSA; ecdsa with sha1, sha256.
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.2" => &digest::SHA256,
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => &digest::SHA384,
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(algorithm, certificate).as_ref().to_vec())
}

impl AsyncRead for PostgresTlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PostgresTlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The check of the server's certificate that the mode asks for. Without
/// `chain` (`prefer`, `require` without `sslrootcert`: libpq's "encrypted,
/// not verified") any certificate passes; with it, its chain to a trusted
/// root, and the host name when `name`. rustls checks the name only after
/// the chain, so for `verify-ca` a wrong name is the one error let through.
/// The handshake's signatures are always checked.
#[derive(Debug)]
struct ServerCheck {
    chain: Option<Arc<WebPkiServerVerifier>>,
    name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn rest_and_mode(url: &str) -> (String, Option<String>, Option<String>) {
        let params = if url.starts_with("postgres://") {
            take_from_url(url, &Env::new(&no_env))
        } else {
            take_from_key_values(url)
        }
        .unwrap();
        let value = |setting: Option<Setting>| setting.map(|setting| setting.value);
        (
            params.rest,
            value(params.sslmode),
            value(params.sslrootcert),
        )
    }

    #[test]
    fn the_tls_parameters_leave_the_url_and_the_rest_stays() {
        assert_eq!(
            rest_and_mode(
                "postgres://u@h:5/db?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Ftmp%2Fa%20b.pem"
            ),
            (
                "postgres://u@h:5/db?connect_timeout=3".into(),
                Some("verify-full".into()),
                Some("/tmp/a b.pem".into())
            )
        );
        assert_eq!(
            rest_and_mode("postgres://u@h/db?sslmode=require"),
            ("postgres://u@h/db".into(), Some("require".into()), None)
        );
        assert_eq!(
            rest_and_mode("postgres://u@h/db"),
            ("postgres://u@h/db".into(), None, None)
        );
        assert_eq!(
            rest_and_mode(
                "host=h user = u sslrootcert='/tmp/it\\'s.pem' password='a b' sslmode=verify-ca"
            ),
            (
                "host='h' user='u' password='a b'".into(),
                Some("verify-ca".into()),
                Some("/tmp/it's.pem".into())
            )
        );
    }

    fn error_of(url: &str) -> String {
        error_in(url, &[])
    }

    /// `url`'s error in an environment of `vars` only.
    fn error_in(url: &str, vars: &[(&str, &str)]) -> String {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        };
        match parse_in(url, &Env::new(&lookup)) {
            Ok(_) => panic!("{url} accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn modes_follow_libpq() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let base = "postgres://u@127.0.0.1/db";
        assert_eq!(parse(base).unwrap().ssl_mode, SslMode::Prefer);
        assert_eq!(
            parse(&format!("{base}?sslmode=disable")).unwrap().ssl_mode,
            SslMode::Disable
        );
        assert_eq!(
            parse(&format!("{base}?sslmode=require")).unwrap().ssl_mode,
            SslMode::Require
        );
        // The mode is checked, and a root file read, before anything connects.
        assert!(error_of(&format!("{base}?sslmode=verify")).contains("sslmode=\"verify\""));
        assert!(error_of(&format!("{base}?sslmode=allow")).contains("sslmode"));
        let missing = error_of(&format!(
            "{base}?sslmode=verify-ca&sslrootcert=/nonexistent.pem"
        ));
        assert!(
            missing.contains("sslrootcert=/nonexistent.pem"),
            "{missing}"
        );
        let no_certs = error_of(&format!(
            "{base}?sslmode=verify-full&sslrootcert={}",
            empty.display()
        ));
        assert!(no_certs.contains("holds no PEM certificate"), "{no_certs}");
        assert!(
            error_of(&format!("{base}?sslmode=require&sslrootcert=system")).contains("verify-full")
        );
        assert!(error_of("not a url").contains("database URL"));
        // Errors name the parameter, never echo a value.
        let undecodable = error_of(&format!("{base}?sslrootcert=s%FFcret"));
        assert!(
            undecodable.contains("the value of sslrootcert") && !undecodable.contains("cret"),
            "{undecodable}"
        );
        assert!(!error_of("hunter2").contains("hunter2"));
    }

    #[test]
    fn the_environment_gives_the_tls_parameters_the_url_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "").unwrap();
        let ca = ca.to_str().unwrap();
        let base = "postgres://u@127.0.0.1/db";
        let in_env = |url: &str, vars: &[(&str, &str)]| {
            let lookup = |name: &str| {
                vars.iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| (*value).to_owned())
            };
            parse_in(url, &Env::new(&lookup)).map(|database| database.ssl_mode)
        };
        assert_eq!(
            in_env(base, &[("PGSSLMODE", "disable")]).unwrap(),
            SslMode::Disable
        );
        // The URL's mode wins.
        assert_eq!(
            in_env(
                &format!("{base}?sslmode=require"),
                &[("PGSSLMODE", "disable")]
            )
            .unwrap(),
            SslMode::Require
        );
        // An error names the variable the value came from.
        let bad_root = error_in(base, &[("PGSSLMODE", "verify-ca"), ("PGSSLROOTCERT", ca)]);
        assert!(
            bad_root.contains(&format!(
                "sslrootcert={ca} (from PGSSLROOTCERT): holds no PEM"
            )),
            "{bad_root}"
        );
        let bad_mode = error_in(base, &[("PGSSLMODE", "verify")]);
        assert!(
            bad_mode.contains("sslmode=\"verify\"") && bad_mode.contains("(from PGSSLMODE)"),
            "{bad_mode}"
        );
    }

    /// A file of `text` with `mode`.
    fn file_with_mode(dir: &std::path::Path, name: &str, text: &str, mode: u32) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn a_client_certificate_needs_its_key_in_a_file_only_its_owner_reads() {
        let dir = tempfile::tempdir().unwrap();
        // The files are read as PEM here; what is inside is rustls's to
        // check (tests/tlog_postgres_tls.rs has real ones).
        let cert = file_with_mode(
            dir.path(),
            "client.crt",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            0o644,
        );
        let secret =
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
        let open_key = file_with_mode(dir.path(), "open.key", secret, 0o644);
        // Not 0640: that is allowed when root owns the file (and the tests
        // may run as root).
        let group_key = file_with_mode(dir.path(), "group.key", secret, 0o660);
        let not_a_key = file_with_mode(dir.path(), "cert-as-key.key", "no PEM here", 0o600);
        let base = "postgres://u@127.0.0.1/db?sslmode=require";

        let alone = error_of(&format!("{base}&sslcert={cert}"));
        assert!(alone.contains("needs sslkey"), "{alone}");
        let alone = error_of(&format!("{base}&sslkey={open_key}"));
        assert!(alone.contains("needs sslcert"), "{alone}");
        // Either may come from the environment.
        let alone = error_in(base, &[("PGSSLCERT", &cert)]);
        assert!(alone.contains("(from PGSSLCERT) needs sslkey"), "{alone}");

        for key in [&open_key, &group_key] {
            let open = error_of(&format!("{base}&sslcert={cert}&sslkey={key}"));
            assert!(
                open.contains(&format!("sslkey={key}"))
                    && open.contains("group or world access")
                    && open.contains("0600"),
                "{open}"
            );
            assert!(!open.contains("c2VjcmV0"), "{open}");
        }
        let unreadable = error_of(&format!("{base}&sslcert={cert}&sslkey={not_a_key}"));
        assert!(
            unreadable.contains(&format!("sslkey={not_a_key}: no PEM private key")),
            "{unreadable}"
        );
        let missing = error_of(&format!(
            "{base}&sslcert=/nonexistent.crt&sslkey={open_key}"
        ));
        assert!(missing.contains("sslcert=/nonexistent.crt"), "{missing}");
        let no_certs = error_of(&format!("{base}&sslcert={not_a_key}&sslkey={open_key}"));
        assert!(no_certs.contains("holds no PEM certificate"), "{no_certs}");

        // An encrypted key is not supported, and its password never shown.
        let password = error_of(&format!(
            "{base}&sslcert={cert}&sslkey={open_key}&sslpassword=hunter2"
        ));
        assert!(
            password.contains("sslpassword") && !password.contains("hunter2"),
            "{password}"
        );
        let password = error_of("host=h sslpassword='hunter2'");
        assert!(
            password.contains("sslpassword") && !password.contains("hunter2"),
            "{password}"
        );
    }

    #[test]
    fn errors_never_show_a_password_from_the_environment() {
        // A start-up that fails after the password was read.
        let error = error_in(
            "postgres://",
            &[
                ("PGPASSWORD", "env-secret"),
                ("PGHOST", "127.0.0.1"),
                ("PGSSLMODE", "verify-ca"),
                ("PGSSLROOTCERT", "/nonexistent.pem"),
            ],
        );
        assert!(
            error.contains("PGSSLROOTCERT") && !error.contains("env-secret"),
            "{error}"
        );
        let error = error_in(
            "postgres://",
            &[("PGPASSWORD", "env-secret"), ("PGPORT", "x")],
        );
        assert!(
            error.contains("PGPORT") && !error.contains("env-secret"),
            "{error}"
        );
    }
}
