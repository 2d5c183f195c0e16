"""A valid token counts only when sent as a bearer token (RFC 6750), whatever the case of the
scheme's name (RFC 7235: auth-schemes are case-insensitive); under any other scheme it is a 401.

The other 401 tests send tokens that would be refused anyway; here the token itself is good, so
only the scheme can be what refuses it.
"""

from __future__ import annotations

import pytest
from http_support import World, ok, problem


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_a_valid_token_is_taken_under_the_bearer_scheme_in_any_case(
    world: World, scheme: str
) -> None:
    authorization = f"{scheme} {world.patient_a.token}"

    me = ok(world.api.get("/v1/me", headers={"Authorization": authorization}))

    assert me["id"] == world.patient_a.id


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic {token}",
        "Token {token}",
        "JWT {token}",
        "Bearers {token}",
        "Digest {token}",
        "{token}",  # no scheme at all
        "Bearer{token}",  # no space after the scheme
    ],
)
def test_a_valid_token_under_another_scheme_is_401(world: World, authorization: str) -> None:
    header = authorization.format(token=world.patient_a.token)

    result = world.api.get("/v1/me", headers={"Authorization": header})

    problem(result, 401)
    assert result.headers["www-authenticate"].startswith("Bearer")
