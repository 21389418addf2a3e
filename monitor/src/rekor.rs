//! The Rekor v1 read API a monitor needs: `GET /api/v1/log` (the signed
//! checkpoint) and `GET /api/v1/log/proof` (consistency proofs).

use serde::Deserialize;

use crate::MonitorError;
use crate::http::{decode_hex_hashes, get_json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogInfo {
    signed_tree_head: String,
    #[serde(rename = "treeID")]
    tree_id: Option<String>,
}

#[derive(Deserialize)]
struct Proof {
    hashes: Vec<String>,
}

/// The latest checkpoint note of the active shard, and its tree ID.
pub async fn latest(
    client: &reqwest::Client,
    base: &str,
) -> Result<(String, Option<String>), MonitorError> {
    let info: LogInfo = get_json(client, &format!("{base}/api/v1/log")).await?;
    Ok((info.signed_tree_head, info.tree_id))
}

/// RFC 6962 consistency proof from `first` to `last` leaves of shard `tree_id`.
pub async fn consistency(
    client: &reqwest::Client,
    base: &str,
    first: u64,
    last: u64,
    tree_id: Option<&str>,
) -> Result<Vec<[u8; 32]>, MonitorError> {
    let mut url = format!("{base}/api/v1/log/proof?firstSize={first}&lastSize={last}");
    if let Some(tree_id) = tree_id {
        url.push_str("&treeID=");
        url.push_str(tree_id);
    }
    let proof: Proof = get_json(client, &url).await?;
    decode_hex_hashes(&url, &proof.hashes)
}
