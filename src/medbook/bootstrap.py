"""The composition root: reads settings, builds the adapters, hands them to the services.

Entrypoints (CLI, HTTP, chat) call ``bootstrap()`` and never import adapters themselves. Hospital
systems using medbook as a library may call it too, or wire the services by hand.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from medbook.adapters.clock import SystemClock
from medbook.adapters.memory import MemoryStore
from medbook.adapters.security import (
    Argon2Hasher,
    JwtTokens,
    MemoryLoginThrottle,
    check_jwt_secret,
)
from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql import migrate as sql_migrate
from medbook.adapters.sql.throttle import SqlLoginThrottle
from medbook.domain import BookingPolicy
from medbook.ports.clock import Clock
from medbook.ports.security import LoginThrottle, PasswordHasher, TokenService
from medbook.ports.unit_of_work import UnitOfWork
from medbook.services import BookingService, DirectoryService
from medbook.services.accounts import AccountService
from medbook.services.notifications import NotificationService

DEFAULT_DATA_DIR = Path("medbook-data")


@frozen
class Settings:
    """What an operator sets, from ``MEDBOOK_*`` environment variables (see the README)."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = field()
    #: Required to serve; ``medbook serve --demo`` makes a random one for its own run.
    jwt_secret: str | None = None
    token_ttl: dt.timedelta = dt.timedelta(hours=1)
    max_body_bytes: int = 1024 * 1024

    @database_url.default
    def _default_database(self) -> str:
        return f"sqlite:///{self.data_dir / 'medbook.sqlite3'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        data_dir = Path(environ.get("MEDBOOK_DATA_DIR", str(DEFAULT_DATA_DIR)))
        url = environ.get("MEDBOOK_DATABASE_URL") or f"sqlite:///{data_dir / 'medbook.sqlite3'}"
        ttl = int(environ.get("MEDBOOK_TOKEN_TTL_MINUTES", "60"))
        return cls(
            data_dir,
            url,
            jwt_secret=environ.get("MEDBOOK_JWT_SECRET") or None,
            token_ttl=dt.timedelta(minutes=ttl),
        )

    @property
    def is_memory(self) -> bool:
        return self.database_url == "memory://"


@define
class Services:
    """Everything an entrypoint needs, built once per process."""

    directory: DirectoryService
    booking: BookingService
    accounts: AccountService
    notifications: NotificationService
    new_uow: Callable[[], UnitOfWork]
    clock: Clock
    close: Callable[[], None] = lambda: None


def build_services(
    new_uow: Callable[[], UnitOfWork],
    clock: Clock | None = None,
    policy: BookingPolicy | None = None,
    close: Callable[[], None] = lambda: None,
    *,
    hasher: PasswordHasher | None = None,
    tokens: TokenService | None = None,
    throttle: LoginThrottle | None = None,
) -> Services:
    """Wire the services onto a unit-of-work factory (SQL, in-memory, or a hospital's own).

    Without ``tokens``, tokens are signed with a random secret that lives as long as the process:
    fine for tests and embedding, never for a deployment with several workers.
    """
    clock = clock or SystemClock()
    accounts = AccountService(
        new_uow,
        clock,
        hasher or Argon2Hasher(),
        tokens or JwtTokens(secrets.token_bytes(32)),
        throttle or MemoryLoginThrottle(),
    )
    return Services(
        directory=DirectoryService(new_uow, clock),
        booking=BookingService(new_uow, clock, policy or BookingPolicy()),
        accounts=accounts,
        notifications=NotificationService(new_uow, clock),
        new_uow=new_uow,
        clock=clock,
        close=close,
    )


def in_memory(
    clock: Clock | None = None, policy: BookingPolicy | None = None, **security: Any
) -> Services:
    """The services on an in-memory store: tests, demos, embedding without a database."""
    return build_services(MemoryStore().unit_of_work, clock, policy, **security)


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    policy: BookingPolicy | None = None,
    migrate: bool = False,
) -> Services:
    """Build the services from settings (``Settings.from_env()`` when none are given)."""
    settings = settings or Settings.from_env()
    tokens = (
        JwtTokens(settings.jwt_secret, lifetime=settings.token_ttl) if settings.jwt_secret else None
    )
    if settings.is_memory:
        return in_memory(clock, policy, tokens=tokens)
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    engine = make_engine(settings.database_url)
    if migrate:
        sql_migrate.upgrade(engine)
    elif not sql_migrate.is_up_to_date(engine):
        engine.dispose()
        raise SchemaOutOfDate(
            f"the database schema at {engine.url!r} is not up to date: run `medbook migrate`"
        )
    return build_services(
        lambda: SqlUnitOfWork(engine),
        clock,
        policy,
        close=engine.dispose,
        tokens=tokens,
        throttle=SqlLoginThrottle(engine),
    )


def migrate(settings: Settings | None = None) -> str | None:
    """Bring the configured database's schema up to date; returns the revision it is now at."""
    settings = settings or Settings.from_env()
    if settings.is_memory:
        return None
    services = bootstrap(settings, migrate=True)
    services.close()
    engine = make_engine(settings.database_url)
    try:
        return sql_migrate.current_revision(engine)
    finally:
        engine.dispose()


__all__ = ["Services", "Settings", "bootstrap", "build_services", "check_jwt_secret", "in_memory"]


class SchemaOutOfDate(RuntimeError):
    """The database needs ``medbook migrate`` before medbook can use it."""
