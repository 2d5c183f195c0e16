"""Regressions from the code review: each of these was a 500, a leak or a lost update."""

from __future__ import annotations

import falcon.testing
import pytest
from http_support import NOW, fast_hasher

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import in_memory
from medbook.entrypoints.http import app as http_app
from medbook.entrypoints.http.app import create_app
from medbook.ports.transaction import TransientConflict


def _client() -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(in_memory(ManualClock(NOW), hasher=fast_hasher())))


def test_deeply_nested_json_is_a_400_not_a_500() -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    result = _client().simulate_post(
        "/v1/sessions", body=body, headers={"content-type": "application/json"}
    )
    assert result.status_code in (400, 413)
    assert result.headers["content-type"] == "application/problem+json"


def test_a_wrong_type_inside_a_body_names_the_field_without_python_internals() -> None:
    client = _client()
    client.simulate_post(
        "/v1/doctors", json={"phone": "13811112222", "name": "Dr Wu", "password": "long enough"}
    )
    token = client.simulate_post(
        "/v1/sessions", json={"phone": "13811112222", "password": "long enough", "role": "doctor"}
    ).json["token"]
    result = client.simulate_put(
        "/v1/doctors/me/schedule",
        json={"monday": [1]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert result.status_code == 422
    messages = {e["field"]: e["message"] for e in result.json["errors"]}
    assert messages["monday"] == "must be an object"
    assert "unknown error" not in result.text and "attribute" not in result.text


class _Busy:
    def hospitals_near(self, *args: object) -> None:
        raise TransientConflict("Deadlock found when trying to get lock")


def test_a_transaction_that_keeps_conflicting_is_a_503_with_retry_after() -> None:
    services = in_memory(ManualClock(NOW), hasher=fast_hasher())
    services.directory = _Busy()  # type: ignore[assignment]
    result = falcon.testing.TestClient(create_app(services)).simulate_get("/v1/hospitals")
    assert result.status_code == 503
    assert result.headers["retry-after"] == "1"
    assert result.json["code"] == "busy"
    assert "Deadlock" not in result.text


@pytest.mark.parametrize("secret", ["", "changemechangemechangemechangeme", "x" * 40])
def test_gunicorn_s_get_app_refuses_a_missing_or_weak_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, secret: str
) -> None:
    monkeypatch.setenv("MEDBOOK_JWT_SECRET", secret)
    monkeypatch.setenv("MEDBOOK_DATABASE_URL", "memory://")
    with pytest.raises(SystemExit, match="refusing to serve"):
        http_app.get_app()
