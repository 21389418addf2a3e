//! `atesto tsa` for tests: a chain from `atesto tsa init`, a running TSA,
//! RFC 3161 requests built here from the RFC (not the server's code), and
//! `openssl ts` as the independent verifier of what it answers.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Tlog, atesto, free_addr};

pub const TIMESTAMP_PATH: &str = "/api/v1/timestamp";
pub const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";
pub const SIGSTORE_POLICY: &str = "1.3.6.1.4.1.57264.2";

/// Runs `atesto tsa init --dir DIR`, asserting success.
pub fn init_chain(dir: &Path) {
    let output = atesto(&["tsa", "init", "--dir", dir.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "atesto tsa init: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A running `atesto tsa` with a chain of its own under `dir`, and
/// `extra_yaml` appended to its config.
pub struct Tsa {
    pub server: Tlog,
    pub dir: PathBuf,
}

impl Tsa {
    pub fn start(dir: &Path, extra_yaml: &str) -> Tsa {
        init_chain(&dir.join("tsa"));
        let config = write_config(dir, extra_yaml);
        Self::serve(dir, &config, &[])
    }

    /// Runs `atesto tsa --config CONFIG` with `env` added to its environment
    /// (a PKCS#11 module's config and PIN travel this way).
    pub fn serve(dir: &Path, config: &Path, env: &[(&str, &str)]) -> Tsa {
        let addr = free_addr();
        let args = [
            OsStr::new("tsa"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--addr"),
            OsStr::new(&addr),
        ];
        Tsa {
            server: Tlog::start_args_env(&args, env, &addr),
            dir: dir.to_owned(),
        }
    }

    /// POSTs `body` with `content_type` to the timestamp endpoint.
    pub fn post(&self, content_type: &str, body: Vec<u8>) -> super::Reply {
        let response = super::client()
            .post(self.server.url(TIMESTAMP_PATH))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .expect("POST timestamp");
        super::Reply::from(response)
    }
}

/// `tsa.yaml` in `dir`, signing with the chain `init_chain` wrote to `dir/tsa`.
pub fn write_config(dir: &Path, extra_yaml: &str) -> PathBuf {
    let path = dir.join("tsa.yaml");
    std::fs::write(
        &path,
        format!("signer:\n  chain: tsa/chain.pem\n  key: tsa/tsa-key.pem\n{extra_yaml}"),
    )
    .unwrap();
    path
}

/// One DER TLV (definite length).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The DER OBJECT IDENTIFIER of a dotted OID.
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    let mut content = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for arc in &arcs[2..] {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        groups.reverse();
        content.extend(groups);
    }
    tlv(0x06, &content)
}

/// A TimeStampReq (RFC 3161 2.4.1): v1, the imprint, an optional policy,
/// nonce 0x0102, certReq true.
pub fn time_stamp_req(hash_oid: &str, digest: &[u8], policy: Option<&str>) -> Vec<u8> {
    let algorithm = tlv(0x30, &[oid(hash_oid), vec![0x05, 0x00]].concat());
    let imprint = tlv(0x30, &[algorithm, tlv(0x04, digest)].concat());
    let mut fields = [tlv(0x02, &[1]), imprint].concat();
    if let Some(policy) = policy {
        fields.extend(oid(policy));
    }
    fields.extend(tlv(0x02, &[0x01, 0x02]));
    fields.extend(tlv(0x01, &[0xff]));
    tlv(0x30, &fields)
}

/// Runs `openssl ARGS`, returning (success, stdout + stderr).
pub fn openssl(args: &[&OsStr]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (Debian package openssl; .ci/run installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `openssl ts -query` for `data` with `extra` flags, written to
/// `dir/query.tsq`; returns the DER request.
pub fn openssl_query(dir: &Path, data: &Path, extra: &[&str]) -> Vec<u8> {
    let out = dir.join("query.tsq");
    let mut args = vec![
        OsStr::new("ts"),
        OsStr::new("-query"),
        OsStr::new("-data"),
        data.as_os_str(),
        OsStr::new("-out"),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let (ok, text) = openssl(&args);
    assert!(ok, "openssl ts -query: {text}");
    std::fs::read(out).unwrap()
}

/// Splits a PEM chain into (TSA certificate, the rest) files under `dir`,
/// as `openssl ts -verify` takes them (`-untrusted`, `-CAfile`).
pub fn split_chain(pem: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let end = "-----END CERTIFICATE-----\n";
    let first = pem.find(end).expect("a PEM certificate") + end.len();
    let leaf = dir.join("tsa-leaf.pem");
    let rest = dir.join("tsa-roots.pem");
    std::fs::write(&leaf, &pem[..first]).unwrap();
    std::fs::write(&rest, &pem[first..]).unwrap();
    (leaf, rest)
}

/// `openssl ts -verify` of the reply in `reply` against `data`, trusting
/// the chain in `chain_pem`.
pub fn openssl_verify(reply: &Path, data: &Path, chain_pem: &str, dir: &Path) -> (bool, String) {
    let (leaf, roots) = split_chain(chain_pem, dir);
    openssl(&[
        OsStr::new("ts"),
        OsStr::new("-verify"),
        OsStr::new("-in"),
        reply.as_os_str(),
        OsStr::new("-data"),
        data.as_os_str(),
        OsStr::new("-CAfile"),
        roots.as_os_str(),
        OsStr::new("-untrusted"),
        leaf.as_os_str(),
    ])
}
