"""Object storage against local disk, same run (reports/object-storage.md).

For each size, the synthetic set of the end-to-end bench's shape (30 columns: 20 float64,
6 int64, 3 low-cardinality strings, an int label; 1M-row row groups; made here with pyarrow
into bench-data/, not committed) is uploaded to moto's S3 server on 127.0.0.1, then each
command runs alternately on the local file and on the object, in its own child process:

- profile, every column (the whole object is fetched and hashed);
- profile of 3 columns of 30 (`--columns f00,i0,label`: only their column chunks are fetched);
- scan against a saved baseline profile of a second set (another seed), every check.

Reported per command and side: wall time (median), peak memory of the poisonscan process
(its own, from wait4), bytes fetched against the file's size, requests made (the line
poisonscan prints on stderr), and the ratio of the object's time to the file's.

The S3 server is moto, a Python process on the same 2 cores: the object timings include its
CPU (it serves about as fast as Python can copy), so they bound what a real store costs from
above in CPU and from below in latency (no network round trips).

Usage (from the repository's root, with a release build and a venv holding pyarrow, boto3 and
moto[server]):

    cargo build --release
    /tmp/psvenv/bin/python benches/storage.py 1000000 10000000

POISONSCAN_BIN names the binary (default target/release/poisonscan); POISONSCAN_MOTO_SERVER
the server (default moto_server on the PATH); POISONSCAN_BENCH_RUNS the repetitions (3);
POISONSCAN_BENCH_SERVER_ONLY=1 measures the server's own rows only.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
BIN = Path(os.environ.get("POISONSCAN_BIN", ROOT / "target/release/poisonscan"))
RUNS = int(os.environ.get("POISONSCAN_BENCH_RUNS", "3"))
GROUP = 1_000_000


def generate(path: Path, rows: int, seed: int) -> None:
    """The e2e bench's shape: 20 float64, 6 int64, 3 strings, a label; 1M-row row groups."""
    if path.exists():
        return
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, GROUP):
        n = min(GROUP, rows - start)
        cols: dict[str, Any] = {}
        for i in range(20):
            cols[f"f{i:02}"] = rng.normal(i, 1 + i / 10, n)
        for i in range(6):
            cols[f"i{i}"] = rng.integers(0, 10 ** (i + 1), n)
        for i in range(3):
            values = np.array([f"v{i}_{k}" for k in range(5 + 20 * i)])
            cols[f"s{i}"] = values[rng.integers(0, len(values), n)]
        cols["label"] = (cols["f00"] + rng.normal(0, 1, n) > 0).astype(np.int64)
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=GROUP)
    assert writer is not None
    writer.close()
    tmp.rename(path)


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    program = os.environ.get("POISONSCAN_MOTO_SERVER") or shutil.which("moto_server")
    if program is None:
        sys.exit("no moto_server: pip install 'moto[server]' or set POISONSCAN_MOTO_SERVER")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [program, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                sys.exit("moto did not start in 30 s")
            time.sleep(0.1)


def run(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """One child: wall seconds, its own peak RSS (MiB), MiB fetched and requests."""
    start = time.monotonic()
    child = subprocess.Popen(
        [str(BIN), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stderr is not None
    err = child.stderr.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        sys.exit(f"poisonscan {' '.join(args)} failed:\n{err}")
    m = re.search(r"fetched ([0-9.]+) MiB in ([0-9]+) requests", err)
    return {
        "wall": wall,
        "peak": usage.ru_maxrss / 1024,
        "fetched": float(m.group(1)) if m else 0.0,
        "requests": float(m.group(2)) if m else 0.0,
    }


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000]
    DATA.mkdir(exist_ok=True)
    import boto3

    server, endpoint = start_moto()
    env = {
        **os.environ,
        "AWS_ENDPOINT": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_REGION": "us-east-1",
    }
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="bench")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    lines = [
        f"\n## {time.strftime('%Y-%m-%d')}, commit {commit}, {RUNS} runs each, alternating\n",
        "`python benches/storage.py " + " ".join(map(str, sizes)) + "`\n",
        "| rows | command | side | wall s (median) | object / file | peak MiB | "
        "fetched MiB | file MiB | fetched / file | requests |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    try:
        for rows in sizes:
            data = DATA / f"storage_{rows}.parquet"
            base_data = DATA / f"storage_base_{rows}.parquet"
            generate(data, rows, 1)
            generate(base_data, rows, 2)
            base = DATA / f"storage_base_{rows}.psprof"
            if not base.exists():
                r = subprocess.run(
                    [
                        str(BIN),
                        "profile",
                        str(base_data),
                        "--label",
                        "label",
                        "--no-config",
                        "-q",
                        "-o",
                        str(base),
                    ],
                    capture_output=True,
                    text=True,
                )
                if r.returncode != 0:
                    sys.exit(r.stderr)
            key = f"data/{data.name}"
            client.upload_file(str(data), "bench", key)
            url = f"s3://bench/{key}"
            size = data.stat().st_size / 2**20
            commands = {
                "profile, all columns": [
                    "profile",
                    "{}",
                    "--label",
                    "label",
                    "--no-config",
                    "-o",
                    str(DATA / "out.psprof"),
                ],
                "profile, 3 of 30 columns": [
                    "profile",
                    "{}",
                    "--label",
                    "label",
                    "--columns",
                    "f00,i0,label",
                    "--no-config",
                    "-o",
                    str(DATA / "out.psprof"),
                ],
                "scan vs saved profile": [
                    "scan",
                    "{}",
                    "--baseline",
                    str(base),
                    "--label",
                    "label",
                    "--format",
                    "json",
                    "--fail-on",
                    "never",
                    "--no-config",
                ],
            }

            # The server's own cost, same run: one 1-byte range, and the whole object.
            def get(byte_range: str | None, key: str = key) -> float:
                start = time.monotonic()
                kwargs = {"Range": byte_range} if byte_range else {}
                body = client.get_object(Bucket="bench", Key=key, **kwargs)["Body"]
                while body.read(8 << 20):
                    pass
                return time.monotonic() - start

            one = statistics.median(get("bytes=0-0") for _ in range(RUNS))
            whole = statistics.median(get(None) for _ in range(RUNS))
            for what, secs in (("moto: GET of 1 byte", one), ("moto: GET of the object", whole)):
                lines.append(
                    f"| {rows:,} | {what} | server | {secs:.2f} | - | - | - | {size:.1f} | - | 1 |"
                )
                print(lines[-1], flush=True)
            if os.environ.get("POISONSCAN_BENCH_SERVER_ONLY"):
                commands = {}
            for name, template in commands.items():
                results: dict[str, list[dict[str, float]]] = {"file": [], "object": []}
                for _ in range(RUNS):
                    for side, where in (("file", str(data)), ("object", url)):
                        args = [a.replace("{}", where) for a in template]
                        results[side].append(run(args, env))
                med = {
                    side: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
                    for side, rs in results.items()
                }
                for side in ("file", "object"):
                    m = med[side]
                    ratio = m["wall"] / med["file"]["wall"]
                    fetched = f"{m['fetched']:.1f}" if side == "object" else "-"
                    share = f"{m['fetched'] / size:.2f}" if side == "object" else "-"
                    requests = f"{m['requests']:.0f}" if side == "object" else "-"
                    lines.append(
                        f"| {rows:,} | {name} | {side} | {m['wall']:.2f} | {ratio:.2f} | "
                        f"{m['peak']:.0f} | {fetched} | {size:.1f} | {share} | {requests} |"
                    )
                    print(lines[-1], flush=True)
            client.delete_object(Bucket="bench", Key=key)
    finally:
        server.kill()
        server.wait()
    report = ROOT / "reports/object-storage.md"
    if not report.exists():
        report.write_text(
            "# Object storage against local disk\n\n" + (__doc__ or "").split("Usage")[0]
        )
    with report.open("a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
