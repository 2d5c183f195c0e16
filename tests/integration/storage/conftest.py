"""A real S3-compatible server for the storage tests: moto's standalone server, started on a free
loopback port for the test run, with dummy credentials in the standard AWS variables.

The S3 server is required: when it cannot start, the tests that need it fail, they never skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from moto_process import ACCESS_KEY_ID, MotoProcess, isolate_aws
from server_process import running

BUCKET = "medbook-test"
REGION = "cn-hangzhou"


class S3Server(NamedTuple):
    endpoint: str
    bucket: str
    region: str
    access_key_id: str


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A running S3-compatible server on loopback, with an empty bucket."""
    folder = tmp_path_factory.mktemp("moto")
    with running(MotoProcess(folder)) as server:
        with pytest.MonkeyPatch.context() as monkeypatch:
            isolate_aws(monkeypatch, folder)
            server.create_bucket(BUCKET, REGION)
        yield S3Server(server.endpoint, BUCKET, REGION, ACCESS_KEY_ID)


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
