"""Security ports: password hashing, tokens, and throttling of logins and registrations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from medbook.domain.accounts.throttling import Bucket
from medbook.domain.shared.actors import Actor


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches; False (never an exception) when it does not."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with weaker parameters than the current ones."""
        ...


class TokenService(Protocol):
    def issue(self, actor: Actor, now: dt.datetime) -> str: ...

    def verify(self, token: str, now: dt.datetime) -> Actor:
        """The actor the token was issued to; raises ``Unauthenticated`` when it is not valid."""
        ...


class Throttle(Protocol):
    """Buckets of attempts (logins, registrations) under the GCRA rule of
    ``medbook.domain.throttling``, shared by every process that uses the same store.

    Each call is its own short transaction, apart from the caller's unit of work: an attempt
    must stay counted even when the work that follows it fails.
    """

    def take(self, buckets: Sequence[Bucket], now: dt.datetime) -> int | None:
        """Take one attempt from each bucket in turn, each in one atomic step; None when every
        bucket allowed it. When one refuses, what the buckets before it took is given back and
        the answer is the whole seconds (at least 1) until that bucket allows an attempt."""
        ...

    def give_back(self, bucket: Bucket, now: dt.datetime) -> None:
        """Return one attempt taken from the bucket earlier (e.g. a login that succeeded)."""
        ...

    def reset(self, key: str) -> None:
        """Forget the bucket of ``key``: it is full again."""
        ...
