"""Security ports: password hashing, tokens, and login throttling."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from medbook.domain.accounts import Actor


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


class LoginThrottle(Protocol):
    """Counts failed logins per key (role + phone) over a sliding window."""

    def retry_after(self, key: str, now: dt.datetime) -> int | None:
        """Seconds until the key may try again, or None when it is not blocked."""
        ...

    def failed(self, key: str, now: dt.datetime) -> None: ...

    def succeeded(self, key: str) -> None: ...
