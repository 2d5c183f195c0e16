"""The security adapters: argon2id hashes, HS256 tokens (the throttle: test_throttle_contract)."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import re
import secrets
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_support import NOW

from medbook.adapters.security import (
    Argon2Hasher,
    JwtTokens,
    check_jwt_secret,
)
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import Unauthenticated

#: Cheap parameters so that the tests stay fast; only one test hashes with the real defaults.
CHEAP = {"memory_cost": 8, "time_cost": 1, "parallelism": 1}
SECRET = "p7Yw1lq0Zc4sQn8eVb2mT6rXk9uJa3Hd"  # 32 bytes
PATIENT = Actor(7, Role.PATIENT)
DOCTOR = Actor(8, Role.DOCTOR)
ADMIN = Actor(9, Role.ADMIN, hospital_id=3)
HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)


# --- passwords -----------------------------------------------------------------------------------


@pytest.fixture
def hasher() -> Argon2Hasher:
    return Argon2Hasher(**CHEAP)


def test_hashes_use_argon2id_with_the_owasp_parameters_by_default() -> None:
    password_hash = Argon2Hasher().hash("correct horse")

    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert Argon2Hasher().verify(password_hash, "correct horse")


def test_the_parameters_can_be_changed() -> None:
    assert Argon2Hasher(**CHEAP).hash("correct horse").startswith("$argon2id$v=19$m=8,t=1,p=1$")


@pytest.mark.parametrize("password", ["correct horse", "密码是一二三四五六", "x" * 128, " spaces "])
def test_a_password_verifies_against_its_hash(hasher: Argon2Hasher, password: str) -> None:
    assert hasher.verify(hasher.hash(password), password)


def test_the_same_password_hashes_differently_each_time(hasher: Argon2Hasher) -> None:
    assert hasher.hash("correct horse") != hasher.hash("correct horse")


@pytest.mark.parametrize("attempt", ["correct hors", "Correct horse", "correct horse ", ""])
def test_a_wrong_password_is_false(hasher: Argon2Hasher, attempt: str) -> None:
    assert hasher.verify(hasher.hash("correct horse"), attempt) is False


@pytest.mark.parametrize(
    "garbage",
    ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$", "$2b$12$" + "a" * 53, "$argon2id$v=19$m=8"],
)
def test_a_garbage_hash_is_false_not_an_error(hasher: Argon2Hasher, garbage: str) -> None:
    assert hasher.verify(garbage, "correct horse") is False


def test_a_hash_with_weaker_parameters_needs_rehashing(hasher: Argon2Hasher) -> None:
    stronger = Argon2Hasher(memory_cost=16, time_cost=2, parallelism=1)
    weak_hash = hasher.hash("correct horse")

    assert stronger.needs_rehash(weak_hash)
    assert stronger.verify(weak_hash, "correct horse")  # still accepted, so it can be upgraded
    assert not stronger.needs_rehash(stronger.hash("correct horse"))
    assert not hasher.needs_rehash(weak_hash)


def test_an_unreadable_hash_needs_rehashing(hasher: Argon2Hasher) -> None:
    assert hasher.needs_rehash("not a hash")


# --- tokens --------------------------------------------------------------------------------------


@pytest.fixture
def tokens() -> JwtTokens:
    return JwtTokens(SECRET)


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def signed(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def valid_claims(**changes: Any) -> dict[str, Any]:
    """What JwtTokens issues for PATIENT at NOW, with ``changes``; a None value drops the claim."""
    claims = {
        "sub": "7",
        "role": "patient",
        "iat": int(NOW.timestamp()),
        "nbf": int(NOW.timestamp()),
        "exp": int((NOW + HOUR).timestamp()),
        "iss": "medbook",
        "aud": "medbook-api",
        "jti": "abc",
    } | changes
    return {name: value for name, value in claims.items() if value is not None}


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_by_hand(claims: dict[str, Any], alg: str = "HS256", digest: str = "sha256") -> str:
    """A token HMAC-signed with SECRET, whatever its claims (PyJWT refuses to encode some)."""
    signing_input = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}"
    signature = hmac.digest(SECRET.encode(), signing_input.encode(), digest)
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("actor", [PATIENT, DOCTOR, ADMIN])
def test_a_token_names_the_actor_it_was_issued_to(tokens: JwtTokens, actor: Actor) -> None:
    assert tokens.verify(tokens.issue(actor, NOW), NOW + 30 * dt.timedelta(minutes=1)) == actor


def test_a_token_carries_the_registered_claims(tokens: JwtTokens) -> None:
    claims = claims_of(tokens.issue(ADMIN, NOW))

    assert jwt.get_unverified_header(tokens.issue(ADMIN, NOW))["alg"] == "HS256"
    assert claims | {"jti": "?"} == {
        "sub": "9",
        "role": "admin",
        "hid": 3,
        "iat": int(NOW.timestamp()),
        "nbf": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 3600,
        "iss": "medbook",
        "aud": "medbook-api",
        "jti": "?",
    }
    assert "hid" not in claims_of(tokens.issue(PATIENT, NOW))


def test_every_token_has_its_own_id(tokens: JwtTokens) -> None:
    ids = {claims_of(tokens.issue(PATIENT, NOW))["jti"] for _ in range(20)}

    assert len(ids) == 20


def test_the_verifying_time_is_the_one_given_not_the_system_clock(tokens: JwtTokens) -> None:
    for moment in (dt.datetime(2001, 1, 1, tzinfo=dt.UTC), dt.datetime(2090, 1, 1, tzinfo=dt.UTC)):
        assert tokens.verify(tokens.issue(PATIENT, moment), moment + SECOND) == PATIENT


def test_a_token_expires_after_its_lifetime(tokens: JwtTokens) -> None:
    token = tokens.issue(PATIENT, NOW)

    assert tokens.verify(token, NOW + HOUR - dt.timedelta(microseconds=1)) == PATIENT
    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW + HOUR)
    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW + 30 * 24 * HOUR)


def test_the_lifetime_can_be_changed() -> None:
    tokens = JwtTokens(SECRET, lifetime=dt.timedelta(minutes=5))
    token = tokens.issue(PATIENT, NOW)

    assert tokens.verify(token, NOW + dt.timedelta(minutes=4)) == PATIENT
    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW + dt.timedelta(minutes=5))


def test_a_token_is_not_valid_before_it_was_issued(tokens: JwtTokens) -> None:
    token = tokens.issue(PATIENT, NOW)

    assert tokens.verify(token, NOW) == PATIENT
    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW - SECOND)


def test_a_token_whose_not_before_lies_ahead_is_refused(tokens: JwtTokens) -> None:
    token = signed(valid_claims(nbf=int((NOW + 10 * SECOND).timestamp())))

    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW)
    assert tokens.verify(token, NOW + 10 * SECOND) == PATIENT


def test_a_token_issued_in_the_future_is_refused(tokens: JwtTokens) -> None:
    token = signed(valid_claims(iat=int((NOW + 10 * SECOND).timestamp())))

    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW)
    assert tokens.verify(token, NOW + 10 * SECOND) == PATIENT


def test_a_tampered_payload_is_refused(tokens: JwtTokens) -> None:
    header, _, signature = tokens.issue(PATIENT, NOW).split(".")
    forged_payload = b64(valid_claims(role="admin", hid=1))

    with pytest.raises(Unauthenticated):
        tokens.verify(f"{header}.{forged_payload}.{signature}", NOW)


def test_a_tampered_signature_is_refused(tokens: JwtTokens) -> None:
    token = tokens.issue(PATIENT, NOW)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]

    with pytest.raises(Unauthenticated):
        tokens.verify(flipped, NOW)


def test_a_token_signed_with_another_secret_is_refused(tokens: JwtTokens) -> None:
    other = JwtTokens(secrets.token_bytes(32))

    with pytest.raises(Unauthenticated):
        tokens.verify(other.issue(PATIENT, NOW), NOW)


@pytest.mark.parametrize(
    "other", [JwtTokens(SECRET, audience="someone-else"), JwtTokens(SECRET, issuer="someone-else")]
)
def test_a_token_for_another_audience_or_from_another_issuer_is_refused(
    tokens: JwtTokens, other: JwtTokens
) -> None:
    with pytest.raises(Unauthenticated):
        tokens.verify(other.issue(PATIENT, NOW), NOW)
    with pytest.raises(Unauthenticated):
        other.verify(tokens.issue(PATIENT, NOW), NOW)


def test_an_audience_list_is_refused(tokens: JwtTokens) -> None:
    with pytest.raises(Unauthenticated):
        tokens.verify(signed(valid_claims(aud=["medbook-api", "elsewhere"])), NOW)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
@pytest.mark.parametrize("signature", ["", "AAAA"])
def test_an_unsigned_token_is_refused(tokens: JwtTokens, alg: str, signature: str) -> None:
    token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(valid_claims())}.{signature}"

    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW)


@pytest.mark.parametrize(("alg", "digest"), [("HS384", "sha384"), ("HS512", "sha512")])
def test_a_token_signed_with_another_hmac_algorithm_is_refused(
    tokens: JwtTokens, alg: str, digest: str
) -> None:
    with pytest.raises(Unauthenticated):
        tokens.verify(signed_by_hand(valid_claims(), alg, digest), NOW)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA", "hs256", "HS256 "])
def test_a_token_claiming_any_other_algorithm_is_refused(tokens: JwtTokens, alg: str) -> None:
    # Signed with the secret as if HS256, so only the algorithm named in the header is wrong.
    with pytest.raises(Unauthenticated):
        tokens.verify(signed_by_hand(valid_claims(), alg=alg), NOW)


def test_the_control_tokens_are_accepted(tokens: JwtTokens) -> None:
    # The tokens crafted in these tests are refused for the one reason each test names.
    assert tokens.verify(signed(valid_claims()), NOW) == PATIENT
    assert tokens.verify(signed_by_hand(valid_claims()), NOW) == PATIENT


@pytest.mark.parametrize("missing", ["sub", "role", "iat", "nbf", "exp", "iss", "aud", "jti"])
def test_a_token_without_a_required_claim_is_refused(tokens: JwtTokens, missing: str) -> None:
    with pytest.raises(Unauthenticated):
        tokens.verify(signed(valid_claims(**{missing: None})), NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"role": "superuser"},
        {"role": "PATIENT"},
        {"role": ["patient"]},
        {"sub": 7},
        {"sub": "seven"},
        {"sub": " 7"},
        {"sub": "+7"},
        {"sub": "-7"},
        {"sub": "\uff17"},  # a fullwidth 7
        {"hid": "3"},
        {"hid": True},
        {"exp": float(int((NOW + HOUR).timestamp()))},
        {"exp": str(int((NOW + HOUR).timestamp()))},
        {"iat": True},
        {"nbf": 1.5},
    ],
)
def test_a_signed_token_with_a_malformed_claim_is_refused(
    tokens: JwtTokens, changes: dict[str, Any]
) -> None:
    with pytest.raises(Unauthenticated):
        tokens.verify(signed(valid_claims(**changes)), NOW)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "....", "Bearer x.y.z", "é.é.é"])
def test_a_malformed_token_is_refused(tokens: JwtTokens, token: str) -> None:
    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW)


def test_every_refusal_says_the_same(tokens: JwtTokens) -> None:
    refusals = [
        "abc",
        tokens.issue(PATIENT, NOW + HOUR),
        tokens.issue(PATIENT, NOW - 2 * HOUR),
        JwtTokens(secrets.token_bytes(32)).issue(PATIENT, NOW),
        signed(valid_claims(role="superuser")),
    ]
    messages = set()
    for token in refusals:
        with pytest.raises(Unauthenticated) as raised:
            tokens.verify(token, NOW)
        messages.add(str(raised.value))

    assert messages == {"invalid or expired token"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=5,
)
_STAMP = int(NOW.timestamp())
#: For each claim, values just inside and just outside what it takes (None: the claim is left out).
EDGES: dict[str, list[Any]] = {
    "sub": [
        *("7", "07", "00000000007", "0", "-7", " 7", "\u0667"),  # the last: an Arabic-Indic 7
        *("2147483647", "2147483648", 7, None),
    ],
    "role": [*(role.value for role in Role), "Patient", "superuser", "", ["patient"], None],
    "hid": [1, 2**31 - 1, 0, 2**31, -3, True, 3.0, "3", None],
    **{
        name: [_STAMP - 1, _STAMP, _STAMP + 1, float(_STAMP), str(_STAMP), True, None]
        for name in ("iat", "nbf")
    },
    "exp": [_STAMP - 1, _STAMP, _STAMP + 1, float(_STAMP + 1), str(_STAMP + 1), True, None],
    "iss": ["medbook", "Medbook", "", ["medbook"], None],
    "aud": ["medbook-api", "medbook", ["medbook-api"], None],
    "jti": ["", "x", 1, None],
    "x": [None, 1, "anything"],
}
EDGE_CHANGES = [(name, value) for name, values in EDGES.items() for value in values]
CLAIM_NAMES = st.sampled_from(sorted(EDGES))
edge_values = st.sampled_from([value for _, value in EDGE_CHANGES])


def expected_actor(claims: dict[str, Any]) -> Actor | None:
    """The actor a token signed with SECRET and carrying ``claims`` names at NOW, or None when
    it must be refused — worked out here from RFC 7519 and medbook's own claims, not by PyJWT."""
    times = [claims.get(name) for name in ("iat", "nbf", "exp")]
    if not all(type(t) is int for t in times):
        return None
    issued_at, not_before, expires = times
    if not (issued_at <= _STAMP and not_before <= _STAMP < expires):  # type: ignore[operator]
        return None
    if claims.get("iss") != "medbook" or claims.get("aud") != "medbook-api":
        return None
    if not isinstance(claims.get("jti"), str):
        return None
    subject, role, hospital_id = claims.get("sub"), claims.get("role"), claims.get("hid")
    if not (isinstance(subject, str) and re.fullmatch(r"[0-9]{1,10}", subject)):
        return None
    if not 1 <= int(subject) <= 2**31 - 1:
        return None
    if not (isinstance(role, str) and role in {r.value for r in Role}):
        return None
    if hospital_id is not None and not (type(hospital_id) is int and 1 <= hospital_id < 2**31):
        return None
    return Actor(int(subject), Role(role), hospital_id)


def check_token_with(changes: dict[str, Any]) -> None:
    """A token of ``valid_claims(**changes)`` gives exactly the actor they name, or is refused."""
    claims = valid_claims(**changes)
    expected = expected_actor(claims)
    try:
        actor = JwtTokens(SECRET).verify(signed_by_hand(claims), NOW)
    except Unauthenticated:
        assert expected is None, f"refused a token naming {expected}: {changes}"
        return
    assert actor == expected, f"{changes} gave {actor}"


@pytest.mark.parametrize(("claim", "value"), EDGE_CHANGES)
def test_a_claim_at_its_edge_gives_the_actor_it_names_or_unauthenticated(
    claim: str, value: Any
) -> None:
    check_token_with({claim: value})


@settings(max_examples=300)
@given(changes=st.dictionaries(CLAIM_NAMES, edge_values | json_values))
def test_a_signed_token_with_any_claims_gives_the_actor_they_name_or_unauthenticated(
    changes: dict[str, Any],
) -> None:
    check_token_with(changes)


@given(st.text())
def test_any_text_gives_unauthenticated(token: str) -> None:
    with pytest.raises(Unauthenticated):
        JwtTokens(SECRET).verify(token, NOW)


@pytest.mark.parametrize("secret", ["x" * 31, b"x" * 31, "", "é" * 15 + "x"])
def test_a_secret_shorter_than_32_bytes_is_refused(secret: str | bytes) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        JwtTokens(secret)


@pytest.mark.parametrize("secret", [b"\x00" * 32, "é" * 16, secrets.token_bytes(32)])
def test_a_secret_of_32_bytes_is_taken(secret: str | bytes) -> None:
    tokens = JwtTokens(secret)

    assert tokens.verify(tokens.issue(DOCTOR, NOW), NOW) == DOCTOR


def test_a_naive_time_is_refused(tokens: JwtTokens) -> None:
    with pytest.raises(ValueError, match="aware"):
        tokens.issue(PATIENT, NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    "secret",
    [
        secrets.token_urlsafe(32),
        secrets.token_hex(32),
        "p7Yw1lq0Zc4sQn8eVb2mT6rXk9uJa3Hd",
        "correct horse battery staple, with salt",
    ],
)
def test_a_good_secret_passes_the_check(secret: str) -> None:
    check_jwt_secret(secret)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("", "at least 32 bytes"),
        ("p7Yw1lq0Zc4sQn8eVb2mT6rXk9uJa3H", "at least 32 bytes"),
        ("a" * 64, "too regular"),
        ("changeme" * 4, "too regular"),
        ("abcdefg" * 5, "too regular"),
        ("ab" * 40, "too regular"),
    ],
)
def test_a_short_or_regular_secret_fails_the_check(secret: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as raised:
        check_jwt_secret(secret)

    assert not secret or secret not in str(raised.value)
