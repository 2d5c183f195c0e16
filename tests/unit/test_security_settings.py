"""The settings behind the security headers: ``MEDBOOK_CORS_ORIGINS``, checked strictly at start-up,
and which peers count as trusted proxies (whose ``X-Forwarded-Proto`` turns HSTS on)."""

from __future__ import annotations

import ipaddress

import pytest

from medbook.bootstrap import Settings, check_origins, parse_origins
from medbook.entrypoints.http.client import from_trusted_proxy

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48"))


@pytest.mark.parametrize(
    ("text", "origins"),
    [
        ("", ()),
        (" , ", ()),
        ("https://app.example.org", ("https://app.example.org",)),
        (
            " https://app.example.org ,http://localhost:5173",
            ("https://app.example.org", "http://localhost:5173"),
        ),
        # Browsers send the scheme and host in lower case: so is the allow-list.
        ("HTTPS://App.Example.ORG", ("https://app.example.org",)),
        ("https://a.org, https://A.org", ("https://a.org",)),
        ("http://127.0.0.1:8080", ("http://127.0.0.1:8080",)),
        ("http://[::1]:3000", ("http://[::1]:3000",)),
        ("https://xn--fiqs8s.example:8443", ("https://xn--fiqs8s.example:8443",)),
    ],
)
def test_origins_are_read_as_browsers_send_them(text: str, origins: tuple[str, ...]) -> None:
    assert parse_origins(text) == origins


@pytest.mark.parametrize(
    "entry",
    [
        "*",
        "https://*.example.org",
        "https://app.example.org/",
        "https://app.example.org/app",
        "https://app.example.org?x=1",
        "https://app.example.org#top",
        "https://user@app.example.org",
        "app.example.org",
        "//app.example.org",
        "ftp://app.example.org",
        "null",
        "https://",
        "https://app..example.org",
        "https://-app.example.org",
        "https://app_example.org",
        "https://app.example.org:",
        "https://app.example.org:0",
        "https://app.example.org:65536",
        "https://app.example.org:port",
        "https://[not-ipv6]",
        "https://例子.example",  # non-ASCII: browsers send punycode (xn--…)
        "https://\u212aey.example",  # KELVIN SIGN, which lower() would turn into an ASCII k
    ],
)
def test_what_is_not_an_origin_is_refused_by_name(entry: str) -> None:
    with pytest.raises(ValueError, match="MEDBOOK_CORS_ORIGINS") as refused:
        parse_origins(f"https://good.example.org, {entry}")

    assert repr(entry) in str(refused.value)


@pytest.mark.parametrize("entry", ["https://app.example.org:443", "http://app.example.org:80"])
def test_a_default_port_is_refused_since_browsers_leave_it_out(entry: str) -> None:
    with pytest.raises(ValueError, match=r"MEDBOOK_CORS_ORIGINS.*default port"):
        parse_origins(entry)


def test_check_origins_takes_entries_as_given() -> None:
    assert check_origins(["https://a.org", "http://b.org:8000"]) == (
        "https://a.org",
        "http://b.org:8000",
    )
    with pytest.raises(ValueError, match="MEDBOOK_CORS_ORIGINS"):
        check_origins(["https://a.org, https://b.org"])  # one entry, not a list


def test_cors_origins_come_from_the_environment() -> None:
    settings = Settings.from_env({"MEDBOOK_CORS_ORIGINS": "https://app.example.org"})

    assert settings.cors_origins == ("https://app.example.org",)
    assert Settings.from_env({}).cors_origins == ()
    assert Settings().cors_origins == ()
    with pytest.raises(ValueError, match="MEDBOOK_CORS_ORIGINS"):
        Settings.from_env({"MEDBOOK_CORS_ORIGINS": "*"})


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("10.0.0.2", True),
        ("10.0.0.2:51234", True),
        ("::ffff:10.0.0.2", True),
        ("2001:db8:ffff::5", True),
        ("[2001:db8:ffff::5]:443", True),
        ("203.0.113.7", False),
        ("2001:db8:1::7", False),
        ("unknown", False),
        ("", False),
        (None, False),
    ],
)
def test_a_trusted_proxy_is_a_peer_in_the_trusted_networks(peer: str | None, trusted: bool) -> None:
    assert from_trusted_proxy(peer, PROXIES) is trusted
    assert from_trusted_proxy(peer, ()) is False
