//! The little HTTP the monitor does: GET, check the status, parse JSON.

use serde::de::DeserializeOwned;

use crate::MonitorError;

/// Replies larger than this are refused: a tree head or proof is a few KiB,
/// and a hostile log must not be able to make the monitor buffer gigabytes.
pub const MAX_REPLY: usize = 4 << 20;

/// GET `url`; a transport failure names the URL.
pub async fn get(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, MonitorError> {
    client
        .get(url)
        .send()
        .await
        .map_err(|source| MonitorError::Http {
            url: url.to_owned(),
            source,
        })
}

pub async fn get_json<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> Result<T, MonitorError> {
    let reply = get(client, url).await?;
    let body = read_body(reply, url, MAX_REPLY).await?;
    serde_json::from_slice(&body).map_err(|e| MonitorError::Malformed {
        url: url.to_owned(),
        reason: e.to_string(),
    })
}

/// The body of a successful reply, refused beyond `max` bytes; any other
/// status is an error carrying the start of the body.
pub async fn read_body(
    mut reply: reqwest::Response,
    url: &str,
    max: usize,
) -> Result<Vec<u8>, MonitorError> {
    let status = reply.status();
    let mut body = Vec::new();
    while let Some(chunk) = reply.chunk().await.map_err(|source| MonitorError::Http {
        url: url.to_owned(),
        source,
    })? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(MonitorError::Malformed {
                url: url.to_owned(),
                reason: format!("reply larger than {max} bytes"),
            });
        }
    }
    if !status.is_success() {
        return Err(MonitorError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(300).collect(),
        });
    }
    Ok(body)
}

fn decode_hashes<E: std::fmt::Display>(
    url: &str,
    hashes: &[String],
    decode: impl Fn(&str) -> Result<Vec<u8>, E>,
) -> Result<Vec<[u8; 32]>, MonitorError> {
    hashes
        .iter()
        .map(|h| {
            decode(h)
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    <[u8; 32]>::try_from(b).map_err(|b| format!("{} bytes, not 32", b.len()))
                })
                .map_err(|reason| MonitorError::Malformed {
                    url: url.to_owned(),
                    reason: format!("proof hash {h:?}: {reason}"),
                })
        })
        .collect()
}

/// Rekor's proof hashes: lowercase hex.
pub fn decode_hex_hashes(url: &str, hashes: &[String]) -> Result<Vec<[u8; 32]>, MonitorError> {
    decode_hashes(url, hashes, |h| hex::decode(h))
}

/// CT's proof hashes: base64.
pub fn decode_base64_hashes(url: &str, hashes: &[String]) -> Result<Vec<[u8; 32]>, MonitorError> {
    use base64::Engine;
    decode_hashes(url, hashes, |h| {
        base64::engine::general_purpose::STANDARD.decode(h)
    })
}
