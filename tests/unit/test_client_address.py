"""Which address a request counts against: the socket's peer, or X-Forwarded-For read from the
right past the operator's trusted proxies only; and the settings behind them."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest

from medbook.bootstrap import Settings, parse_networks
from medbook.domain.accounts.throttling import AttemptLimits, Rate
from medbook.entrypoints.http.client import client_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # No trusted proxy in front: the header is the client's own text, never believed.
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
        ("203.0.113.7", None, "203.0.113.7"),
        # Behind a trusted proxy: the right-most entry that is no trusted proxy.
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "192.0.2.66, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "192.0.2.66, 198.51.100.1, 10.1.2.3", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1,10.1.2.3,10.9.9.9", "198.51.100.1"),
        # Malformed entries are skipped; ports and brackets are taken off.
        ("10.0.0.2", "198.51.100.1, unknown", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, , 300.1.2.3", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1:51234", "198.51.100.1"),
        ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8:ffff::5", "2001:db8:1::7", "2001:db8:1::7"),
        ("::ffff:10.0.0.2", "::ffff:198.51.100.1", "198.51.100.1"),
        # Nothing usable, or only trusted proxies: the left-most proxy, else the peer.
        ("10.0.0.2", "garbage", "10.0.0.2"),
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "10.3.3.3, 10.4.4.4", "10.3.3.3"),
    ],
)
def test_the_client_address(peer: str, forwarded_for: str | None, client: str) -> None:
    assert client_address(peer, forwarded_for, PROXIES) == client


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("10.0.0.2", "198.51.100.1", ()) == "10.0.0.2"


def test_an_unknown_peer_is_none() -> None:
    assert client_address(None, "198.51.100.1", PROXIES) is None
    assert client_address("", None, PROXIES) is None


def test_trusted_proxies_come_from_the_environment() -> None:
    settings = Settings.from_env({"MEDBOOK_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1,fd00::/8"})

    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.1/32"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert Settings.from_env({}).trusted_proxies == ()


def test_a_malformed_trusted_proxy_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"MEDBOOK_TRUSTED_PROXIES.*10\.0\.0\.0/33"):
        parse_networks("10.0.0.0/8, 10.0.0.0/33")


def test_the_registration_limit_comes_from_the_environment() -> None:
    limits = Settings.from_env({"MEDBOOK_REGISTRATIONS_PER_HOUR": "60"}).attempt_limits

    assert limits.registrations_per_client == Rate.of(60, dt.timedelta(minutes=1))
    assert Settings.from_env({}).attempt_limits == AttemptLimits()
    with pytest.raises(ValueError, match="at least 1"):
        Settings.from_env({"MEDBOOK_REGISTRATIONS_PER_HOUR": "0"})
