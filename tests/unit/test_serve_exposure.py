"""``medbook serve`` warns when gunicorn listens where other machines reach it directly."""

from __future__ import annotations

import pytest

from medbook.entrypoints.cli import exposure_warning


@pytest.mark.parametrize(
    "bind",
    ["127.0.0.1:8000", "127.0.0.53:80", "localhost:8000", "[::1]:8000", "unix:/run/medbook.sock"],
)
def test_a_proxy_on_the_same_host_is_no_warning(bind: str) -> None:
    assert exposure_warning(bind) is None


@pytest.mark.parametrize(
    "bind", ["0.0.0.0:8000", "[::]:8000", ":8000", "10.0.0.5:8000", "medbook.internal:8000"]
)
def test_any_other_address_warns_and_names_the_guide(bind: str) -> None:
    warning = exposure_warning(bind)
    assert warning is not None
    assert bind in warning
    assert "docs/deployment.md" in warning
