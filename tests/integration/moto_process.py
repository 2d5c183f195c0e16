"""An S3-compatible server of a test's own: moto's standalone server on a free loopback port,
never a shared service, and the environment boto3 needs to talk to it and nothing else.

``start()`` returns once it answers; ``kill()`` is a crash (SIGKILL: the port refuses at once);
``restart()`` starts it again on the same port. moto keeps everything in memory: after a restart
the store is empty, and the bucket must be created again (``create_bucket``)::

    moto = MotoProcess(tmp_path).start()
    moto.create_bucket("medbook-test", "cn-hangzhou")
    moto.kill()
    moto.restart()
    moto.create_bucket("medbook-test", "cn-hangzhou")
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from server_process import ServerProcess, ServerStartError

#: The credentials the test's clients sign with (moto accepts any pair).
ACCESS_KEY_ID = "AKIDMEDBOOKTEST"
SECRET_ACCESS_KEY = "medbook-test-secret"

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


class MotoError(ServerStartError):
    """moto did not start, or did not answer in time."""


class MotoProcess(ServerProcess):
    name = "moto"
    error = MotoError

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def answers(self) -> str | None:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with direct.open(f"{self.endpoint}/moto-api/", timeout=1):
                return None
        except (urllib.error.URLError, OSError) as error:
            return str(error)

    def client(self, region: str) -> Any:
        """A plain boto3 client on this server, with the test's credentials."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def create_bucket(self, bucket: str, region: str) -> None:
        self.client(region).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
        )

    def keys(self, bucket: str, region: str) -> set[str]:
        """Every key of ``bucket``."""
        pages = self.client(region).get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}
