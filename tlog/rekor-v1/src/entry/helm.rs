//! helm 0.0.1: a Helm chart's provenance file (a PGP clearsigned document
//! listing the chart's digest) and the OpenPGP key that signed it, as the
//! helm-sigstore plugin uploads them.
//!
//! As in Rekor's helm v0.0.1 entry: the client sends `spec.publicKey.content`
//! (an armored or binary OpenPGP key) and `spec.chart.provenance.content`
//! (the provenance file); the log verifies the clearsigned signature with the
//! key and stores instead the key re-armored, the chart digest read from the
//! provenance (`files:` map) and the provenance's signature re-armored. The
//! armor is written as Go's `openpgp/armor` writes it (64-character lines,
//! CRC-24 checksum, no headers, no final newline) so that Rekor's and
//! Atesto's bodies for the same upload agree.
//!
//! OpenPGP parsing and verification use rpgp (`pgp`): the one verifier in
//! Atesto that is not aws-lc-rs, as OpenPGP packets and key formats are not
//! something aws-lc offers.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use pgp::ser::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::{EntryError, HelmError};
use super::fields::{Fields, echo};
use super::index::digest_key;

/// Validates a helm spec and verifies the provenance signature; returns the
/// canonical spec and the index keys (key fingerprint, key emails, chart digest).
pub(super) fn prepare(spec: &Fields<'_>) -> Result<(Value, Vec<String>), EntryError> {
    let key_bytes = spec.object("publicKey")?.base64("content")?;
    let provenance = spec.object("chart")?.object("provenance")?;
    if provenance.get("content").is_none() && provenance.get("signature").is_some() {
        return Err(HelmError::SignatureOnly.into());
    }
    let provenance = provenance.base64("content")?;

    let keys = parse_keys(&key_bytes)?;
    let provenance = std::str::from_utf8(&provenance)
        .map_err(|_| HelmError::Provenance("it is not UTF-8 text".into()))?;
    let (message, _) = CleartextSignedMessage::from_string(provenance)
        .map_err(|err| HelmError::Provenance(err.to_string()))?;
    let chart_digest = chart_digest(&message.text().replace("\r\n", "\n"))?;
    if !verifies(&message, &keys) {
        return Err(HelmError::Signature.into());
    }
    let signature = armored_signature_bytes(provenance)?;

    let mut key_packets = Vec::new();
    for key in &keys {
        key.to_writer(&mut key_packets)
            .map_err(|err| HelmError::Key(err.to_string()))?;
    }
    let canonical_key = go_armor("PGP PUBLIC KEY BLOCK", &key_packets);
    let canonical = json!({
        "publicKey": {"content": STANDARD.encode(&canonical_key)},
        "chart": {
            "hash": {"algorithm": "sha256", "value": chart_digest},
            "provenance": {
                "signature": {"content": STANDARD.encode(go_armor("PGP SIGNATURE", &signature))},
            },
        },
    });

    let mut index_keys = vec![format!(
        "key:{}",
        hex::encode(Sha256::digest(canonical_key.as_bytes()))
    )];
    index_keys.extend(
        emails(&keys)
            .into_iter()
            .map(|email| format!("id:{}", email.to_lowercase())),
    );
    index_keys.extend(digest_key("sha256", &chart_digest));
    Ok((canonical, index_keys))
}

/// Every transferable public key in `bytes`, armored or binary (Rekor takes
/// a keyring too).
fn parse_keys(bytes: &[u8]) -> Result<Vec<SignedPublicKey>, HelmError> {
    let armored = bytes.trim_ascii_start().starts_with(b"-----BEGIN PGP");
    let keys: Result<Vec<SignedPublicKey>, _> = if armored {
        SignedPublicKey::from_armor_many(bytes)
            .map_err(|err| HelmError::Key(err.to_string()))?
            .0
            .collect()
    } else {
        SignedPublicKey::from_bytes_many(bytes)
            .map_err(|err| HelmError::Key(err.to_string()))?
            .collect()
    };
    let keys = keys.map_err(|err| HelmError::Key(err.to_string()))?;
    if keys.is_empty() {
        return Err(HelmError::NoKey);
    }
    Ok(keys)
}

/// True if a signature of the message verifies with a primary key or subkey.
fn verifies(message: &CleartextSignedMessage, keys: &[SignedPublicKey]) -> bool {
    keys.iter().any(|key| {
        message.verify(key).is_ok()
            || key
                .public_subkeys
                .iter()
                .any(|subkey| message.verify(subkey).is_ok())
    })
}

/// The chart digest of a provenance's signed text: after the chart metadata
/// and a `...` line comes YAML whose `files` map names the chart archive and
/// its `sha256:<hex>`, as Rekor reads it.
fn chart_digest(dash_escaped_text: &str) -> Result<String, HelmError> {
    #[derive(serde::Deserialize)]
    struct SumCollection {
        files: Option<BTreeMap<String, String>>,
    }
    let text: String = dash_escaped_text
        .lines()
        .map(|line| line.strip_prefix("- ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let (_, sums) = text.split_once("\n...\n").ok_or(HelmError::NoChartDigest)?;
    let sums: SumCollection =
        serde_yaml_ng::from_str(sums).map_err(|_| HelmError::NoChartDigest)?;
    let (_, digest) = sums
        .files
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or(HelmError::NoChartDigest)?;
    match digest.split_once(':') {
        Some((algorithm, hex)) if algorithm.eq_ignore_ascii_case("sha256") => {
            digest_key("sha256", hex)
                .map(|_| hex.to_ascii_lowercase())
                .ok_or_else(|| HelmError::ChartDigest(echo(&digest)))
        }
        _ => Err(HelmError::ChartDigest(echo(&digest))),
    }
}

/// The packets of the provenance's armored signature block, as Go's
/// clearsign decoder hands them to Rekor.
fn armored_signature_bytes(provenance: &str) -> Result<Vec<u8>, HelmError> {
    let missing = || HelmError::Provenance("it has no PGP SIGNATURE block".into());
    let (_, block) = provenance
        .split_once("-----BEGIN PGP SIGNATURE-----")
        .ok_or_else(missing)?;
    let (block, _) = block
        .split_once("-----END PGP SIGNATURE-----")
        .ok_or_else(missing)?;
    // Armor headers end at the first blank line; the body ends at the checksum.
    let mut lines = block
        .lines()
        .map(str::trim_end)
        .skip_while(|l| l.is_empty());
    let body: Vec<&str> = if block.contains(": ") {
        lines
            .by_ref()
            .skip_while(|l| !l.is_empty())
            .skip(1)
            .collect()
    } else {
        lines.collect()
    };
    let body: String = body
        .into_iter()
        .take_while(|line| !line.starts_with('='))
        .collect();
    STANDARD
        .decode(body)
        .map_err(|err| HelmError::Provenance(format!("its signature block is not base64: {err}")))
}

/// `data` in ASCII armor exactly as Go's `armor.Encode` writes it with no
/// headers: 64-character lines, `=` CRC-24 line, no newline after the footer.
fn go_armor(block_type: &str, data: &[u8]) -> String {
    let encoded = STANDARD.encode(data);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
        .collect();
    let crc = crc24(data).to_be_bytes();
    format!(
        "-----BEGIN {block_type}-----\n\n{}\n={}\n-----END {block_type}-----",
        lines.join("\n"),
        STANDARD.encode(&crc[1..])
    )
}

/// The OpenPGP armor checksum (RFC 4880, 6.1).
fn crc24(data: &[u8]) -> u32 {
    const INIT: u32 = 0x00b7_04ce;
    const POLY: u32 = 0x0186_4cfb;
    let mut crc = INIT;
    for byte in data {
        crc ^= u32::from(*byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= POLY;
            }
        }
    }
    crc & 0x00ff_ffff
}

/// The email addresses of the keys' user IDs (`Name <email>`), as Rekor
/// files them.
fn emails(keys: &[SignedPublicKey]) -> Vec<String> {
    keys.iter()
        .flat_map(|key| &key.details.users)
        .filter_map(|user| {
            let id = std::str::from_utf8(user.id.id()).ok()?;
            let (_, rest) = id.rsplit_once('<')?;
            let (email, _) = rest.split_once('>')?;
            let (local, domain) = email.split_once('@')?;
            let plausible = !local.is_empty()
                && domain.contains('.')
                && !email.contains(char::is_whitespace)
                && !domain.contains('@');
            plausible.then(|| email.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armor_matches_gos_layout_and_checksum() {
        // RFC 4880's CRC-24 of no data is its initial value.
        assert_eq!(crc24(b""), 0x00b7_04ce);
        let armored = go_armor("PGP SIGNATURE", &[0u8; 60]);
        let lines: Vec<&str> = armored.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PGP SIGNATURE-----");
        assert_eq!(lines[1], "");
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 16);
        assert!(lines[4].starts_with('=') && lines[4].len() == 5);
        assert_eq!(lines[5], "-----END PGP SIGNATURE-----");
        assert!(!armored.ends_with('\n'));
    }

    #[test]
    fn chart_digest_is_read_from_the_files_map() {
        let hex = "ab".repeat(32);
        let text =
            format!("apiVersion: v2\nname: demo\n\n...\nfiles:\n  demo-0.1.0.tgz: sha256:{hex}\n");
        assert_eq!(chart_digest(&text).unwrap(), hex);
        let no_files = "apiVersion: v2\n...\nimages: {}\n";
        assert!(matches!(
            chart_digest(no_files),
            Err(HelmError::NoChartDigest)
        ));
        let md5 = "name: demo\n...\nfiles:\n  demo.tgz: md5:abc\n";
        assert!(matches!(chart_digest(md5), Err(HelmError::ChartDigest(_))));
        assert!(matches!(
            chart_digest("no separator"),
            Err(HelmError::NoChartDigest)
        ));
    }

    #[test]
    fn signature_block_is_decoded_with_or_without_headers() {
        let body = STANDARD.encode(b"signature packets");
        for headers in ["", "Version: x\nComment: y\n"] {
            let provenance = format!(
                "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\ntext\n-----BEGIN PGP SIGNATURE-----\n{headers}\n{body}\n=abcd\n-----END PGP SIGNATURE-----\n"
            );
            assert_eq!(
                armored_signature_bytes(&provenance).unwrap(),
                b"signature packets"
            );
        }
    }
}
