//! Object storage: the URLs poisonscan accepts where a path is accepted
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

/// Whether a file or folder name is hidden from a walk or a listing: Spark and Hadoop write
/// `_SUCCESS`, `_metadata`, `_temporary/` and `.crc` files beside the data.
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
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
    /// An `http(s)://` server, where a folder (a WebDAV collection) answers HEAD as a file
    /// does.
    web: bool,
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

/// `url` as messages and reports show it: without a password, and without a query (a
/// presigned URL's or a SAS token's signature).
pub fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() || u.query().is_some() => {
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `text` with the values of signature and credential parameters (a SAS token's `sig`, a
/// presigned URL's `X-Amz-Signature`) replaced by `…`.
fn scrub(text: &str) -> String {
    let mut out = text.to_string();
    for key in [
        "sig=",
        "X-Amz-Signature=",
        "X-Amz-Credential=",
        "X-Amz-Security-Token=",
        "X-Goog-Signature=",
        "X-Goog-Credential=",
        "token=",
    ] {
        let mut from = 0;
        while let Some(at) = out[from..].find(key) {
            let start = from + at + key.len();
            let end = out[start..]
                .find(|c: char| c == '&' || c.is_whitespace() || c == '"')
                .map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "…");
            from = start + '…'.len_utf8();
        }
    }
    // A user and password in a URL (`https://user:pass@host/`): the user is kept.
    let mut from = 0;
    while let Some(at) = out[from..].find("://") {
        let start = from + at + 3;
        let authority_end = out[start..]
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"')
            .map_or(out.len(), |e| start + e);
        if let Some(at_sign) = out[start..authority_end].rfind('@')
            && let Some(colon) = out[start..start + at_sign].find(':')
        {
            out.replace_range(start + colon + 1..start + at_sign, "…");
        }
        from = start;
    }
    out
}

/// A storage error for `url`: what went wrong, and what to do about it.
pub(crate) fn storage_error(url: &str, e: &object_store::Error) -> Error {
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
        E::Precondition { .. } => (
            "it changed while poisonscan read it (its ETag or version no longer matches the listing's)"
                .to_string(),
            "scan data that is no longer being written, or run the scan again".to_string(),
        ),
        E::UnknownConfigurationKey { key, .. } => (
            format!("`{key}` is not a configuration key of this store"),
            "see the keys of object_store's builders (aws_endpoint, aws_region, …)".to_string(),
        ),
        other => {
            // Stores report some refusals only as their service's error codes, and a failed
            // connection only in the errors under theirs ("error sending request": why is
            // below), so the whole chain is read, and shown.
            let mut text = other.to_string();
            let mut under = std::error::Error::source(other);
            while let Some(cause) = under {
                let said = cause.to_string();
                if !text.contains(&said) {
                    text.push_str(": ");
                    text.push_str(&said);
                }
                under = cause.source();
            }
            let text = scrub(&text);
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
            } else if has(&[
                "SlowDown",
                "503 Service Unavailable",
                "429 Too Many Requests",
                "ServerBusy",
                "TooManyRequests",
            ]) {
                (
                    "the store kept refusing the requests as too many (throttled), through every retry"
                        .to_string(),
                    "run again later, or allow more with the storage options max_retries and retry_timeout"
                        .to_string(),
                )
            } else if has(&["AccessDenied", "AuthorizationFailure"]) {
                (
                    "access was denied".to_string(),
                    "check that the credentials may read it".to_string(),
                )
            } else if has(&[
                // rustls's words, in the causes under the HTTP client's error.
                "invalid peer certificate",
                "UnknownIssuer",
                "certificate verify failed",
            ]) {
                (
                    format!("its server's TLS certificate is not trusted ({text})"),
                    "trust the certificate's authority on this machine (for a test server only: \
                     the storage option allow_invalid_certificates=true)"
                        .to_string(),
                )
            } else if has(&["Connection refused", "ConnectionRefused"]) {
                (
                    "nothing answers at its server's address (connection refused)".to_string(),
                    "check the host, the port and the store's endpoint".to_string(),
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
        url: redacted(url),
        reason,
        hint,
    }
}

/// The store a URL names, built from the environment and `options` (`KEY=VALUE` pairs, keys
/// as the store's builder names them; an unknown key is an error).
pub fn open(url_text: &str, options: &[(String, String)]) -> Result<Location> {
    let shown = redacted(url_text);
    let bad = |reason: String| Error::Storage {
        url: shown.clone(),
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
    // Everything before the path: scheme, user (an Azure container), host and port.
    let root = format!("{}/", &url[..url::Position::BeforePath]);
    let shown_root = match Url::parse(&shown) {
        Ok(u) => format!("{}/", &u[..url::Position::BeforePath]),
        Err(_) => root.clone(),
    };
    // poisonscan's own keys: how often and how long a failed request is retried (throttling,
    // server errors, dropped connections) before it is an error.
    let mut retry = object_store::RetryConfig::default();
    let mut rest = Vec::new();
    for (k, v) in options {
        match k.to_ascii_lowercase().as_str() {
            "max_retries" => {
                retry.max_retries = v.trim().parse().map_err(|_| {
                    bad(format!(
                        "storage option `{k}` takes a whole number of retries"
                    ))
                })?;
            }
            "retry_timeout" => {
                let secs: f64 =
                    v.trim().trim_end_matches('s').parse().map_err(|_| {
                        bad(format!("storage option `{k}` takes seconds, as `30s`"))
                    })?;
                retry.retry_timeout = std::time::Duration::try_from_secs_f64(secs)
                    .map_err(|_| bad(format!("storage option `{k}` takes seconds, as `30s`")))?;
            }
            _ => rest.push((k, v)),
        }
    }
    macro_rules! build {
        ($builder:expr, $key:ty) => {{
            let mut b = $builder.with_retry(retry.clone());
            for (k, v) in &rest {
                let key: $key = k
                    .to_ascii_lowercase()
                    .parse()
                    .map_err(|e: object_store::Error| storage_error(&shown, &e))?;
                b = b.with_config(key, (*v).clone());
            }
            Arc::new(b.build().map_err(|e| storage_error(&shown, &e))?) as Arc<dyn ObjectStore>
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
        url: shown,
        root: shown_root,
        store,
        path,
        web: matches!(scheme.as_str(), "http" | "https"),
    })
}

impl Location {
    /// Whether what answered HEAD on an `http(s)://` server is a folder: a WebDAV server
    /// answers HEAD on a collection with an empty page, so an empty answer, or a path with
    /// something under it (PROPFIND, one level), is a folder. A name with a data file's
    /// extension is a file without asking (a plain server may answer PROPFIND with an error
    /// that is retried); a server without WebDAV refuses PROPFIND: what it answered HEAD for
    /// is a file.
    fn is_web_folder(&self, head: &ObjectMeta) -> bool {
        if !self.web {
            return false;
        }
        if head.size == 0 {
            return true;
        }
        let name = self.path.as_ref().to_ascii_lowercase();
        if [".parquet", ".csv", ".csv.gz", ".gz"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            return false;
        }
        match block_on(self.store.list_with_delimiter(Some(&self.path))) {
            Ok(Ok(under)) => !under.objects.is_empty() || !under.common_prefixes.is_empty(),
            _ => false,
        }
    }

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
    /// skipped unless the glob names them so; only the keys `is_data` accepts (by their
    /// names: Parquet and CSV files) are kept. Nothing found is an error naming the URL.
    pub fn list(&self, is_data: &dyn Fn(&str) -> bool) -> Result<Vec<Object>> {
        let key = self.path.as_ref();
        let wild = key.find(['*', '?', '[']);
        let mut out: Vec<Object> = match wild {
            None => {
                // The object itself, else the objects under it. A refused HEAD (a policy on
                // the keys under a prefix, expired credentials) has no body to say why: the
                // listing is used when it works, and its refusal, which says why, is the error
                // when it does not.
                let head = block_on(self.store.head(&self.path))?;
                let refused = match head {
                    // An object named outright is read whatever its name (its format is then
                    // told from its first bytes), as a file named outright is.
                    Ok(m) if !key.is_empty() && !self.is_web_folder(&m) => {
                        return Ok(vec![self.object(m)]);
                    }
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => None,
                    Err(e) => Some(e),
                };
                let prefix = (!key.is_empty()).then(|| self.path.clone());
                let listed: Vec<ObjectMeta> =
                    match block_on(self.store.list(prefix.as_ref()).try_collect())? {
                        Ok(found) => found,
                        Err(e) => return Err(storage_error(&self.url, &e)),
                    };
                if let (Some(e), true) = (refused, listed.is_empty()) {
                    return Err(storage_error(&self.url, &e));
                }
                listed
                    .into_iter()
                    .filter(|m| {
                        let rel = m.location.prefix_match(&self.path);
                        rel.is_none_or(|mut parts| parts.all(|p| !is_hidden(p.as_ref())))
                    })
                    .map(|m| self.object(m))
                    .collect()
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
                            !is_hidden(p) || parts.get(i).is_some_and(|q| is_hidden(q))
                        });
                        hidden_ok && pattern.matches_with(k, options)
                    })
                    .map(|m| self.object(m))
                    .collect()
            }
        };
        out.retain(|o| is_data(o.path.as_ref()));
        // Part by part, as paths on disk sort (`p/x` before `p-1/y`): the same files in the
        // same order from a folder and from its copy on a store.
        out.sort_by(|a, b| a.path.as_ref().split('/').cmp(b.path.as_ref().split('/')));
        if out.is_empty() {
            return Err(Error::NoInputFiles {
                path: self.url.clone(),
            });
        }
        Ok(out)
    }
}

/// The storage options for outputs to URLs (reports, profiles, the rows file), set by the run
/// from its settings ([`set_default_options`]): the same as its inputs'.
static OPTIONS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Use `options` for the URLs a run writes to (the command line and [`crate::Engine`] set them
/// from the settings' `storage` options).
pub fn set_default_options(options: &[(String, String)]) {
    *OPTIONS.lock().unwrap_or_else(|e| e.into_inner()) = options.to_vec();
}

pub(crate) fn default_options() -> Vec<(String, String)> {
    OPTIONS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Objects larger than this are uploaded in parts.
const PART_BYTES: usize = 8 << 20;

/// Upload the complete local file `from` to `url` (with the run's storage options): one PUT,
/// or a multipart upload completed only after its last part, so the object appears whole or
/// not at all; a failed multipart upload is aborted.
pub fn upload(url: &str, from: &std::path::Path) -> Result<()> {
    use std::io::Read;
    let location = open(url, &default_options())?;
    if location.path.as_ref().is_empty() || url.ends_with('/') {
        return Err(Error::Storage {
            url: url.to_string(),
            reason: "it names no object to write".to_string(),
            hint: "give the object's full key, as s3://bucket/folder/report.json".to_string(),
        });
    }
    let err = |e: object_store::Error| storage_error(url, &e);
    let mut file = std::fs::File::open(from).map_err(|e| Error::write(from, e))?;
    let len = file.metadata().map_err(|e| Error::write(from, e))?.len();
    let store = location.store.clone();
    let path = location.path.clone();
    if len as usize <= PART_BYTES {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::write(from, e))?;
        block_on(store.put(&path, bytes.into()))?.map_err(err)?;
        return Ok(());
    }
    block_on(async {
        let upload = store.put_multipart(&path).await.map_err(err)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match file.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Error::write(from, e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.wait_for_capacity(4).await {
                let _ = writer.abort().await;
                return Err(err(e));
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(err)?;
        Ok(())
    })?
}

/// The bytes of the object `url` names (a saved profile), read whole.
pub fn download(url: &str, options: &[(String, String)]) -> Result<Vec<u8>> {
    let location = open(url, options)?;
    let got = block_on(async {
        let r = location.store.get(&location.path).await?;
        r.bytes().await
    })?;
    got.map(|b| b.to_vec()).map_err(|e| storage_error(url, &e))
}

/// Every byte of the object `url` names, in order, handed to `each` as it arrives.
pub fn stream(
    url: &str,
    options: &[(String, String)],
    each: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<()> {
    use futures::StreamExt;
    let location = open(url, options)?;
    let done: object_store::Result<()> = block_on(async {
        let mut body = location.store.get(&location.path).await?.into_stream();
        while let Some(chunk) = body.next().await {
            each(&chunk?);
        }
        Ok(())
    })?;
    done.map_err(|e| storage_error(url, &e))
}

/// The first `n` bytes of the object `url` names, `None` when it names no object (a prefix).
pub fn head_bytes(url: &str, options: &[(String, String)], n: u64) -> Result<Option<Vec<u8>>> {
    let location = open(url, options)?;
    if location.path.as_ref().is_empty() {
        return Ok(None);
    }
    let meta = match block_on(location.store.head(&location.path))? {
        Ok(m) => m,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(storage_error(url, &e)),
    };
    // A folder on a web server is not an object; an empty object has no bytes to ask for.
    if location.is_web_folder(&meta) {
        return Ok(None);
    }
    if meta.size == 0 {
        return Ok(Some(Vec::new()));
    }
    let end = n.min(meta.size);
    match block_on(location.store.get_range(&location.path, 0..end))? {
        Ok(b) => Ok(Some(b.to_vec())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(storage_error(url, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_signatures_are_scrubbed_from_messages() {
        assert_eq!(
            scrub("GET https://ann:s3cret@host:8443/a/b?X-Goog-Signature=abc&x=1 failed"),
            "GET https://ann:…@host:8443/a/b?X-Goog-Signature=…&x=1 failed"
        );
        assert_eq!(scrub("s3://bucket/a@b/c"), "s3://bucket/a@b/c");
        assert_eq!(
            scrub("http://host/p and https://u@h/"),
            "http://host/p and https://u@h/"
        );
    }

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
    fn the_root_keeps_the_port_and_the_container_and_no_secret() {
        let l = open("http://127.0.0.1:9000/b/x.parquet", &[]).unwrap();
        assert_eq!(l.url_of(&l.path), "http://127.0.0.1:9000/b/x.parquet");
        let l = open(
            "abfss://box@acct.dfs.core.windows.net/k/x.parquet",
            &[("azure_storage_account_key".into(), "a2V5".into())],
        )
        .unwrap();
        assert_eq!(
            l.url_of(&l.path),
            "abfss://box@acct.dfs.core.windows.net/k/x.parquet"
        );
        let l = open("https://me:hunter2@h.example/d/x.csv?sig=abc&se=1", &[]).unwrap();
        assert_eq!(l.url, "https://me@h.example/d/x.csv");
        assert_eq!(l.url_of(&l.path), "https://me@h.example/d/x.csv");
        let e = open(
            "https://me:hunter2@h.example/d/x.csv?sig=abc",
            &[("no_such_key".into(), "v".into())],
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains("hunter2") && !e.contains("abc"), "{e}");
        assert_eq!(
            scrub("GET https://a/b?sv=1&sig=SECRET&se=2 failed"),
            "GET https://a/b?sv=1&sig=…&se=2 failed"
        );
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
