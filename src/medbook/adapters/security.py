"""Security adapters: argon2id password hashes, HS256 JSON web tokens, an in-process throttle."""

from __future__ import annotations

import datetime as dt
import math
import secrets
import threading
from collections.abc import Sequence
from typing import Any

import argon2
import jwt
from argon2.exceptions import InvalidHashError, VerificationError

from medbook.domain.accounts import throttling
from medbook.domain.accounts.throttling import Bucket, epoch_ms
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.entity import MAX_ID, is_id
from medbook.domain.shared.errors import Unauthenticated

# --- passwords -----------------------------------------------------------------------------------

#: OWASP's Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
ARGON2_MEMORY_COST_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


class Argon2Hasher:
    """Password hashes in the PHC string format: ``$argon2id$v=19$m=19456,t=2,p=1$salt$hash``."""

    def __init__(
        self,
        *,
        memory_cost: int = ARGON2_MEMORY_COST_KIB,
        time_cost: int = ARGON2_TIME_COST,
        parallelism: int = ARGON2_PARALLELISM,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True  # an unreadable hash is worth replacing (it cannot verify anyway)


# --- tokens --------------------------------------------------------------------------------------

#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
JWT_SECRET_MIN_BYTES = 32
_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["sub", "role", "iat", "nbf", "exp", "iss", "aud", "jti"]
#: The same message for every refusal: it must not help anyone forge a token.
_REFUSED = "invalid or expired token"


def check_jwt_secret(secret: str) -> None:
    """Refuse a signing secret that is too short or obviously not random (``MEDBOOK_JWT_SECRET``).

    The message never repeats the secret.
    """
    _ensure_long_enough(secret.encode())
    if len(set(secret)) < 8 or _repeats_a_pattern(secret):
        raise ValueError(
            "the JWT secret is too regular to be random; generate one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'
        )


def _ensure_long_enough(secret: bytes) -> None:
    if len(secret) < JWT_SECRET_MIN_BYTES:
        raise ValueError(f"the JWT secret must be at least {JWT_SECRET_MIN_BYTES} bytes long")


def _repeats_a_pattern(secret: str) -> bool:
    """True for ``"changemechangeme…"``: the secret is one short piece over and over."""
    return any(
        secret == (secret[:period] * (len(secret) // period + 1))[: len(secret)]
        for period in range(1, len(secret) // 2 + 1)
    )


class JwtTokens:
    """Signed HS256 bearer tokens naming the actor, their role and (for admins) their hospital."""

    def __init__(
        self,
        secret: bytes | str,
        *,
        lifetime: dt.timedelta = dt.timedelta(hours=1),
        issuer: str = "medbook",
        audience: str = "medbook-api",
    ) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        _ensure_long_enough(key)
        if lifetime <= dt.timedelta(0):
            raise ValueError("the token lifetime must be positive")
        self._key = key
        self._lifetime = lifetime
        self._issuer = issuer
        self._audience = audience

    def issue(self, actor: Actor, now: dt.datetime) -> str:
        issued_at = _timestamp(now)
        claims: dict[str, Any] = {
            "sub": str(actor.id),
            "role": actor.role.value,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": _timestamp(now + self._lifetime),
            "iss": self._issuer,
            "aud": self._audience,
            "jti": secrets.token_urlsafe(16),
        }
        if actor.hospital_id is not None:
            claims["hid"] = actor.hospital_id
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str, now: dt.datetime) -> Actor:
        # PyJWT reads the system clock for exp, nbf and iat and offers no way to pass a time. So it
        # checks the signature (HS256 only: "none" and every other algorithm are refused), the
        # issuer, the audience and that every claim is present, and the times are compared with
        # ``now`` here — the service's clock, which the tests can stop.
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": _REQUIRED_CLAIMS,
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            raise Unauthenticated(_REFUSED) from None
        if not _current(claims, _timestamp(now)):
            raise Unauthenticated(_REFUSED)
        return _actor(claims)


def _timestamp(moment: dt.datetime) -> int:
    """Whole seconds since the epoch (a NumericDate), truncated so that ``iat`` is never ahead."""
    if moment.utcoffset() is None:
        raise ValueError("tokens need an aware datetime")
    return math.floor(moment.timestamp())


def _current(claims: dict[str, Any], now: int) -> bool:
    """Issued and valid no later than ``now``, and expiring after it (RFC 7519 §4.1.4-6)."""
    issued_at, not_before, expires = claims["iat"], claims["nbf"], claims["exp"]
    # Exactly int: not bool, float or "123", all of which PyJWT's own checks would take.
    if not all(type(t) is int for t in (issued_at, not_before, expires)):
        return False
    return bool(issued_at <= now and not_before <= now < expires)


def _actor(claims: dict[str, Any]) -> Actor:
    subject, role, hospital_id = claims["sub"], claims["role"], claims.get("hid")
    valid = (
        isinstance(subject, str)
        and subject.isascii()
        and subject.isdigit()
        and len(subject) <= len(str(MAX_ID))
        and is_id(int(subject))
        and isinstance(role, str)
        and role in {r.value for r in Role}
        and (hospital_id is None or is_id(hospital_id))
    )
    if not valid:
        raise Unauthenticated(_REFUSED)
    return Actor(int(subject), Role(role), hospital_id)


# --- throttling ----------------------------------------------------------------------------------


class MemoryThrottle:
    """Buckets kept in this process (one server, tests, demos); thread-safe: one lock makes each
    ``take`` a single step, so it either takes from every bucket or from none."""

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}
        self._lock = threading.Lock()
        self._sweep_above = 1024

    def take(self, buckets: Sequence[Bucket], now: dt.datetime) -> int | None:
        at = epoch_ms(now)
        with self._lock:
            verdicts = [throttling.take(self._tats.get(b.key), at, b.rate) for b in buckets]
            refused = next((v for v in verdicts if not v.allowed), None)
            if refused is not None:
                return refused.retry_after
            for bucket, verdict in zip(buckets, verdicts, strict=True):
                self._tats[bucket.key] = verdict.tat
            if len(self._tats) > self._sweep_above:
                self._sweep(at)
            return None

    def give_back(self, bucket: Bucket, now: dt.datetime) -> None:
        with self._lock:
            tat = self._tats.get(bucket.key)
            at = epoch_ms(now)
            returned = None if tat is None else throttling.give_back(tat, at, bucket.rate)
            if returned is None:
                self._tats.pop(bucket.key, None)
            else:
                self._tats[bucket.key] = returned

    def reset(self, key: str) -> None:
        with self._lock:
            self._tats.pop(key, None)

    def _sweep(self, now: int) -> None:
        # Buckets never used again would otherwise stay forever: forget the full ones, at a cost
        # spread over as many attempts as there are buckets left.
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        self._sweep_above = max(1024, 2 * len(self._tats))
