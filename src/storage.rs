//! Object storage (issue 20, in progress): the URLs poisonscan accepts where a path is accepted
//! (`s3://`, `gs://`, `az://`/`abfs://`, `http(s)://`), the store each one names, and the
//! listing of a prefix or a glob on it as a folder is walked on disk. Through the arrow-rs
//! project's `object_store` crate, whose requests run on a small tokio runtime of poisonscan's
//! own ([`block_on`]) beside the rayon pool that profiles.
//!
//! Credentials come from each cloud's standard environment variables (the builders'
//! `from_env`: `AWS_*`, `GOOGLE_*`, `AZURE_*`), profiles and instance metadata, and from
//! storage options (`--storage-option KEY=VALUE`, each key one of the store's configuration
//! keys: `aws_endpoint`, `aws_allow_http`, `azure_storage_account_name`, …). A key the store
//! does not know is an error naming it; no value is ever shown in a message.

use std::sync::{Arc, OnceLock};

use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use url::Url;

use crate::error::{Error, Result};

/// The URL schemes poisonscan reads and writes.
pub const SCHEMES: [&str; 8] = ["s3", "s3a", "gs", "az", "abfs", "abfss", "https", "http"];

/// Whether `text` is a URL of object storage rather than a local path.
pub fn is_url(text: &str) -> bool {
    text.split_once("://")
        .is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// The runtime the stores' requests run on: two worker threads, made on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("poisonscan-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Internal(format!("cannot start the I/O runtime: {e}")))
}

/// Run a store's future to completion from synchronous code.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    Ok(runtime()?.block_on(f))
}

/// A store and the place in it a URL names.
#[derive(Debug, Clone)]
pub struct Location {
    /// The URL as the user wrote it (reports and errors show it).
    pub url: String,
    /// The store's root: `scheme://bucket/` (or the host, for HTTP).
    root: String,
    pub store: Arc<dyn ObjectStore>,
    /// The key (or prefix) within the store.
    pub path: StorePath,
}

/// One object a listing found.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Its URL: the store's root and its key.
    pub url: String,
    pub path: StorePath,
    pub size: u64,
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

/// A storage error for `url`: what went wrong, and what to do about it.
fn storage_error(url: &str, e: &object_store::Error) -> Error {
    use object_store::Error as E;
    let (reason, hint) = match e {
        E::NotFound { .. } => (
            "it does not exist".to_string(),
            "check the bucket and the key".to_string(),
        ),
        E::PermissionDenied { .. } => (
            "access was denied".to_string(),
            "check that the credentials may read it".to_string(),
        ),
        E::Unauthenticated { .. } => (
            "the credentials were refused (missing, wrong or expired)".to_string(),
            "set the cloud's credentials in the environment, or as storage options".to_string(),
        ),
        E::UnknownConfigurationKey { key, .. } => (
            format!("`{key}` is not a configuration key of this store"),
            "see the keys of object_store's builders (aws_endpoint, aws_region, …)".to_string(),
        ),
        other => {
            // Stores report some refusals only as their service's error codes.
            let text = other.to_string();
            let has = |codes: &[&str]| codes.iter().any(|c| text.contains(c));
            if has(&["NoSuchBucket", "ContainerNotFound", "BucketNotFound"]) {
                (
                    "the bucket (or container) does not exist".to_string(),
                    "check the bucket's name and the store's endpoint and region".to_string(),
                )
            } else if has(&[
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "ExpiredToken",
            ]) {
                (
                    "the credentials were refused (missing, wrong or expired)".to_string(),
                    "set the cloud's credentials in the environment, or as storage options"
                        .to_string(),
                )
            } else if has(&["AccessDenied", "AuthorizationFailure"]) {
                (
                    "access was denied".to_string(),
                    "check that the credentials may read it".to_string(),
                )
            } else {
                (
                    text,
                    "check the URL, the network and the store's settings".to_string(),
                )
            }
        }
    };
    Error::Storage {
        url: url.to_string(),
        reason,
        hint,
    }
}

/// The store a URL names, built from the environment and `options` (`KEY=VALUE` pairs, keys
/// as the store's builder names them; an unknown key is an error).
pub fn open(url_text: &str, options: &[(String, String)]) -> Result<Location> {
    let bad = |reason: String| Error::Storage {
        url: url_text.to_string(),
        reason,
        hint:
            "write it as s3://bucket/key, gs://bucket/key, az://container/key or https://host/path"
                .to_string(),
    };
    let url = Url::parse(url_text).map_err(|e| bad(format!("it is not a URL: {e}")))?;
    let scheme = url.scheme().to_ascii_lowercase();
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("it names no bucket or host".to_string()))?
        .to_string();
    // The key: the URL's path without its leading `/`, percent-decoded as object_store does.
    let key = url.path().trim_start_matches('/');
    let path = StorePath::from_url_path(key).map_err(|e| bad(e.to_string()))?;
    let root = format!("{scheme}://{host}/");
    macro_rules! build {
        ($builder:expr, $key:ty) => {{
            let mut b = $builder;
            for (k, v) in options {
                let key: $key = k
                    .to_ascii_lowercase()
                    .parse()
                    .map_err(|e: object_store::Error| storage_error(url_text, &e))?;
                b = b.with_config(key, v.clone());
            }
            Arc::new(b.build().map_err(|e| storage_error(url_text, &e))?) as Arc<dyn ObjectStore>
        }};
    }
    let store = match scheme.as_str() {
        "s3" | "s3a" => build!(
            object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&host),
            object_store::aws::AmazonS3ConfigKey
        ),
        "gs" => build!(
            object_store::gcp::GoogleCloudStorageBuilder::from_env().with_bucket_name(&host),
            object_store::gcp::GoogleConfigKey
        ),
        "az" | "abfs" | "abfss" => build!(
            object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url_text),
            object_store::azure::AzureConfigKey
        ),
        "http" | "https" => build!(
            object_store::http::HttpBuilder::new().with_url(root.clone()),
            object_store::ClientConfigKey
        ),
        other => return Err(bad(format!("`{other}://` is not a store poisonscan reads"))),
    };
    Ok(Location {
        url: url_text.to_string(),
        root,
        store,
        path,
    })
}

impl Location {
    /// The URL of a key of this store.
    pub fn url_of(&self, path: &StorePath) -> String {
        format!("{}{}", self.root, path)
    }

    fn object(&self, m: ObjectMeta) -> Object {
        Object {
            url: self.url_of(&m.location),
            path: m.location,
            size: m.size,
            e_tag: m.e_tag,
            version: m.version,
        }
    }

    /// The data objects the URL names, sorted by key: the object itself, or every object
    /// under it as under a folder, or those a glob matches (`*` within a `/`-separated part,
    /// `**` across them). Hidden names (`.`, `_`: Spark's `_SUCCESS`, `_temporary`) are
    /// skipped unless the glob names them so; only Parquet and CSV files are kept. Nothing
    /// found is an error naming the URL.
    pub fn list(&self) -> Result<Vec<Object>> {
        let key = self.path.as_ref();
        let wild = key.find(['*', '?', '[']);
        let mut out: Vec<Object> = match wild {
            None => {
                // The object itself, else the objects under it.
                match block_on(self.store.head(&self.path))? {
                    Ok(m) if !key.is_empty() => vec![self.object(m)],
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {
                        let prefix = (!key.is_empty()).then(|| self.path.clone());
                        let listed: Vec<ObjectMeta> =
                            block_on(self.store.list(prefix.as_ref()).try_collect())?
                                .map_err(|e| storage_error(&self.url, &e))?;
                        listed
                            .into_iter()
                            .filter(|m| {
                                let rel = m.location.prefix_match(&self.path);
                                rel.is_none_or(|mut parts| {
                                    parts.all(|p| !crate::ingest::is_hidden(p.as_ref()))
                                })
                            })
                            .map(|m| self.object(m))
                            .collect()
                    }
                    Err(e) => return Err(storage_error(&self.url, &e)),
                }
            }
            Some(at) => {
                let literal = &key[..key[..at].rfind('/').map_or(0, |s| s + 1)];
                let prefix = StorePath::from(literal.trim_end_matches('/'));
                let pattern = glob::Pattern::new(key).map_err(|e| Error::BadGlob {
                    pattern: self.url.clone(),
                    reason: e.to_string(),
                })?;
                let parts: Vec<&str> = key.split('/').collect();
                let options = glob::MatchOptions {
                    case_sensitive: true,
                    require_literal_separator: true,
                    require_literal_leading_dot: false,
                };
                let listed: Vec<ObjectMeta> = block_on(
                    self.store
                        .list((!literal.is_empty()).then_some(&prefix))
                        .try_collect(),
                )?
                .map_err(|e| storage_error(&self.url, &e))?;
                listed
                    .into_iter()
                    .filter(|m| {
                        let k = m.location.as_ref();
                        // A hidden part is kept only where the pattern's part is hidden too.
                        let hidden_ok = k.split('/').enumerate().all(|(i, p)| {
                            !crate::ingest::is_hidden(p)
                                || parts.get(i).is_some_and(|q| crate::ingest::is_hidden(q))
                        });
                        hidden_ok && pattern.matches_with(k, options)
                    })
                    .map(|m| self.object(m))
                    .collect()
            }
        };
        out.retain(|o| crate::ingest::format_of(std::path::Path::new(o.path.as_ref())).is_some());
        out.sort_by(|a, b| a.path.as_ref().cmp(b.path.as_ref()));
        if out.is_empty() {
            return Err(Error::NoInputFiles {
                path: self.url.clone(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        for u in [
            "s3://b/k",
            "S3://b/k",
            "s3a://b/k",
            "gs://b/k",
            "az://c/k",
            "abfss://c@a.dfs.core.windows.net/k",
            "https://h/p",
            "http://127.0.0.1:9000/b",
        ] {
            assert!(is_url(u), "{u}");
        }
        for p in [
            "data/x.parquet",
            "/abs/x",
            "C:\\x",
            "ftp://h/x",
            "s3:/b",
            "file:///x",
        ] {
            assert!(!is_url(p), "{p}");
        }
    }

    #[test]
    fn bad_urls_and_unknown_keys_are_errors_naming_them() {
        let e = open("s3:///key", &[]).unwrap_err().to_string();
        assert!(
            e.contains("`s3:///key`") && e.contains("names no bucket"),
            "{e}"
        );
        let e = open(
            "s3://bucket/key",
            &[("aws_no_such_key".into(), "secret-value".into())],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("aws_no_such_key") && e.contains("`s3://bucket/key`"),
            "{e}"
        );
        assert!(!e.contains("secret-value"), "a value is never shown: {e}");
    }
}
