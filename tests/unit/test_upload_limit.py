"""The upload limit an operator gets by default (10 MiB), and the one they set, in every mode."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from medbook.bootstrap import Services, Settings, bootstrap, in_memory
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import TooLarge

MIB = 1024 * 1024
PATIENT = Actor(7, Role.PATIENT)


def pdf(size: int) -> io.BytesIO:
    """A PDF of exactly ``size`` bytes (a comment after its header: readers ignore it)."""
    head = b"%PDF-1.7\n%"
    return io.BytesIO(head + b"x" * (size - len(head) - 1) + b"\n")


def assert_limit_is(services: Services, limit: int) -> None:
    """A file of ``limit`` bytes is taken, one byte more is refused, naming the limit."""
    assert services.uploads.upload(PATIENT, pdf(limit)).size == limit
    with pytest.raises(TooLarge) as refused:
        services.uploads.upload(PATIENT, pdf(limit + 1))
    assert refused.value.details["limit"] == limit


def test_the_default_limit_is_10_mib() -> None:
    assert Settings().max_upload_bytes == 10 * MIB
    assert Settings.from_env({}).max_upload_bytes == 10 * MIB


@pytest.mark.parametrize(
    "services",
    [
        pytest.param(lambda: bootstrap(Settings(database_url="memory://")), id="bootstrap"),
        pytest.param(in_memory, id="in_memory"),
    ],
)
def test_the_services_take_10_mib_by_default(services: Callable[[], Services]) -> None:
    assert_limit_is(services(), 10 * MIB)


def test_the_memory_mode_honours_the_limit_set() -> None:
    services = bootstrap(Settings(database_url="memory://", max_upload_bytes=4096))

    assert_limit_is(services, 4096)


def test_the_limit_is_read_from_the_environment() -> None:
    environ = {"MEDBOOK_DATABASE_URL": "memory://", "MEDBOOK_MAX_UPLOAD_BYTES": "2048"}

    assert_limit_is(bootstrap(Settings.from_env(environ)), 2048)
