//! Reading every entry of a range of the log, for the identity watch.
//!
//! The fast path is the C2SP tiles read API that `atesto tlog` serves
//! (`/tile/entries/N[.p/W]`: 256 entries per request, length-prefixed); a
//! Rekor v1 log without it is read with `POST /api/v1/log/entries/retrieve`,
//! 10 entries per request (Rekor's limit). Requests run a window at a time,
//! concurrently, and their entries are scanned on the runtime's workers;
//! matches come out in log order.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Value, json};

use crate::MonitorError;
use crate::http::{MAX_REPLY, read_body};
use crate::watch::{Match, WatchList};

/// Entries per tile (C2SP tlog-tiles).
const TILE_WIDTH: u64 = 256;
/// Entries per retrieve request (Rekor answers 422 beyond).
const RETRIEVE_MAX: u64 = 10;
/// Requests in flight at once.
const WINDOW: usize = 16;

#[derive(Debug, Clone, Serialize)]
pub struct ScanSummary {
    pub kind: &'static str,
    pub from: u64,
    pub to: u64,
    pub entries: u64,
    pub matches: u64,
    pub secs: f64,
    /// `tiles` or `retrieve`.
    pub source: &'static str,
}

impl ScanSummary {
    /// Counts a chunk of `scanned` entries and reports its matches.
    fn record(
        &mut self,
        scanned: u64,
        matches: &[Match],
        on_match: &mut impl FnMut(&Match),
        progress: &mut impl FnMut(u64),
    ) {
        self.entries += scanned;
        self.matches += matches.len() as u64;
        matches.iter().for_each(on_match);
        progress(self.entries);
    }

    fn new((from, to): (u64, u64), source: &'static str) -> Self {
        Self {
            kind: "scan",
            from,
            to,
            entries: 0,
            matches: 0,
            secs: 0.0,
            source,
        }
    }
}

/// `/tile/entries/<N>[.p/<W>]`.
fn entries_tile_path(index: u64, width: u64) -> String {
    crate::tiles::tile_path("entries", index, width)
}

/// Splits a C2SP entry bundle: big-endian u16 length, then that many bytes.
fn split_bundle(url: &str, mut bundle: &[u8]) -> Result<Vec<Vec<u8>>, MonitorError> {
    let mut entries = Vec::new();
    while let [hi, lo, rest @ ..] = bundle {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if rest.len() < len {
            break;
        }
        entries.push(rest[..len].to_vec());
        bundle = &rest[len..];
    }
    if !bundle.is_empty() {
        return Err(MonitorError::Malformed {
            url: url.to_owned(),
            reason: "truncated entry bundle".into(),
        });
    }
    Ok(entries)
}

/// An entry bundle: 256 entries of at most 64 KiB, each with its length.
const MAX_BUNDLE: usize = 256 * (2 + 0xffff);

/// A tile's bytes, `None` when the log serves no tiles (404).
async fn get_bytes(client: &reqwest::Client, url: &str) -> Result<Option<Vec<u8>>, MonitorError> {
    let reply = crate::http::get(client, url).await?;
    if reply.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    read_body(reply, url, MAX_BUNDLE).await.map(Some)
}

/// One tile's entries in `[from, to)`, scanned.
async fn tile_matches(
    client: reqwest::Client,
    base: String,
    watch: std::sync::Arc<WatchList>,
    tile: u64,
    from: u64,
    to: u64,
) -> Result<Option<(u64, Vec<Match>)>, MonitorError> {
    let start = tile * TILE_WIDTH;
    let width = (to - start).min(TILE_WIDTH);
    let url = format!("{base}{}", entries_tile_path(tile, width));
    let Some(bundle) = get_bytes(&client, &url).await? else {
        return Ok(None);
    };
    let entries = split_bundle(&url, &bundle)?;
    if entries.len() as u64 != width {
        return Err(MonitorError::Malformed {
            url,
            reason: format!("{} entries, expected {width}", entries.len()),
        });
    }
    let mut matches = Vec::new();
    let mut scanned = 0;
    for (i, body) in entries.iter().enumerate() {
        let index = start + i as u64;
        if index >= from {
            scanned += 1;
            matches.extend(watch.scan(index, body));
        }
    }
    Ok(Some((scanned, matches)))
}

/// Entries `[from, to)` by logIndex through the retrieve endpoint, scanned.
async fn retrieve_matches(
    client: reqwest::Client,
    base: String,
    watch: std::sync::Arc<WatchList>,
    from: u64,
    to: u64,
) -> Result<(u64, Vec<Match>), MonitorError> {
    let url = format!("{base}/api/v1/log/entries/retrieve");
    let indexes: Vec<u64> = (from..to).collect();
    let reply = client
        .post(&url)
        .json(&json!({ "logIndexes": indexes }))
        .send()
        .await
        .map_err(|source| MonitorError::Http {
            url: url.clone(),
            source,
        })?;
    let body = read_body(reply, &url, MAX_REPLY).await?;
    let malformed = |reason: String| MonitorError::Malformed {
        url: url.clone(),
        reason,
    };
    let entries: Vec<Value> =
        serde_json::from_slice(&body).map_err(|e| malformed(e.to_string()))?;
    let mut matches = Vec::new();
    let mut scanned = 0;
    // Each element is {"<uuid>": LogEntry}.
    for entry in entries
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.values())
    {
        let index = entry["logIndex"]
            .as_u64()
            .ok_or_else(|| malformed("an entry without logIndex".into()))?;
        let body = entry["body"]
            .as_str()
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(|| malformed(format!("entry {index}: body is not base64")))?;
        scanned += 1;
        matches.extend(watch.scan(index, &body));
    }
    if scanned != to - from {
        return Err(malformed(format!(
            "{scanned} entries for {} indexes",
            to - from
        )));
    }
    Ok((scanned, matches))
}

/// Scans entries `[from, to)` of the log at `base`, calling `on_match` for
/// each match in log order and `progress` with the entries done so far.
pub async fn scan(
    client: &reqwest::Client,
    base: &str,
    watch: std::sync::Arc<WatchList>,
    (from, to): (u64, u64),
    mut on_match: impl FnMut(&Match),
    mut progress: impl FnMut(u64),
) -> Result<ScanSummary, MonitorError> {
    let started = Instant::now();
    let mut summary = ScanSummary::new((from, to), "tiles");
    if from >= to {
        return Ok(summary);
    }
    // Tiles, while the log serves them.
    let mut tile = from / TILE_WIDTH;
    let last_tile = (to - 1) / TILE_WIDTH;
    let mut tiles_served = true;
    'tiles: while tile <= last_tile {
        let window_end = (tile + WINDOW as u64).min(last_tile + 1);
        let tasks: Vec<_> = (tile..window_end)
            .map(|t| {
                tokio::spawn(tile_matches(
                    client.clone(),
                    base.to_owned(),
                    watch.clone(),
                    t,
                    from,
                    to,
                ))
            })
            .collect();
        for task in tasks {
            match join(task).await? {
                Some((scanned, matches)) => {
                    summary.record(scanned, &matches, &mut on_match, &mut progress)
                }
                None => {
                    tiles_served = false;
                    break 'tiles;
                }
            }
            tile += 1;
        }
    }

    if !tiles_served {
        // No tiles (a Rekor v1 log other than Atesto): retrieve the rest.
        summary.source = "retrieve";
        let next = (tile * TILE_WIDTH).max(from);
        scan_windows(
            (next, to),
            RETRIEVE_MAX,
            |start, end| {
                retrieve_matches(client.clone(), base.to_owned(), watch.clone(), start, end)
            },
            |scanned, matches| summary.record(scanned, &matches, &mut on_match, &mut progress),
        )
        .await?;
    }
    summary.secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The certificate a CT entry logs: the leaf's X.509 certificate, or for a
/// precertificate the full precertificate from `extra_data` (the leaf holds
/// only its TBS). RFC 6962 3.4 (MerkleTreeLeaf) and 4.6 (get-entries).
fn ct_certificate<'a>(leaf: &'a [u8], extra: &'a [u8]) -> Option<(&'static str, &'a [u8])> {
    fn u24_opaque(data: &[u8]) -> Option<&[u8]> {
        let (len, rest) = data.split_first_chunk::<3>()?;
        let len = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
        rest.get(..len)
    }
    // version (1), leaf_type (1), timestamp (8), entry_type (2)
    let entry_type = leaf.get(10..12)?;
    match entry_type {
        [0, 0] => Some(("x509", u24_opaque(leaf.get(12..)?)?)),
        [0, 1] => Some(("precert", u24_opaque(extra)?)),
        _ => None,
    }
}

/// CT entries `[from, to)` from `get-entries` (end inclusive), scanned.
async fn ct_matches(
    client: reqwest::Client,
    base: String,
    watch: std::sync::Arc<WatchList>,
    from: u64,
    to: u64,
) -> Result<(u64, Vec<Match>), MonitorError> {
    #[derive(serde::Deserialize)]
    struct Entries {
        entries: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        leaf_input: String,
        extra_data: String,
    }
    let url = format!("{base}/ct/v1/get-entries?start={from}&end={}", to - 1);
    let reply: Entries = crate::http::get_json(&client, &url).await?;
    let malformed = |reason: String| MonitorError::Malformed {
        url: url.clone(),
        reason,
    };
    // A log may answer fewer entries than asked (RFC 6962 4.6); none is a bad reply.
    if reply.entries.is_empty() || reply.entries.len() as u64 > to - from {
        return Err(malformed(format!("{} entries", reply.entries.len())));
    }
    let mut matches = Vec::new();
    for (i, entry) in reply.entries.iter().enumerate() {
        let index = from + i as u64;
        let (Ok(leaf), Ok(extra)) = (
            STANDARD.decode(&entry.leaf_input),
            STANDARD.decode(&entry.extra_data),
        ) else {
            return Err(malformed(format!("entry {index} is not base64")));
        };
        if let Some((kind, der)) = ct_certificate(&leaf, &extra) {
            matches.extend(watch.scan_certificate(index, kind, der));
        }
    }
    Ok((reply.entries.len() as u64, matches))
}

/// Scans CT entries `[from, to)` like [`scan`] does a Rekor log.
pub async fn scan_ct(
    client: &reqwest::Client,
    base: &str,
    watch: std::sync::Arc<WatchList>,
    (from, to): (u64, u64),
    mut on_match: impl FnMut(&Match),
    mut progress: impl FnMut(u64),
) -> Result<ScanSummary, MonitorError> {
    let started = Instant::now();
    let mut summary = ScanSummary::new((from, to), "get-entries");
    scan_windows(
        (from, to),
        TILE_WIDTH,
        |start, end| ct_matches(client.clone(), base.to_owned(), watch.clone(), start, end),
        |scanned, matches| summary.record(scanned, &matches, &mut on_match, &mut progress),
    )
    .await?;
    summary.secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Reads `[from, to)` in chunks of at most `step` entries, `WINDOW` chunks
/// in flight at once, and hands each chunk's entry count and matches to
/// `emit` in log order. A chunk answered short (RFC 6962 lets a CT log answer
/// fewer entries than asked) ends its window there: the rest is asked again.
async fn scan_windows<Chunk>(
    (from, to): (u64, u64),
    step: u64,
    fetch: impl Fn(u64, u64) -> Chunk,
    mut emit: impl FnMut(u64, Vec<Match>),
) -> Result<(), MonitorError>
where
    Chunk: Future<Output = Result<(u64, Vec<Match>), MonitorError>> + Send + 'static,
{
    let mut next = from;
    while next < to {
        let mut tasks = Vec::new();
        let mut planned = next;
        for _ in 0..WINDOW {
            if planned >= to {
                break;
            }
            let end = (planned + step).min(to);
            tasks.push(tokio::spawn(fetch(planned, end)));
            planned = end;
        }
        for task in tasks {
            let (scanned, matches) = join(task).await?;
            emit(scanned, matches);
            let asked = (next + step).min(to) - next;
            next += scanned;
            if scanned < asked {
                break;
            }
        }
    }
    Ok(())
}

async fn join<T>(
    task: tokio::task::JoinHandle<Result<T, MonitorError>>,
) -> Result<T, MonitorError> {
    task.await.map_err(|e| MonitorError::Malformed {
        url: String::new(),
        reason: format!("scan task failed: {e}"),
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_entries_give_their_certificate() {
        let mut x509 = vec![
            0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 2, 0xaa, 0xbb, 0, 0,
        ];
        assert_eq!(
            ct_certificate(&x509, &[]),
            Some(("x509", &[0xaa, 0xbb][..]))
        );
        x509[11] = 1; // precert: the certificate is in extra_data
        assert_eq!(
            ct_certificate(&x509, &[0, 0, 1, 0xcc, 0, 0, 0]),
            Some(("precert", &[0xcc][..]))
        );
        x509[11] = 2;
        assert_eq!(ct_certificate(&x509, &[]), None);
        assert_eq!(ct_certificate(&[0, 0, 0], &[]), None);
        // A length beyond the data is refused, not sliced past the end.
        assert_eq!(ct_certificate(&[0; 10], &[]), None);
        assert_eq!(
            ct_certificate(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1], &[]),
            None
        );
    }

    #[test]
    fn bundles_split_and_truncation_is_refused() {
        let bundle = [0, 1, b'a', 0, 2, b'b', b'c'];
        assert_eq!(
            split_bundle("u", &bundle).unwrap(),
            vec![b"a".to_vec(), b"bc".to_vec()]
        );
        assert!(split_bundle("u", &bundle[..6]).is_err());
    }
}
