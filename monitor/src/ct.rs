//! The RFC 6962 CT read API a monitor needs: `get-sth` (a signed tree head)
//! and `get-sth-consistency`.

use atesto_common::ct::sct::{SHA256_ECDSA, parse_digitally_signed, tree_head_input};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::MonitorError;
use crate::alert::Alert;
use crate::checkpoint::TreeHead;
use crate::http::{decode_base64_hashes, get_json};
use crate::keys::TrustedKeys;

#[derive(Deserialize)]
struct Sth {
    tree_size: u64,
    timestamp: u64,
    sha256_root_hash: String,
    tree_head_signature: String,
}

#[derive(Deserialize)]
struct Consistency {
    consistency: Vec<String>,
}

/// Fetches and verifies the latest signed tree head. The reply's JSON is kept
/// as the tree head's signed form.
pub async fn latest(
    client: &reqwest::Client,
    base: &str,
    keys: &TrustedKeys,
) -> Result<Result<TreeHead, Alert>, MonitorError> {
    let url = format!("{base}/ct/v1/get-sth");
    let value: serde_json::Value = get_json(client, &url).await?;
    verify_sth(&value, base, keys).map_err(|reason| MonitorError::Malformed { url, reason })
}

/// Verifies a `get-sth` reply of the log at `origin` (its base URL). The
/// outer error is a malformed STH, the inner one an STH no trusted key signed.
pub fn verify_sth(
    value: &serde_json::Value,
    origin: &str,
    keys: &TrustedKeys,
) -> Result<Result<TreeHead, Alert>, String> {
    let sth = Sth::deserialize(value).map_err(|e| e.to_string())?;
    let root: [u8; 32] = STANDARD
        .decode(&sth.sha256_root_hash)
        .ok()
        .and_then(|r| r.try_into().ok())
        .ok_or("sha256_root_hash is not 32 bytes of base64")?;
    let signed = STANDARD
        .decode(&sth.tree_head_signature)
        .map_err(|e| format!("tree_head_signature is not base64: {e}"))?;
    let signature = match parse_digitally_signed(&signed) {
        Some((SHA256_ECDSA, signature)) => signature,
        Some(([a, b], _)) => {
            return Ok(Err(Alert::BadSignature {
                reason: format!("tree head signed with algorithms ({a}, {b}), not SHA-256/ECDSA"),
            }));
        }
        None => return Err("tree_head_signature is not a DigitallySigned".into()),
    };
    let input = tree_head_input(sth.timestamp, sth.tree_size, &root);
    // An STH names no key: any key trusted for this log may have signed it.
    if !keys.iter().any(|key| key.verify(&input, signature)) {
        return Ok(Err(Alert::BadSignature {
            reason: format!(
                "the signed tree head of size {} does not verify with a trusted key",
                sth.tree_size
            ),
        }));
    }
    Ok(Ok(TreeHead {
        origin: origin.to_owned(),
        size: sth.tree_size,
        root: hex::encode(root),
        signed: value.to_string(),
    }))
}

/// RFC 6962 consistency proof from `first` to `second` leaves.
pub async fn consistency(
    client: &reqwest::Client,
    base: &str,
    first: u64,
    second: u64,
) -> Result<Vec<[u8; 32]>, MonitorError> {
    let url = format!("{base}/ct/v1/get-sth-consistency?first={first}&second={second}");
    let proof: Consistency = get_json(client, &url).await?;
    decode_base64_hashes(&url, &proof.consistency)
}
