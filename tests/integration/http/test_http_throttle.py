"""Throttling over HTTP by client address (issue 7, item 2): a guesser slows down their own
address, not the account's owner; X-Forwarded-For counts only from a trusted proxy; registrations
(which tell whether a phone is taken) are limited per address."""

from __future__ import annotations

import ipaddress
from typing import Any

import falcon.testing
import pytest
from http_support import MAX_BODY_BYTES, PASSWORD, Api, World, ok, problem

from medbook.bootstrap import Services
from medbook.entrypoints.http.app import create_app

GUESSER, OWNER = "203.0.113.7", "198.51.100.20"
PROXY = "10.0.0.2"


def post(
    api: Api, path: str, body: dict[str, Any], peer: str, forwarded_for: str | None = None
) -> falcon.testing.Result:
    """A POST whose socket peer is ``peer``, checked against the OpenAPI document."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else None
    result = api.client.simulate_request("POST", path, json=body, remote_addr=peer, headers=headers)
    api.check("POST", path, result)
    return result


def login(world: World, password: str) -> dict[str, Any]:
    return {"phone": world.patient_a.phone, "password": password, "role": "patient"}


@pytest.fixture
def proxied(services: Services, openapi_document: dict[str, Any]) -> Api:
    """The app behind a reverse proxy in 10.0.0.0/8 (``MEDBOOK_TRUSTED_PROXIES=10.0.0.0/8``)."""
    app = create_app(
        services,
        max_body_bytes=MAX_BODY_BYTES,
        trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),),
    )
    return Api(falcon.testing.TestClient(app), openapi_document)


def test_five_wrong_passwords_from_one_address_do_not_lock_the_owner_out(world: World) -> None:
    for _ in range(5):
        problem(post(world.api, "/v1/sessions", login(world, "wrong password"), GUESSER), 401)

    blocked = post(world.api, "/v1/sessions", login(world, PASSWORD), GUESSER)
    owner = post(world.api, "/v1/sessions", login(world, PASSWORD), OWNER)

    problem(blocked, 429, "too_many_attempts")
    assert int(blocked.headers["retry-after"]) == 3 * 60
    assert ok(owner)["id"] == world.patient_a.id


def test_x_forwarded_for_is_ignored_when_the_peer_is_no_trusted_proxy(world: World) -> None:
    for n in range(5):
        forged = f"192.0.2.{n}"
        problem(post(world.api, "/v1/sessions", login(world, "guess"), GUESSER, forged), 401)

    result = post(world.api, "/v1/sessions", login(world, PASSWORD), GUESSER, "192.0.2.99")

    problem(result, 429)


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted(
    world: World, proxied: Api
) -> None:
    for _ in range(5):
        problem(post(proxied, "/v1/sessions", login(world, "guess"), PROXY, GUESSER), 401)

    blocked = post(proxied, "/v1/sessions", login(world, PASSWORD), PROXY, GUESSER)
    # What the client wrote itself is left of what the proxy appended: it changes nothing.
    forged = post(proxied, "/v1/sessions", login(world, PASSWORD), PROXY, f"{OWNER}, {GUESSER}")
    owner = post(proxied, "/v1/sessions", login(world, PASSWORD), PROXY, OWNER)

    problem(blocked, 429)
    problem(forged, 429)
    assert ok(owner)["id"] == world.patient_a.id


def test_without_x_forwarded_for_the_trusted_proxy_itself_is_the_client(
    world: World, proxied: Api
) -> None:
    for _ in range(5):
        problem(post(proxied, "/v1/sessions", login(world, "guess"), PROXY), 401)

    problem(post(proxied, "/v1/sessions", login(world, PASSWORD), PROXY), 429)
    ok(post(proxied, "/v1/sessions", login(world, PASSWORD), PROXY, OWNER))


def test_the_addresses_of_one_ipv6_64_are_one_client(world: World) -> None:
    for n in range(1, 6):
        problem(post(world.api, "/v1/sessions", login(world, "guess"), f"2001:db8:1:2::{n}"), 401)

    problem(post(world.api, "/v1/sessions", login(world, PASSWORD), "2001:db8:1:2:ff::1"), 429)
    ok(post(world.api, "/v1/sessions", login(world, PASSWORD), "2001:db8:1:3::1"))


def test_registrations_from_one_address_are_limited(world: World) -> None:
    # Probing which phones are taken (409) counts as much as registering.
    taken = {"phone": world.patient_a.phone, "name": "Prober", "password": PASSWORD}
    for n in range(10):
        problem(post(world.api, "/v1/patients", taken, GUESSER), 409, "phone_taken")
        body = {"phone": world.new_phone(), "name": f"Dr {n}", "password": PASSWORD}
        ok(post(world.api, "/v1/doctors", body, GUESSER), 201)

    fresh = {"phone": world.new_phone(), "name": "Zhao Lei", "password": PASSWORD}
    refused = post(world.api, "/v1/patients", fresh, GUESSER)
    refused_doctor = post(world.api, "/v1/doctors", fresh, GUESSER)

    problem(refused, 429, "too_many_attempts")
    problem(refused_doctor, 429)
    assert int(refused.headers["retry-after"]) == 3 * 60
    ok(post(world.api, "/v1/patients", fresh, OWNER), 201)
