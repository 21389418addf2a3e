//! The bucket a log publishes to, opened from its URL: `s3://BUCKET[/PREFIX]`
//! (endpoint, region and credentials from the standard `AWS_*` variables),
//! `gs://BUCKET[/PREFIX]` (`GOOGLE_*`) or `file:///DIR`. Everything the
//! publisher writes goes under the prefix, at the paths the HTTP API serves.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreExt, PutOptions,
    PutPayload, RetryConfig,
};

use atesto_tlog_http::tiles::{
    CHECKPOINT_CACHE_CONTROL, CHECKPOINT_CONTENT_TYPE, IMMUTABLE, TILE_CONTENT_TYPE,
};

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error(
        "--object-store {url:?}: {reason} (expected s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX] or file:///DIR)"
    )]
    BadUrl { url: String, reason: String },
    #[error("object store {url}: {source}")]
    Store {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("object store {url}: {path}: {reason}")]
    BadObject {
        url: String,
        path: String,
        reason: String,
    },
}

/// How long one request may take before it is retried, and how long its
/// retries may go on: short, so a stalled store shows as lag and errors
/// soon, and the publisher's own loop (which re-reads the bucket) retries.
const REQUEST_TIMEOUT: &str = "10s";
const CONNECT_TIMEOUT: &str = "5s";
const RETRY_FOR: Duration = Duration::from_secs(20);

/// What an object is: its HTTP headers when served from the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A tile or entry bundle: its bytes never change.
    Tile,
    /// The checkpoint, which moves on.
    Checkpoint,
}

/// An opened bucket and prefix.
#[derive(Clone)]
pub struct Bucket {
    url: String,
    store: Arc<dyn ObjectStore>,
    /// Local directories cannot keep HTTP headers with an object.
    headers: bool,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: RETRY_FOR,
    }
}

impl Bucket {
    /// Opens the bucket `url` names. Only the URL and the configuration are
    /// checked here: a store that is down is the publisher's to wait for.
    pub fn open(url: &str) -> Result<Self, BucketError> {
        let bad = |reason: String| BucketError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a URL: {e}")))?;
        let store_error = |source| BucketError::Store {
            url: url.to_owned(),
            source,
        };
        let prefix = parsed.path().trim_matches('/');
        let (store, headers): (Arc<dyn ObjectStore>, bool) = match parsed.scheme() {
            "s3" | "gs" => {
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(bad("no bucket name".into()));
                }
                let store: Arc<dyn ObjectStore> = if parsed.scheme() == "s3" {
                    Arc::new(
                        AmazonS3Builder::from_env()
                            .with_url(url)
                            .with_config(
                                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                                REQUEST_TIMEOUT,
                            )
                            .with_config(
                                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                                CONNECT_TIMEOUT,
                            )
                            .with_retry(retry())
                            .build()
                            .map_err(store_error)?,
                    )
                } else {
                    Arc::new(
                        GoogleCloudStorageBuilder::from_env()
                            .with_url(url)
                            .with_config(
                                GoogleConfigKey::Client(ClientConfigKey::Timeout),
                                REQUEST_TIMEOUT,
                            )
                            .with_config(
                                GoogleConfigKey::Client(ClientConfigKey::ConnectTimeout),
                                CONNECT_TIMEOUT,
                            )
                            .with_retry(retry())
                            .build()
                            .map_err(store_error)?,
                    )
                };
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    store
                } else {
                    Arc::new(PrefixStore::new(store, prefix))
                };
                (store, true)
            }
            "file" => {
                if parsed.host_str().is_some_and(|h| !h.is_empty()) {
                    return Err(bad("a file URL names a local directory: file:///DIR".into()));
                }
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| bad("not a local path".into()))?;
                std::fs::create_dir_all(&dir)
                    .map_err(|e| bad(format!("creating {}: {e}", dir.display())))?;
                let local = LocalFileSystem::new_with_prefix(&dir).map_err(store_error)?;
                (Arc::new(local), false)
            }
            other => return Err(bad(format!("unsupported scheme {other:?}"))),
        };
        Ok(Self {
            url: url.to_owned(),
            store,
            headers,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, source: object_store::Error) -> BucketError {
        BucketError::Store {
            url: self.url.clone(),
            source,
        }
    }

    /// Writes one object whole (a reader sees the old or the new bytes,
    /// never a mix), with the headers its kind is served with.
    pub async fn put(
        &self,
        path: &str,
        kind: ObjectKind,
        bytes: Vec<u8>,
    ) -> Result<(), BucketError> {
        let mut attributes = Attributes::new();
        if self.headers {
            let (content_type, cache_control) = match kind {
                ObjectKind::Tile => (TILE_CONTENT_TYPE, IMMUTABLE),
                ObjectKind::Checkpoint => (CHECKPOINT_CONTENT_TYPE, CHECKPOINT_CACHE_CONTROL),
            };
            attributes.insert(Attribute::ContentType, content_type.into());
            attributes.insert(Attribute::CacheControl, cache_control.into());
        }
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.store
            .put_opts(&Path::from(path), PutPayload::from(bytes), options)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// An object's bytes, `None` if there is none at `path`.
    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, BucketError> {
        let got = match self.store.get(&Path::from(path)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        let bytes = got.bytes().await.map_err(|e| self.error(e))?;
        Ok(Some(bytes.to_vec()))
    }

    /// Deletes the object at `path`, if there is one.
    pub async fn delete(&self, path: &str) -> Result<(), BucketError> {
        match self.store.delete(&Path::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Deletes every object under the folder `prefix`; returns how many.
    pub async fn delete_under(&self, prefix: &str) -> Result<usize, BucketError> {
        use futures::{StreamExt, TryStreamExt};
        let paths: Vec<Path> = self
            .store
            .list(Some(&Path::from(prefix)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.error(e))?;
        let count = paths.len();
        futures::stream::iter(paths)
            .map(|path| async move {
                match self.store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(self.error(e)),
                }
            })
            .buffer_unordered(16)
            .try_collect::<()>()
            .await?;
        Ok(count)
    }

    /// Lists the prefix once, at start-up: a bucket that does not exist or
    /// credentials it refuses are configuration errors worth failing for;
    /// anything else (the store is down) is not.
    pub async fn probe(&self) -> Result<(), BucketError> {
        let err = match self.store.list_with_delimiter(None).await {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        // A list answers 404 only for a missing bucket, which the S3 client
        // reports as a generic error with the status and the S3 error code.
        let text = err.to_string();
        let refused = matches!(
            err,
            object_store::Error::NotFound { .. }
                | object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || [
            "404 Not Found",
            "403 Forbidden",
            "NoSuchBucket",
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
        ]
        .iter()
        .any(|code| text.contains(code));
        if refused {
            return Err(self.error(err));
        }
        tracing::warn!(url = %self.url, %err, "the object store does not answer yet; publishing will catch up when it does");
        Ok(())
    }
}

/// A checkpoint as read back from the bucket: its first three lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

impl BucketCheckpoint {
    pub fn parse(note: &[u8]) -> Result<Self, String> {
        use base64::Engine;
        let text = std::str::from_utf8(note).map_err(|_| "not UTF-8".to_owned())?;
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err("fewer than three lines".into());
        };
        let size = size
            .parse()
            .map_err(|_| format!("size line {size:?} is not a number"))?;
        let root = base64::engine::general_purpose::STANDARD
            .decode(root)
            .ok()
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or_else(|| format!("root line {root:?} is not 32 bytes of base64"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_cannot_name_a_bucket_are_refused_with_the_reason() {
        for (url, reason) in [
            ("not a url", "not a URL"),
            ("ftp://host/x", "unsupported scheme \"ftp\""),
            ("s3:///prefix", "no bucket name"),
            ("file://host/dir", "local directory"),
        ] {
            let err = Bucket::open(url).unwrap_err().to_string();
            assert!(err.contains(reason), "{url}: {err}");
            assert!(err.contains("s3://BUCKET"), "{url}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/log", dir.path().display());
        assert_eq!(Bucket::open(&url).unwrap().url(), url);
        assert!(dir.path().join("log").is_dir());
    }

    #[test]
    fn checkpoints_read_back_by_their_first_lines() {
        let root = [7u8; 32];
        use base64::Engine;
        let note = format!(
            "example.org - 42\n17\n{}\n\n— example.org AAAA\n",
            base64::engine::general_purpose::STANDARD.encode(root)
        );
        let parsed = BucketCheckpoint::parse(note.as_bytes()).unwrap();
        assert_eq!(parsed.origin, "example.org - 42");
        assert_eq!(parsed.size, 17);
        assert_eq!(parsed.root, root);
        assert!(BucketCheckpoint::parse(b"origin\nx\nAAAA\n").is_err());
        assert!(BucketCheckpoint::parse(b"origin\n1\nAAAA\n").is_err());
        assert!(BucketCheckpoint::parse(b"origin\n").is_err());
    }
}
