//! Where the lake's bytes live: a local folder, or a bucket on S3-compatible
//! object storage (`s3://bucket/prefix`).
//!
//! The lake's code is synchronous (it runs on the pipeline's blocking
//! threads); object-store calls are async. Every remote call is spawned on
//! one small runtime of the lake's own and waited for on the calling thread,
//! which works the same from a CLI command, a blocking task, or a test.
//!
//! The object-store credentials and endpoint come from the usual AWS
//! environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL` for MinIO, Ceph or moto). An `http://`
//! endpoint is allowed without `AWS_ALLOW_HTTP`, as a user of MinIO expects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use futures::TryStreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::error::{Error, Result};

/// The URL scheme of an object-store lake.
pub(crate) const S3_SCHEME: &str = "s3://";

/// Files larger than this are uploaded in parts of this size.
const PART_BYTES: usize = 16 << 20;

/// True when `root` names an object-store lake (`s3://...`) rather than a folder.
pub fn is_object_url(root: &Path) -> bool {
    root.to_str().is_some_and(|s| s.starts_with(S3_SCHEME))
}

/// A lake in a bucket: the store, and the prefix the lake lives under.
#[derive(Clone)]
pub struct ObjectLake {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket`: the URL DataFusion registers the store under.
    base: String,
    /// The lake's folder inside the bucket (may be empty).
    prefix: String,
}

impl std::fmt::Debug for ObjectLake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectLake({})", self.url())
    }
}

impl PartialEq for ObjectLake {
    fn eq(&self, other: &Self) -> bool {
        self.base == other.base && self.prefix == other.prefix
    }
}

impl Eq for ObjectLake {}

impl ObjectLake {
    /// Opens the lake at `url` (`s3://bucket[/prefix]`). Stores are cached per
    /// bucket, so that a server re-reading the log keeps its connections.
    pub fn open(url: &str) -> Result<ObjectLake> {
        let (base, bucket, prefix) = split_url(url)?;
        let mut stores = stores(url)?;
        let store = match stores.get(&base) {
            Some(s) => Arc::clone(s),
            None => {
                let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
                let endpoint = std::env::var("AWS_ENDPOINT_URL")
                    .or_else(|_| std::env::var("AWS_ENDPOINT"))
                    .unwrap_or_default();
                if endpoint.starts_with("http://") {
                    b = b.with_allow_http(true);
                }
                let hint = "; set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and, \
                            for MinIO or Ceph, AWS_ENDPOINT_URL";
                let s = build(b, "open", url, hint)?;
                stores.insert(base.clone(), Arc::clone(&s));
                s
            }
        };
        Ok(ObjectLake { store, base, prefix })
    }

    /// Sets up the store of the bucket `url` names from explicit options
    /// (`aws_endpoint_url`, `aws_access_key_id`, `aws_region`, ...: the
    /// lower-case names of the AWS environment variables) instead of the
    /// environment; lakes opened in that bucket afterwards use it. For
    /// embedding and tests, where the environment is not the place.
    pub fn configure(url: &str, options: &[(&str, &str)]) -> Result<()> {
        let (base, bucket, _) = split_url(url)?;
        let mut b = AmazonS3Builder::new().with_bucket_name(bucket);
        for (key, value) in options {
            let key = key.parse().map_err(|e| store_error("configure", url, format!("{e}")))?;
            b = b.with_config(key, *value);
            if value.starts_with("http://") {
                b = b.with_allow_http(true);
            }
        }
        let store = build(b, "configure", url, "")?;
        stores(url)?.insert(base, store);
        Ok(())
    }

    /// The store, to register with a query engine.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// `s3://bucket`: the URL the store serves.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, self.prefix)
        }
    }

    /// The object path of `rel` (a path relative to the lake root).
    pub fn object_path(&self, rel: &str) -> String {
        if self.prefix.is_empty() { rel.to_owned() } else { format!("{}/{rel}", self.prefix) }
    }

    fn path(&self, rel: &str) -> ObjectPath {
        ObjectPath::from(self.object_path(rel))
    }

    fn err(&self, op: &'static str, rel: &str, e: impl std::fmt::Display) -> Error {
        Error::Store { op, path: format!("{}/{rel}", self.url()), message: e.to_string() }
    }

    /// Reads an object; `None` when there is none.
    pub(crate) fn read(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let (store, path) = (self.store(), self.path(rel));
        let got = block_on(async move {
            match store.get(&path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.map(|b| b.map(|b| b.to_vec())).map_err(|e| self.err("read", rel, e))
    }

    /// Writes an object, replacing any.
    pub(crate) fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let (store, path) = (self.store(), self.path(rel));
        block_on(async move { store.put(&path, PutPayload::from(bytes)).await })
            .map(drop)
            .map_err(|e| self.err("write", rel, e))
    }

    /// Creates an object only if none exists (the store's conditional
    /// create); false when one did.
    pub(crate) fn create(&self, rel: &str, bytes: Vec<u8>) -> Result<bool> {
        let (store, path) = (self.store(), self.path(rel));
        let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
        match block_on(async move { store.put_opts(&path, PutPayload::from(bytes), opts).await }) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.err("create", rel, e)),
        }
    }

    /// Uploads the local file `local` to `rel`, in parts when it is large.
    pub(crate) fn upload(&self, local: &Path, rel: &str) -> Result<()> {
        let bytes = std::fs::read(local).map_err(|source| Error::Io {
            op: "read",
            path: local.to_path_buf(),
            source,
        })?;
        if bytes.len() <= PART_BYTES {
            return self.put(rel, bytes);
        }
        let (store, path) = (self.store(), self.path(rel));
        block_on(async move {
            let mut up = store.put_multipart(&path).await?;
            for part in bytes.chunks(PART_BYTES) {
                if let Err(e) = up.put_part(PutPayload::from(part.to_vec())).await {
                    let _ = up.abort().await;
                    return Err(e);
                }
            }
            up.complete().await.map(drop)
        })
        .map_err(|e| self.err("upload", rel, e))
    }

    /// Copies `from` to `to` inside the store (idempotent); false when
    /// `from` is gone.
    pub(crate) fn copy(&self, from: &str, to: &str) -> Result<bool> {
        let (store, a, b) = (self.store(), self.path(from), self.path(to));
        match block_on(async move { store.copy(&a, &b).await }) {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("copy", from, e)),
        }
    }

    /// Deletes an object; a missing one is fine.
    pub(crate) fn delete(&self, rel: &str) -> Result<()> {
        let (store, path) = (self.store(), self.path(rel));
        match block_on(async move { store.delete(&path).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("delete", rel, e)),
        }
    }

    /// True when `rel` exists.
    pub(crate) fn exists(&self, rel: &str) -> Result<bool> {
        let (store, path) = (self.store(), self.path(rel));
        match block_on(async move { store.head(&path).await }) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("stat", rel, e)),
        }
    }

    /// Every object under the folder `dir` (recursively), as paths relative
    /// to `dir`, with their modification times.
    pub(crate) fn list(&self, dir: &str) -> Result<Vec<(String, SystemTime)>> {
        let (store, path) = (self.store(), self.path(dir));
        let listed = block_on(async move { store.list(Some(&path)).try_collect::<Vec<_>>().await })
            .map_err(|e| self.err("list", dir, e))?;
        let base = format!("{}/", self.object_path(dir));
        Ok(listed
            .into_iter()
            .filter_map(|m| {
                let name = m.location.as_ref().strip_prefix(base.as_str())?.to_owned();
                Some((name, SystemTime::from(m.last_modified)))
            })
            .collect())
    }
}

/// `s3://bucket/prefix` as (`s3://bucket`, `bucket`, `prefix`).
fn split_url(url: &str) -> Result<(String, &str, String)> {
    let rest = url.strip_prefix(S3_SCHEME).unwrap_or(url).trim_end_matches('/');
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(store_error("open", url, "the URL names no bucket; write s3://BUCKET/PREFIX"));
    }
    Ok((format!("{S3_SCHEME}{bucket}"), bucket, prefix.trim_matches('/').to_owned()))
}

/// The stores opened so far, by bucket URL: one client (and its connection
/// pool) per bucket for the life of the process.
fn stores(
    url: &str,
) -> Result<std::sync::MutexGuard<'static, HashMap<String, Arc<dyn ObjectStore>>>> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    STORES
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| store_error("open", url, "the store cache was poisoned by a panic"))
}

/// The store an S3 builder describes; `hint` follows the builder's error.
fn build(
    b: AmazonS3Builder,
    op: &'static str,
    url: &str,
    hint: &str,
) -> Result<Arc<dyn ObjectStore>> {
    match b.build() {
        Ok(s) => Ok(Arc::new(s)),
        Err(e) => Err(store_error(op, url, format!("{e}{hint}"))),
    }
}

fn store_error(op: &'static str, url: &str, message: impl Into<String>) -> Error {
    Error::Store { op, path: url.to_owned(), message: message.into() }
}

/// Runs `fut` on the lake's I/O runtime and waits for it on this thread.
fn block_on<T: Send + 'static>(
    fut: impl Future<Output = std::result::Result<T, object_store::Error>> + Send + 'static,
) -> std::result::Result<T, object_store::Error> {
    static IO: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    let rt = IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fivefold-lake-io")
            .enable_all()
            .build()
    });
    let rt = rt.as_ref().map_err(|e| object_store::Error::Generic {
        store: "S3",
        source: format!("cannot start the lake's I/O runtime: {e}").into(),
    })?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().unwrap_or_else(|_| {
        Err(object_store::Error::Generic {
            store: "S3",
            source: "the lake's I/O runtime stopped".into(),
        })
    })
}

/// The local folder an object-store lake's writers stage files in before
/// uploading them: under the system's temporary folder, one per lake URL.
pub(crate) fn scratch_dir(url: &str) -> PathBuf {
    let name: String =
        url.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    std::env::temp_dir().join("fivefold-lake").join(name)
}
