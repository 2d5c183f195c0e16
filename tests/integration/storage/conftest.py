"""A real S3-compatible server for the storage tests: moto's standalone server, started on a free
loopback port for the test run, with dummy credentials in the standard AWS variables.

The S3 server is required: when it cannot start, the tests that need it fail, they never skip.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest

BUCKET = "medbook-test"
REGION = "cn-hangzhou"
ACCESS_KEY_ID = "AKIDMEDBOOKTEST"
SECRET_ACCESS_KEY = "medbook-test-secret"  # moto accepts any pair
SERVER_START_TIMEOUT_S = 60


class S3Server(NamedTuple):
    endpoint: str
    bucket: str
    region: str
    access_key_id: str


#: What could send boto3 elsewhere than the test server, or to another account.
_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
_PROXY_VARIABLES = tuple(
    name
    for base in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    for name in (base, base.upper())
)


def isolate_aws(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Dummy credentials in the standard variables, nothing read from ~/.aws, no proxy, no
    instance-metadata look-ups: boto3 talks to the loopback server with these credentials only."""
    for name in (*_AWS_VARIABLES, *_PROXY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(endpoint: str) -> bool:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with direct.open(f"{endpoint}/moto-api/", timeout=1):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _start_server(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """moto's standalone server on a free loopback port, once it answers; fails the test else."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline and server.poll() is None:
        if _answers(endpoint):
            return server, endpoint
        time.sleep(0.1)  # polling for readiness, bounded by the deadline
    _stop(server)
    pytest.fail(
        f"the S3 test server (moto) did not start: {' '.join(command)}\n"
        f"{log.read_text(errors='replace')[-3000:]}\n"
        "Install the test extra (moto[server]); the S3 tests need it and never skip.",
        pytrace=False,
    )


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A running S3-compatible server on loopback, with an empty bucket."""
    folder = tmp_path_factory.mktemp("moto")
    server, endpoint = _start_server(folder / "server.log")
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            isolate_aws(monkeypatch, folder)
            admin = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
            admin.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield S3Server(endpoint, BUCKET, REGION, ACCESS_KEY_ID)
    finally:
        _stop(server)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path)


@pytest.fixture
def s3_admin(s3_server: S3Server, aws_env: None) -> Any:
    """A plain boto3 client on the test server, to look behind the adapter's back."""
    return boto3.client("s3", endpoint_url=s3_server.endpoint, region_name=s3_server.region)


@pytest.fixture
def s3_prefix() -> str:
    """A folder of the shared bucket for one test, so that tests never see each other's objects."""
    return f"test-{uuid.uuid4().hex[:12]}"
