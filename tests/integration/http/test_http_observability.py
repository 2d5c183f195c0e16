"""``/metrics`` decides by address or token, and the request log carries no path: the rules of
``observability`` on the app itself (``test_observability.py`` runs them on a real server)."""

from __future__ import annotations

import ipaddress
import logging

import falcon.testing
import pytest
from http_support import fast_hasher

from medbook.bootstrap import Settings, in_memory
from medbook.entrypoints.http.app import create_app

TOKEN = "t" * 40
PROXY = (ipaddress.ip_network("10.0.0.2/32"),)


@pytest.fixture(scope="module")
def client() -> falcon.testing.TestClient:
    app = create_app(in_memory(hasher=fast_hasher()), trusted_proxies=PROXY, metrics_token=TOKEN)
    return falcon.testing.TestClient(app)


@pytest.mark.parametrize(
    ("peer", "headers", "status"),
    [
        ("127.0.0.1", {}, 200),  # straight from this host
        ("::1", {}, 200),
        ("192.0.2.10", {}, 403),  # straight from elsewhere
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, 403),  # relayed, by nobody trusted
        ("127.0.0.1", {"X-Forwarded-For": "127.0.0.1"}, 403),  # nobody trusted vouches for it
        ("10.0.0.2", {"X-Forwarded-For": "203.0.113.9"}, 403),  # a trusted proxy, outside client
        ("10.0.0.2", {"X-Forwarded-For": "127.0.0.1"}, 200),  # a trusted proxy, internal client
        ("10.0.0.2", {"X-Forwarded-For": "garbage"}, 403),  # names nobody: not the proxy itself
        ("10.0.0.2", {"X-Forwarded-For": ""}, 403),
        ("10.0.0.2", {"X-Forwarded-For": "unix:"}, 403),
        ("192.0.2.10", {"Authorization": f"Bearer {TOKEN}"}, 200),
        ("192.0.2.10", {"Authorization": f"Bearer {TOKEN[:-1]}"}, 403),
        ("127.0.0.1", {"Authorization": "Bearer wrong"}, 403),  # a wrong token is never internal
        ("192.0.2.10", {"Authorization": f"Basic {TOKEN}"}, 403),
    ],
)
def test_who_reads_the_metrics(
    client: falcon.testing.TestClient, peer: str, headers: dict[str, str], status: int
) -> None:
    result = client.simulate_get("/metrics", remote_addr=peer, headers=headers)
    assert result.status_code == status
    if status == 200:
        assert result.headers["content-type"].startswith("text/plain")
        assert "medbook_http_requests_total" in result.text
    else:
        assert result.headers["content-type"] == "application/problem+json"
        assert "medbook_" not in result.text


def test_the_request_log_holds_the_route_template_and_never_the_path(
    client: falcon.testing.TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="medbook.access")
    code = "C0de" + "x" * 40
    result = client.simulate_get(f"/v1/shared-records/{code}", query_string=f"code={code}")
    assert result.status_code == 401
    [record] = [r for r in caplog.records if r.name == "medbook.access"]
    assert record.route == "/v1/shared-records/{code}"  # type: ignore[attr-defined]
    assert record.status == 401  # type: ignore[attr-defined]
    assert code not in record.getMessage() and code not in str(record.__dict__)
    assert result.headers["x-request-id"] == record.request_id  # type: ignore[attr-defined]


def test_an_unrouted_path_is_logged_as_unmatched(
    client: falcon.testing.TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="medbook.access")
    client.simulate_get("/secret-looking/path/abc123")
    [record] = [r for r in caplog.records if r.name == "medbook.access"]
    assert record.route == "unmatched"  # type: ignore[attr-defined]
    assert "abc123" not in str(record.__dict__)


@pytest.mark.parametrize("token", ["short", "x" * 31])
def test_a_guessable_metrics_token_is_refused_at_start(token: str) -> None:
    with pytest.raises(ValueError, match="MEDBOOK_METRICS_TOKEN"):
        Settings.from_env({"MEDBOOK_METRICS_TOKEN": token})


def test_metrics_networks_come_from_the_setting() -> None:
    settings = Settings.from_env({"MEDBOOK_METRICS_NETWORKS": "10.1.0.0/16"})
    assert settings.metrics_networks == (ipaddress.ip_network("10.1.0.0/16"),)
    with pytest.raises(ValueError, match="MEDBOOK_METRICS_NETWORKS"):
        Settings.from_env({"MEDBOOK_METRICS_NETWORKS": "not a network"})


def test_only_a_trusted_proxy_names_the_request(client: falcon.testing.TestClient) -> None:
    """A client's own X-Request-ID could write a share code or a phone number into the log."""
    given = "0123456789abcdef0123456789abcdef"
    from_proxy = client.simulate_get(
        "/healthz", remote_addr="10.0.0.2", headers={"X-Request-ID": given}
    )
    assert from_proxy.headers["x-request-id"] == given
    from_client = client.simulate_get(
        "/healthz", remote_addr="203.0.113.9", headers={"X-Request-ID": "13912345678"}
    )
    assert from_client.headers["x-request-id"] != "13912345678"


@pytest.mark.filterwarnings("ignore::wsgiref.validate.WSGIWarning")  # the made-up methods
def test_made_up_methods_are_one_label_not_a_series_each(client: falcon.testing.TestClient) -> None:
    """Found by a live probe: 3,000 requests with made-up methods made /metrics 4 MB long."""
    for n in range(30):
        client.simulate_request(f"QAAA{n:02d}", "/nowhere")
    text = client.simulate_get("/metrics").text
    assert "QAAA" not in text
    assert 'method="other"' in text
