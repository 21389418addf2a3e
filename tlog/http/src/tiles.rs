//! The C2SP tlog-tiles read API: `/checkpoint`, `/tile/<L>/<N>[.p/<W>]` and
//! `/tile/entries/<N>[.p/<W>]`, for the active shard at the root and for any
//! shard under `/shards/<treeID>/`. Tiles are cut from the store at the
//! published checkpoint, so what is served never runs ahead of a signed tree.
//!
//! The paths (`TileRequest::path`) and the bytes (`tile_bytes`) are shared
//! with the publisher to object storage (`atesto-tlog-object-store`), so a
//! bucket holds exactly what this API serves.

use atesto_common::error::ApiError;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use atesto_tlog_engine::log::Log;
use atesto_tlog_engine::merkle::{self, TILE_WIDTH};
use atesto_tlog_engine::store::{ShardInfo, ShardState};

use crate::{LogState, blocking, parse_u64_param};

/// The tiles routes of the log in `S`.
pub fn routes<S: LogState>() -> Router<S> {
    Router::new()
        .route("/checkpoint", get(active_checkpoint::<S>))
        .route("/tile/{*path}", get(active_tile::<S>))
        .route("/shards/{tree_id}/checkpoint", get(shard_checkpoint::<S>))
        .route("/shards/{tree_id}/tile/{*path}", get(shard_tile::<S>))
}

/// Cache-Control of tiles and entry bundles: a path's bytes never change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Content-Type of tiles and entry bundles.
pub const TILE_CONTENT_TYPE: &str = "application/octet-stream";
/// Content-Type and Cache-Control of a checkpoint, which moves on.
pub const CHECKPOINT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
pub const CHECKPOINT_CACHE_CONTROL: &str = "no-cache";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    Hashes { level: u8 },
    Entries,
}

/// One tile or entry bundle of a shard, as its C2SP path names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRequest {
    pub kind: TileKind,
    pub index: u64,
    /// Width of a partial tile (`.p/<W>`); `None` asks for the full tile.
    pub partial: Option<u64>,
}

impl TileRequest {
    /// The level whose hashes (or, for entries, whose leaves) it holds.
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }

    /// Its path below a shard's root, as C2SP tlog-tiles writes it:
    /// `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let mut path = match self.kind {
            TileKind::Hashes { level } => format!("tile/{level}/"),
            TileKind::Entries => "tile/entries/".to_owned(),
        };
        // N in 3-digit groups, all but the last prefixed with `x`.
        let mut groups = vec![format!("{:03}", self.index % 1000)];
        let mut rest = self.index / 1000;
        while rest > 0 {
            groups.push(format!("x{:03}", rest % 1000));
            rest /= 1000;
        }
        groups.reverse();
        path.push_str(&groups.join("/"));
        if let Some(width) = self.partial {
            path.push_str(&format!(".p/{width}"));
        }
        path
    }
}

fn bad_path(path: &str) -> ApiError {
    ApiError::bad_request(format!("malformed tile path {path:?}"))
}

/// Parses `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N in 3-digit groups with
/// an `x` before all but the last.
pub fn parse_tile_path(path: &str) -> Result<TileRequest, ApiError> {
    let (head, rest) = path.split_once('/').ok_or_else(|| bad_path(path))?;
    let kind = if head == "entries" {
        TileKind::Entries
    } else {
        let level: u8 = (head.len() <= 2 && head.bytes().all(|b| b.is_ascii_digit()))
            .then(|| head.parse().ok())
            .flatten()
            .filter(|l| *l < 64)
            .ok_or_else(|| bad_path(path))?;
        TileKind::Hashes { level }
    };
    let (index_part, partial) = match rest.split_once(".p/") {
        Some((index_part, width)) => {
            let width: u64 = (!width.is_empty()
                && width.len() <= 3
                && width.bytes().all(|b| b.is_ascii_digit()))
            .then(|| width.parse().ok())
            .flatten()
            .filter(|w| (1..TILE_WIDTH).contains(w))
            .ok_or_else(|| bad_path(path))?;
            (index_part, Some(width))
        }
        None => (rest, None),
    };
    let groups: Vec<&str> = index_part.split('/').collect();
    if groups.len() > 7 {
        return Err(bad_path(path));
    }
    let mut index: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last {
            Some(*group)
        } else {
            group.strip_prefix('x')
        };
        let digits = digits
            .filter(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad_path(path))?;
        // A leading zero group is not the canonical encoding.
        if i == 0 && !last && digits == "000" {
            return Err(bad_path(path));
        }
        let value: u64 = digits.parse().map_err(|_| bad_path(path))?;
        index = index
            .checked_mul(1000)
            .and_then(|v| v.checked_add(value))
            .ok_or_else(|| bad_path(path))?;
    }
    Ok(TileRequest {
        kind,
        index,
        partial,
    })
}

fn checkpoint_response(shard: &ShardState) -> Response {
    (
        [
            (header::CONTENT_TYPE, CHECKPOINT_CONTENT_TYPE),
            (header::CACHE_CONTROL, CHECKPOINT_CACHE_CONTROL),
        ],
        shard.checkpoint.note.clone(),
    )
        .into_response()
}

async fn active_checkpoint<S: LogState>(State(state): State<S>) -> Result<Response, ApiError> {
    let view = state.log().view();
    Ok(checkpoint_response(
        view.active().ok_or_else(ApiError::internal)?,
    ))
}

fn shard_by_path<S: LogState>(state: &S, tree_id: &str) -> Result<ShardState, ApiError> {
    let tree_id = parse_u64_param("treeID", tree_id)?;
    state
        .log()
        .view()
        .shard_by_tree_id(tree_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no shard with treeID {tree_id}")))
}

async fn shard_checkpoint<S: LogState>(
    State(state): State<S>,
    tree_id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(tree_id) = tree_id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(checkpoint_response(&shard_by_path(&state, &tree_id)?))
}

async fn active_tile<S: LogState>(
    State(state): State<S>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(path) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let shard = state
        .log()
        .view()
        .active()
        .cloned()
        .ok_or_else(ApiError::internal)?;
    serve_tile(state, shard, &path).await
}

async fn shard_tile<S: LogState>(
    State(state): State<S>,
    params: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((tree_id, path)) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let shard = shard_by_path(&state, &tree_id)?;
    serve_tile(state, shard, &path).await
}

async fn serve_tile<S: LogState>(
    state: S,
    shard: ShardState,
    path: &str,
) -> Result<Response, ApiError> {
    let request = parse_tile_path(path)?;
    let size = shard.checkpoint.size;
    let level = request.level();
    let width = request.partial.unwrap_or(TILE_WIDTH);
    if !merkle::tile_in_tree(size, level, request.index, width) {
        return Err(ApiError::not_found(format!(
            "tile {path} is not in the tree of size {size}"
        )));
    }
    let data = blocking(move || tile_bytes(state.log(), &shard.info, &request, width)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, TILE_CONTENT_TYPE),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        data,
    )
        .into_response())
}

/// The bytes of a tile (`width` hashes) or an entry bundle (`width`
/// entries) of `shard`, read from the store: the caller has checked that
/// its published tree holds them. Blocking.
pub fn tile_bytes(
    log: &Log,
    shard: &ShardInfo,
    request: &TileRequest,
    width: u64,
) -> Result<Vec<u8>, ApiError> {
    match request.kind {
        TileKind::Hashes { level } => {
            let stored = log.read_tile(shard.ordinal, level, request.index)?;
            let wanted = (width * 32) as usize;
            match stored {
                Some(mut data) if data.len() >= wanted => {
                    data.truncate(wanted);
                    Ok(data)
                }
                _ => {
                    tracing::error!(level, index = request.index, "a published tile is missing");
                    Err(ApiError::internal())
                }
            }
        }
        TileKind::Entries => {
            let first = shard.start + request.index * TILE_WIDTH;
            let entries = log.read_entries(first..first + width)?;
            if entries.len() as u64 != width {
                tracing::error!(index = request.index, "published entries are missing");
                return Err(ApiError::internal());
            }
            let mut bundle = Vec::new();
            for entry in entries {
                // Bodies are capped below 64 KiB at submission.
                bundle.extend_from_slice(&(entry.body.len() as u16).to_be_bytes());
                bundle.extend_from_slice(&entry.body);
            }
            Ok(bundle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_parse_as_c2sp_writes_them() {
        let parsed = parse_tile_path("0/x001/x234/067.p/8").unwrap();
        assert_eq!(parsed.kind, TileKind::Hashes { level: 0 });
        assert_eq!(parsed.index, 1_234_067);
        assert_eq!(parsed.partial, Some(8));
        let parsed = parse_tile_path("entries/000").unwrap();
        assert_eq!(parsed.kind, TileKind::Entries);
        assert_eq!(parsed.index, 0);
        assert_eq!(parsed.partial, None);
        for bad in [
            "0",
            "0/1",
            "0/0001",
            "0/x000/001",
            "0/123.p/0",
            "0/123.p/256",
            "64/000",
            "a/000",
            "0/x12/345",
            "0/123/456",
            "0/x001/x002/x003/x004/x005/x006/x007/000",
        ] {
            assert!(parse_tile_path(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn paths_are_written_as_they_are_parsed() {
        for path in [
            "0/000",
            "0/005.p/17",
            "1/999",
            "entries/x001/000",
            "2/x001/x234/067.p/8",
            "entries/x018/x446/x744/x073/x709/x551/615",
        ] {
            let request = parse_tile_path(path).unwrap();
            assert_eq!(request.path(), format!("tile/{path}"));
        }
        let request = TileRequest {
            kind: TileKind::Entries,
            index: 1000,
            partial: None,
        };
        assert_eq!(request.path(), "tile/entries/x001/000");
    }
}
