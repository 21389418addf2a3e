//! The PEM forms a client key arrives in and the PEM Rekor stores.

use base64::Engine;

use super::error::{PubKeyError, echo};

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The PEM blocks a client key may come in.
pub(super) enum PemBlock {
    PublicKey(Vec<u8>),
    Certificate(Vec<u8>),
}

/// Decodes the PEM block `text` starts with, refusing a second block or
/// trailing data. Lenient like Go's `pem.Decode` about line lengths and
/// line endings.
pub(super) fn decode_pem(text: &str) -> Result<PemBlock, PubKeyError> {
    let after_begin = text.strip_prefix("-----BEGIN ").unwrap_or(text);
    let (label, rest) = after_begin
        .split_once("-----")
        .ok_or_else(|| PubKeyError::Pem("unterminated BEGIN line".into()))?;
    if label.is_empty() || label.contains(['\n', '\r']) {
        return Err(PubKeyError::Pem("unterminated BEGIN line".into()));
    }
    let end_line = format!("-----END {label}-----");
    let (body, trailing) = rest
        .split_once(&end_line)
        .ok_or_else(|| PubKeyError::Pem(format!("no END line for {}", echo(label))))?;
    if trailing.contains("-----BEGIN ") {
        return Err(PubKeyError::MultiplePemBlocks);
    }
    if !trailing.trim().is_empty() {
        return Err(PubKeyError::Pem(
            "unexpected data after the END line".into(),
        ));
    }
    // Refuse anything else, private keys above all, before decoding it.
    let block: fn(Vec<u8>) -> PemBlock = match label {
        "PUBLIC KEY" => PemBlock::PublicKey,
        "CERTIFICATE" => PemBlock::Certificate,
        other => return Err(label_error(other)),
    };
    if body.contains(':') {
        return Err(PubKeyError::Pem("PEM headers are not accepted".into()));
    }
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| PubKeyError::Pem(format!("invalid base64: {e}")))?;
    Ok(block(der))
}

fn label_error(label: &str) -> PubKeyError {
    if label.contains("PRIVATE KEY") {
        PubKeyError::PrivateKey(echo(label))
    } else {
        PubKeyError::UnexpectedPemLabel(echo(label))
    }
}

/// PEM as Go's `pem.Encode` writes it.
pub(super) fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    // base64 output is ASCII, so 64-byte chunks are whole lines of text.
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}
