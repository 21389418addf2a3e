//! The C2SP tlog-tiles read API as a monitor uses it: the checkpoint at
//! `/checkpoint`, and consistency proofs the monitor computes itself from
//! hash tiles (`/tile/<L>/<N>[.p/<W>]`), since a tiles log serves no proofs.
//!
//! The proof walk is tlog_tiles's `prove_tree` over its `TileHashReader`,
//! which authenticates every tile it reads against the new tree's signed
//! root before using it; the proof is then checked like any other, so a log
//! whose tiles do not extend the verified tree is caught as a fork.

use tlog_tiles::{Hash, Tile, TileHashReader, TileReader};

use crate::MonitorError;
use crate::http::read_body;

/// Height of C2SP tiles: 256 hashes each.
const HEIGHT: u8 = 8;
const WIDTH: u64 = 1 << HEIGHT;

/// `/tile/<kind>/<N>[.p/<W>]`, N in 3-digit groups with `x` before all but
/// the last (`kind`: a level, or `entries`).
pub fn tile_path(kind: &str, index: u64, width: u64) -> String {
    let mut groups = vec![format!("{:03}", index % 1000)];
    let mut n = index / 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    let mut path = format!("/tile/{kind}/{}", groups.join("/"));
    if width < WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

/// The latest checkpoint note.
pub async fn latest(client: &reqwest::Client, base: &str) -> Result<String, MonitorError> {
    let url = format!("{base}/checkpoint");
    let reply = crate::http::get(client, &url).await?;
    let body = read_body(reply, &url, crate::http::MAX_REPLY).await?;
    String::from_utf8(body).map_err(|_| MonitorError::Malformed {
        url,
        reason: "the checkpoint is not UTF-8".into(),
    })
}

/// Hash tiles fetched over HTTP. `TileReader` is synchronous, so this runs on
/// a blocking thread and drives each request on the runtime.
struct HttpTiles {
    client: reqwest::Client,
    base: String,
    runtime: tokio::runtime::Handle,
}

impl TileReader for HttpTiles {
    fn height(&self) -> u8 {
        HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|tile| {
                let width = u64::from(tile.width());
                let url = format!(
                    "{}{}",
                    self.base,
                    tile_path(&tile.level().to_string(), tile.level_index(), width)
                );
                let data = self
                    .runtime
                    .block_on(async {
                        let reply = crate::http::get(&self.client, &url).await?;
                        read_body(reply, &url, (WIDTH * 32) as usize).await
                    })
                    .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))?;
                // tlog_tiles slices tiles by their width: a short tile must
                // be an error here, not a panic there.
                if data.len() as u64 != width * 32 {
                    return Err(tlog_tiles::Error::InvalidInput(format!(
                        "{url}: {} bytes, expected {}",
                        data.len(),
                        width * 32
                    )));
                }
                Ok(data)
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {
        // Nothing is cached: a monitor asks for a handful of tiles per check.
    }
}

/// The RFC 6962 consistency proof from `first` to `last` leaves, computed from
/// the log's tiles authenticated against `last_root`. A tile that does not
/// authenticate is reported as an unusable reply; the caller's proof check
/// decides about forks.
pub async fn consistency(
    client: &reqwest::Client,
    base: &str,
    (first, last): (u64, u64),
    last_root: [u8; 32],
) -> Result<Vec<[u8; 32]>, MonitorError> {
    let tiles = HttpTiles {
        client: client.clone(),
        base: base.to_owned(),
        runtime: tokio::runtime::Handle::current(),
    };
    let url = format!("{base}/tile/");
    let proof = tokio::task::spawn_blocking(move || {
        let reader = TileHashReader::new(last, Hash(last_root), &tiles);
        tlog_tiles::prove_tree(last, first, &reader)
    })
    .await
    .map_err(|e| MonitorError::Malformed {
        url: url.clone(),
        reason: format!("computing the proof from tiles failed: {e}"),
    })?
    .map_err(|e| MonitorError::Malformed {
        url,
        reason: format!("computing the proof from tiles: {e}"),
    })?;
    Ok(proof.into_iter().map(|h| h.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_follow_c2sp() {
        assert_eq!(tile_path("0", 0, 256), "/tile/0/000");
        assert_eq!(tile_path("1", 1234, 5), "/tile/1/x001/234.p/5");
        assert_eq!(
            tile_path("entries", 1_000_000, 256),
            "/tile/entries/x001/x000/000"
        );
    }
}
