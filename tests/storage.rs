//! Object storage against a real S3-compatible server on 127.0.0.1 (moto's server mode, from
//! PyPI: `pip install 'moto[server]'`). The server is found as `$POISONSCAN_MOTO_SERVER` or
//! `moto_server` on the PATH; `.ci/run` installs it. Without one the tests say so and pass,
//! unless `POISONSCAN_REQUIRE_STORAGE=1` (CI sets it), when they fail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use poisonscan::storage;

/// A moto server on a free port of 127.0.0.1, stopped when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    fn start() -> Option<Moto> {
        let program = std::env::var_os("POISONSCAN_MOTO_SERVER").unwrap_or("moto_server".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            let why = format!("no S3 server: cannot run {program:?} (pip install 'moto[server]')");
            assert!(
                std::env::var_os("POISONSCAN_REQUIRE_STORAGE").is_none(),
                "{why}, and POISONSCAN_REQUIRE_STORAGE is set"
            );
            eprintln!("SKIPPED: {why}");
            return None;
        };
        let moto = Moto { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto did not start in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// Make a bucket (moto takes unsigned requests).
    fn bucket(&self, name: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    }

    fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", format!("http://127.0.0.1:{}", self.port)),
            ("aws_allow_http", "true".into()),
            ("aws_access_key_id", "test".into()),
            ("aws_secret_access_key", "test-secret".into()),
            ("aws_region", "us-east-1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn put(url: &str, options: &[(String, String)], bytes: &[u8]) {
    let l = storage::open(url, options).unwrap();
    storage::block_on(l.store.put(&l.path, bytes.to_vec().into()))
        .unwrap()
        .unwrap();
}

fn keys(url: &str, options: &[(String, String)]) -> Vec<String> {
    storage::open(url, options)
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .map(|o| o.url)
        .collect()
}

#[test]
fn prefixes_and_globs_are_listed_like_folders() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("lake");
    let o = moto.options();
    for (key, body) in [
        ("train/day=1/part-0.parquet", &b"PAR1 one"[..]),
        ("train/day=2/part-1.parquet", b"PAR1 two two"),
        ("train/day=2/notes.json", b"{}"),
        ("train/_SUCCESS", b""),
        ("train/_temporary/part-9.parquet", b"PAR1"),
        ("train/extra.csv", b"x\n1\n"),
        ("other/part-0.parquet", b"PAR1"),
    ] {
        put(&format!("s3://lake/{key}"), &o, body);
    }
    // A prefix: every data file under it, hidden names and other formats skipped.
    assert_eq!(
        keys("s3://lake/train", &o),
        [
            "s3://lake/train/day=1/part-0.parquet",
            "s3://lake/train/day=2/part-1.parquet",
            "s3://lake/train/extra.csv"
        ]
    );
    assert_eq!(keys("s3://lake/train/", &o), keys("s3://lake/train", &o));
    // Globs: `*` within a part, `**` across parts, hidden parts only when named.
    assert_eq!(
        keys("s3://lake/train/day=*/*.parquet", &o),
        [
            "s3://lake/train/day=1/part-0.parquet",
            "s3://lake/train/day=2/part-1.parquet"
        ]
    );
    assert_eq!(
        keys("s3://lake/**/part-0.parquet", &o),
        [
            "s3://lake/other/part-0.parquet",
            "s3://lake/train/day=1/part-0.parquet"
        ]
    );
    assert_eq!(
        keys("s3://lake/train/_*/*.parquet", &o),
        ["s3://lake/train/_temporary/part-9.parquet"]
    );
    // One object: itself, with its size and ETag.
    let one = storage::open("s3://lake/train/day=2/part-1.parquet", &o)
        .unwrap()
        .list()
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].size, 12);
    assert!(one[0].e_tag.as_deref().is_some_and(|t| !t.is_empty()));
}

#[test]
fn a_missing_key_or_bucket_is_an_error_naming_the_url() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("lake");
    let o = moto.options();
    let e = storage::open("s3://lake/nothing/", &o)
        .unwrap()
        .list()
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("no Parquet or CSV files found under `s3://lake/nothing/`"),
        "{e}"
    );
    let e = storage::open("s3://no-such-bucket/x.parquet", &o)
        .unwrap()
        .list()
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "`s3://no-such-bucket/x.parquet`: the bucket (or container) does not exist\nhint: check the bucket's name and the store's endpoint and region"
    );
    assert!(!e.contains("test-secret"), "no secret in a message: {e}");
}
