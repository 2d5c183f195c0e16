"""The web client's files as the app serves them (no browser: tests/integration/e2e has those)."""

from __future__ import annotations

import gzip
import re

import falcon.testing
import pytest
from http_support import fast_hasher

from medbook.bootstrap import Settings, in_memory
from medbook.entrypoints.http.app import create_app
from medbook.entrypoints.web import FILES, PAGE_POLICY

#: The issue's budget for the client's JavaScript, compressed, in all.
JS_BUDGET_BYTES = 150 * 1024


@pytest.fixture(scope="module")
def client() -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(in_memory(hasher=fast_hasher())))


def test_the_page_is_served_at_the_root_under_a_strict_policy(
    client: falcon.testing.TestClient,
) -> None:
    result = client.simulate_get("/")

    assert result.status_code == 200
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    policy = result.headers["content-security-policy"]
    assert policy == PAGE_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert b'<script type="module" src="/web/app.js"></script>' in result.content


def test_the_page_has_no_inline_script_or_style() -> None:
    page = FILES["index.html"].body.decode()

    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="/web/app.js">']
    assert "<style" not in page
    assert not re.search(r"\son\w+=", page)  # no inline event handlers
    assert " style=" not in page


def test_an_asset_comes_with_its_type_and_an_etag_and_is_asked_for_again(
    client: falcon.testing.TestClient,
) -> None:
    result = client.simulate_get("/web/app.js")

    assert result.status_code == 200
    assert result.headers["content-type"] == "text/javascript; charset=utf-8"
    assert result.headers["cache-control"] == "no-cache"
    again = client.simulate_get("/web/app.js", headers={"If-None-Match": result.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    weak = client.simulate_get(
        "/web/app.js", headers={"If-None-Match": "W/" + result.headers["etag"]}
    )
    assert weak.status_code == 304  # If-None-Match compares weakly
    changed = client.simulate_get("/web/app.js", headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/web/../pyproject.toml",
        "/web/%2e%2e/__init__.py",
        "/web/__init__.py",
        "/web/index.html",  # the page has one address: /
        "/web/vendor",
        "/web/nothing.js",
        "/web/views/../../__init__.py",
    ],
)
def test_nothing_but_the_client_s_own_files_is_served(
    client: falcon.testing.TestClient, path: str
) -> None:
    result = client.simulate_get(path)

    assert result.status_code == 404
    assert result.headers["content-type"].startswith("application/problem+json")


def test_the_javascript_fits_the_budget() -> None:
    scripts = {name: file.body for name, file in FILES.items() if name.endswith(".js")}

    compressed = sum(len(gzip.compress(body, 9)) for body in scripts.values())

    assert {"app.js", "api.js", "i18n.js", "ui.js", "vendor/htm-preact.js"} <= set(scripts)
    assert compressed < JS_BUDGET_BYTES, f"{compressed} bytes of compressed JavaScript"


def test_the_client_s_own_code_never_writes_html_or_evaluates_text() -> None:
    own = {n: f.body.decode() for n, f in FILES.items() if n.endswith(".js") and "vendor/" not in n}

    for name, code in own.items():
        for forbidden in (
            "innerHTML",
            "outerHTML",
            "dangerouslySetInnerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            'localStorage.setItem("medbook.session',
        ):
            assert forbidden not in code, f"{name} uses {forbidden}"


def test_the_token_is_kept_out_of_local_storage() -> None:
    api = FILES["api.js"].body.decode()

    assert "sessionStorage.setItem(SESSION" in api
    assert "localStorage." not in api


def test_the_page_names_the_chat_server_and_allows_only_its_origin() -> None:
    app = create_app(in_memory(hasher=fast_hasher()), chat_url="wss://chat.example.org/v1/chat")
    result = falcon.testing.TestClient(app).simulate_get("/")

    policy = result.headers["content-security-policy"]
    assert "connect-src 'self' wss://chat.example.org;" in policy
    assert b'<meta name="medbook-chat" content="wss://chat.example.org/v1/chat">' in result.content


@pytest.mark.parametrize(
    "url",
    [
        "http://chat.example.org/v1/chat",
        'wss://chat.example.org/"><script>alert(1)</script>',
        "wss://user@chat.example.org/v1/chat",
        "wss://chat.example.org/v1/chat?token=x",
        "wss:///v1/chat",
        "wss://chat.example.org:99999/v1/chat",
    ],
)
def test_a_chat_address_that_is_no_websocket_address_stops_the_server(url: str) -> None:
    with pytest.raises(ValueError, match="MEDBOOK_CHAT_URL"):
        Settings.from_env({"MEDBOOK_CHAT_URL": url})


def test_without_a_chat_server_the_page_talks_to_its_own_origin_only(
    client: falcon.testing.TestClient,
) -> None:
    result = client.simulate_get("/")

    assert "connect-src 'self';" in result.headers["content-security-policy"]
    assert b'<meta name="medbook-chat" content="">' in result.content
