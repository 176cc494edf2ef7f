"""Object storage from Python: the same report from `s3://` URLs as from the files, against
moto's S3 server on 127.0.0.1 (`moto[server]`, which `.ci/run` installs). Without it the tests
are skipped with a message, unless POISONSCAN_REQUIRE_STORAGE=1 (CI sets it)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DEMO_BASELINE, DEMO_CURRENT, without_run

import poisonscan
from poisonscan import ScanError

DEMO = {"label": "label", "id": "customer_id"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A moto server with the demo uploaded to `s3://lake/demo/`; its storage options."""
    program = os.environ.get("POISONSCAN_MOTO_SERVER") or shutil.which("moto_server")
    if program is None:
        why = "no S3 server: moto_server is not on the PATH (pip install 'moto[server]')"
        if os.environ.get("POISONSCAN_REQUIRE_STORAGE"):
            pytest.fail(f"{why}, and POISONSCAN_REQUIRE_STORAGE is set")
        pytest.skip(why)
    # The uploads go through boto3, which moto brings; the 3.9 environment of `.ci/run` has
    # neither (its 3.11 run tests object storage).
    boto3 = pytest.importorskip("boto3", reason="boto3 (installed with moto) uploads the data")

    port = _free_port()
    server = subprocess.Popen(
        [program, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto did not start in 30 s"
                time.sleep(0.1)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test-secret",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket="lake")
        for side, folder in (("current", DEMO_CURRENT), ("baseline", DEMO_BASELINE)):
            for f in sorted(Path(folder).glob("*.parquet")):
                client.upload_file(str(f), "lake", f"demo/{side}/{f.name}")
        yield {
            "aws_endpoint": endpoint,
            "aws_allow_http": "true",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test-secret",
            "aws_region": "us-east-1",
        }
    finally:
        server.kill()
        server.wait()


def test_urls_give_the_report_files_give(s3: dict[str, str], tmp_path: Path) -> None:
    local = poisonscan.scan(DEMO_CURRENT, baseline=DEMO_BASELINE, fail_on="never", **DEMO)
    remote = poisonscan.scan(
        "s3://lake/demo/current/",
        baseline="s3://lake/demo/baseline/",
        fail_on="never",
        storage_options=s3,
        **DEMO,
    )
    text = remote.to_json().replace("s3://lake/demo/", f"{DEMO_CURRENT.parent}/")
    assert without_run(json.loads(text)) == without_run(local.to_dict())
    # A profile of objects, saved to the store and used as the baseline from there.
    p = poisonscan.profile("s3://lake/demo/baseline/", storage_options=s3, **DEMO)
    p.save("s3://lake/profiles/base.psprof")
    again = poisonscan.scan(
        "s3://lake/demo/current/",
        baseline="s3://lake/profiles/base.psprof",
        fail_on="never",
        storage_options=s3,
        **DEMO,
    )
    assert [f["code"] for f in again.to_dict()["findings"]] == [
        f["code"] for f in remote.to_dict()["findings"]
    ]


def test_a_missing_key_is_a_scan_error_naming_the_url(s3: dict[str, str]) -> None:
    with pytest.raises(ScanError) as e:
        poisonscan.profile("s3://lake/no/such.parquet", storage_options=s3)
    assert "`s3://lake/no/such.parquet`" in str(e.value)
    with pytest.raises(ScanError) as e:
        poisonscan.profile("s3://lake/demo/", storage_options={**s3, "aws_no_such_key": "x"})
    assert "aws_no_such_key" in str(e.value)
    with pytest.raises(TypeError):
        poisonscan.profile("s3://lake/demo/", storage_options={"aws_region": 1})  # type: ignore[dict-item]
