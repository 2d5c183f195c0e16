"""An S3-compatible server of a test's own, to kill and bring back: moto's standalone server on a
free loopback port, never a shared service.

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

import atexit
import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

import boto3

#: Seconds for moto to answer after a start (imports included) on a loaded CI machine.
STARTUP_TIMEOUT = 60.0
POLL_INTERVAL = 0.05
#: The credentials the test's clients sign with (moto accepts any pair).
ACCESS_KEY_ID = "AKIDMEDBOOKOUTAGE"
SECRET_ACCESS_KEY = "medbook-outage-secret"

_RUNNING: set[MotoProcess] = set()


class MotoError(Exception):
    """moto did not start, or did not answer in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoProcess:
    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / f"moto-{self.port}.log"

    def start(self) -> Self:
        if self.process is not None and self.process.poll() is None:
            raise MotoError("moto runs already")
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.starts += 1
        _RUNNING.add(self)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MotoError(f"moto exited with {self.process.returncode}\n{self.log()}")
            if self.answers():
                return self
            time.sleep(POLL_INTERVAL)  # polling for readiness, bounded by the deadline
        self.stop()
        raise MotoError(f"moto did not answer within {STARTUP_TIMEOUT:.0f} s\n{self.log()}")

    def restart(self) -> Self:
        """Start again on the same port, empty (moto keeps nothing across a restart)."""
        return self.start()

    def kill(self) -> None:
        """A crash: SIGKILL, and wait for it, so that the port refuses from now on."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        _RUNNING.discard(self)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        _RUNNING.discard(self)

    def answers(self) -> bool:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with direct.open(f"{self.endpoint}/moto-api/", timeout=1):
                return True
        except (urllib.error.URLError, OSError):
            return False

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

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.kill()
