"""The composition root: reads settings, builds the adapters, hands them to the services.

Entrypoints (CLI, HTTP, chat) call ``bootstrap()`` and never import adapters themselves. Hospital
systems using medbook as a library may call it too, or wire the services by hand.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from medbook.adapters.broker import LocalBroker, RedisBroker
from medbook.adapters.clock import SystemClock
from medbook.adapters.diet_rules import shipped_diet_rules
from medbook.adapters.images import PillowInspector
from medbook.adapters.memory import MemoryStore
from medbook.adapters.memory.storage import MemoryStorage
from medbook.adapters.payments import SandboxGateway, UnconfiguredGateway
from medbook.adapters.payments.sandbox import notification as sandbox_notification
from medbook.adapters.payments.wechat import WeChatPayGateway
from medbook.adapters.qr import QrPng
from medbook.adapters.redis_throttle import RedisThrottle
from medbook.adapters.reminder_channels import LogChannel
from medbook.adapters.security import (
    Argon2Hasher,
    JwtTokens,
    MemoryThrottle,
    check_jwt_secret,
)
from medbook.adapters.sql import SqlUnitOfWork, make_engine, make_migration_engine
from medbook.adapters.sql import migrate as sql_migrate
from medbook.adapters.sql.throttle import SqlThrottle
from medbook.adapters.storage.url import storage_from_url
from medbook.domain import BookingPolicy
from medbook.domain.accounts.throttling import AttemptLimits, Rate
from medbook.domain.booking.reminders import ReminderPolicy, clock_time
from medbook.domain.chat.rules import ChatPolicy
from medbook.domain.shared.errors import InvalidValue
from medbook.ports.broker import Broker
from medbook.ports.clock import Clock
from medbook.ports.payments import PaymentGateway
from medbook.ports.security import PasswordHasher, Throttle, TokenService
from medbook.ports.storage import ObjectStorage
from medbook.ports.unit_of_work import UnitOfWork
from medbook.services import BookingService, DirectoryService
from medbook.services.accounts import AccountService
from medbook.services.calendar import CalendarService
from medbook.services.chat import ChatService
from medbook.services.contracts import ContractService
from medbook.services.notifications import NotificationService
from medbook.services.orders import OrderService
from medbook.services.records import HealthFileService
from medbook.services.reminders import ReminderService
from medbook.services.uploads import DEFAULT_MAX_BYTES, UploadService
from medbook.services.waitlist import WaitlistService

DEFAULT_DATA_DIR = Path("medbook-data")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: This host only: where ``/metrics`` answers without a token by default.
LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


@frozen
class Settings:
    """What an operator sets, from ``MEDBOOK_*`` environment variables (see the README)."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = field()
    #: Required to serve; ``medbook serve --demo`` makes a random one for its own run.
    jwt_secret: str | None = None
    #: Where uploads go: empty for ``<data_dir>/files``, ``s3://bucket?endpoint=…`` for S3/OSS.
    storage_url: str = ""
    #: The public base URL of this API, for links to locally stored files ("" = relative links).
    public_url: str = ""
    max_upload_bytes: int = DEFAULT_MAX_BYTES
    token_ttl: dt.timedelta = dt.timedelta(hours=1)
    max_body_bytes: int = 1024 * 1024
    #: Reverse proxies whose ``X-Forwarded-For`` is believed (none: the socket's peer is the
    #: client). Only list proxies that overwrite or append to the header themselves.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    #: Web origins (``https://app.example.org``) whose browser scripts may call the API (CORS);
    #: none: browsers let no other site's script read an answer.
    cors_origins: tuple[str, ...] = ()
    #: Keep the throttle's buckets in Redis (``redis://host:6379/0``) rather than the database.
    redis_url: str = ""
    #: Prefix of medbook's keys and pub/sub channels in Redis (pub/sub ignores database numbers:
    #: two medbook installations on one Redis need two prefixes).
    redis_prefix: str = "medbook"
    #: How many logins and registrations are allowed, per account and per client address.
    attempt_limits: AttemptLimits = field(factory=AttemptLimits)
    #: ``sandbox`` (HMAC-signed notifications, keyed with ``payment_secret``) or ``wechat``.
    payment_gateway: str = "sandbox"
    #: The sandbox gateway's key; without it no payment starts and every notification is refused.
    payment_secret: str | None = None
    #: ``/metrics`` answers callers from these networks that come straight (not through a
    #: proxy), and holders of ``metrics_token`` from anywhere.
    metrics_networks: tuple[IPNetwork, ...] = LOOPBACK
    metrics_token: str | None = None
    #: ``medbook serve --demo`` only: the sandbox gateway's own payment page at
    #: ``/sandbox/pay/{payment_id}``, which completes or fails a payment by sending the signed
    #: notification the gateway would. Never set it where money is real.
    sandbox_checkout: bool = False
    #: Where browsers reach the chat server (``wss://chat.example.org/v1/chat``); the web client
    #: connects there, and its page's Content-Security-Policy allows that origin. Empty: the web
    #: client has no chat.
    chat_url: str = field(default="")
    #: When appointment reminders are due (the evening before, and before the start).
    reminder_policy: ReminderPolicy = field(factory=ReminderPolicy)
    #: How long a place freed in a full session is held for the first patient on its waitlist.
    waitlist_hold: dt.timedelta = dt.timedelta(minutes=15)

    @chat_url.validator
    def _check_chat_url(self, attribute: Any, value: str) -> None:
        check_chat_url(value)

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
            storage_url=environ.get("MEDBOOK_STORAGE_URL", ""),
            public_url=environ.get("MEDBOOK_PUBLIC_URL", "").rstrip("/"),
            max_upload_bytes=int(environ.get("MEDBOOK_MAX_UPLOAD_BYTES", str(DEFAULT_MAX_BYTES))),
            token_ttl=dt.timedelta(minutes=ttl),
            trusted_proxies=parse_networks(environ.get("MEDBOOK_TRUSTED_PROXIES", "")),
            cors_origins=parse_origins(environ.get("MEDBOOK_CORS_ORIGINS", "")),
            attempt_limits=_attempt_limits(environ),
            redis_url=environ.get("MEDBOOK_REDIS_URL", ""),
            redis_prefix=environ.get("MEDBOOK_REDIS_PREFIX", "") or "medbook",
            payment_gateway=environ.get("MEDBOOK_PAYMENT_GATEWAY", "") or "sandbox",
            payment_secret=environ.get("MEDBOOK_PAYMENT_SECRET") or None,
            metrics_networks=parse_networks(
                environ.get("MEDBOOK_METRICS_NETWORKS", ""), "MEDBOOK_METRICS_NETWORKS"
            )
            or LOOPBACK,
            metrics_token=_metrics_token(environ.get("MEDBOOK_METRICS_TOKEN", "")),
            sandbox_checkout=environ.get("MEDBOOK_SANDBOX_CHECKOUT", "") == "1",
            chat_url=environ.get("MEDBOOK_CHAT_URL", ""),
            reminder_policy=_reminder_policy(environ),
            waitlist_hold=_waitlist_hold(environ),
        )

    @property
    def is_memory(self) -> bool:
        return self.database_url == "memory://"


def _reminder_policy(environ: Mapping[str, str]) -> ReminderPolicy:
    """``MEDBOOK_REMINDER_EVENING`` (HH:MM, local; default 18:00) and
    ``MEDBOOK_REMINDER_BEFORE_MINUTES`` (15 to 720; default 120)."""
    evening = environ.get("MEDBOOK_REMINDER_EVENING", "") or "18:00"
    before = environ.get("MEDBOOK_REMINDER_BEFORE_MINUTES", "") or "120"
    try:
        at = clock_time(evening, "MEDBOOK_REMINDER_EVENING")
    except InvalidValue:
        raise ValueError(f"MEDBOOK_REMINDER_EVENING {evening!r} is not a time (HH:MM)") from None
    if not before.isascii() or not before.isdigit():
        raise ValueError(f"MEDBOOK_REMINDER_BEFORE_MINUTES {before!r} is not a whole number")
    try:
        return ReminderPolicy(at, dt.timedelta(minutes=int(before)))
    except InvalidValue as error:
        raise ValueError(f"MEDBOOK_REMINDER_BEFORE_MINUTES: {error.message}") from None


def _waitlist_hold(environ: Mapping[str, str]) -> dt.timedelta:
    """``MEDBOOK_WAITLIST_HOLD_MINUTES`` (1 to 1440; default 15)."""
    text = environ.get("MEDBOOK_WAITLIST_HOLD_MINUTES", "") or "15"
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"MEDBOOK_WAITLIST_HOLD_MINUTES {text!r} is not a whole number")
    if len(text) > 4 or not 1 <= int(text) <= 1440:
        raise ValueError("MEDBOOK_WAITLIST_HOLD_MINUTES: from 1 to 1440")
    return dt.timedelta(minutes=int(text))


def _attempt_limits(environ: Mapping[str, str]) -> AttemptLimits:
    per_hour = int(environ.get("MEDBOOK_REGISTRATIONS_PER_HOUR", "20"))
    if per_hour < 1:
        raise ValueError("MEDBOOK_REGISTRATIONS_PER_HOUR must be at least 1")
    return AttemptLimits(
        registrations_per_client=Rate.of(per_hour, dt.timedelta(hours=1) / per_hour)
    )


def parse_networks(text: str, setting: str = "MEDBOOK_TRUSTED_PROXIES") -> tuple[IPNetwork, ...]:
    """``"10.0.0.0/8, 2001:db8::1"`` as networks (an address alone is a network of one);
    raises ``ValueError`` naming the setting and an entry that is neither."""
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as error:
        raise ValueError(f"{setting}: {error}") from None


def _metrics_token(text: str) -> str | None:
    """The bearer token of ``/metrics``: none, or at least 32 characters (a guessable one would
    open the numbers to anyone)."""
    if not text:
        return None
    if len(text) < 32:
        raise ValueError("MEDBOOK_METRICS_TOKEN: use at least 32 random characters")
    return text


_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
#: An origin as browsers send it: a scheme, a lower-case host name (punycode) or IPv4 address or
#: bracketed IPv6 address, and a port only when it is not the scheme's default.
_ORIGIN = re.compile(
    rf"(?P<scheme>https?)://(?P<host>(?:{_LABEL}\.)*{_LABEL}|\[(?P<ipv6>[0-9a-f:.]+)\])"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def check_chat_url(url: str) -> str:
    """``url`` if it is a WebSocket address a browser can open (``ws://`` or ``wss://``, a host,
    a path; no user, query or fragment), else ``ValueError`` naming MEDBOOK_CHAT_URL."""
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in ("ws", "wss")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or port == -1
        or not url.isascii()
        or any(c in url for c in " \"'<>")
    ):
        raise ValueError(
            f"MEDBOOK_CHAT_URL: {url!r} is not a WebSocket address such as "
            "wss://chat.example.org/v1/chat"
        )
    return url


def parse_origins(text: str) -> tuple[str, ...]:
    """``"https://app.example.org, http://localhost:5173"`` as exact origins (see
    ``check_origins``)."""
    return check_origins(entry.strip() for entry in text.split(",") if entry.strip())


def check_origins(entries: Iterable[str]) -> tuple[str, ...]:
    """Each entry as the exact origin a browser sends (``scheme://host[:port]``, lower case);
    raises ``ValueError`` naming MEDBOOK_CORS_ORIGINS and the entry that is not one: a browser
    never sends a path, a wildcard or a default port, so such an entry would silently match nothing
    (or, for a wildcard, everything)."""
    origins: list[str] = []
    for entry in entries:
        origin = _origin(entry)
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def _origin(entry: str) -> str:
    match = _ORIGIN.fullmatch(entry.lower()) if entry.isascii() else None
    if match is None or int(match["port"] or 1) > 65535 or not _is_ipv6(match["ipv6"]):
        raise ValueError(
            f"MEDBOOK_CORS_ORIGINS: {entry!r} is not an origin: write each as "
            "scheme://host[:port] (http or https; no path, no trailing slash, no wildcard)"
        )
    if match["port"] == _DEFAULT_PORTS[match["scheme"]]:
        raise ValueError(
            f"MEDBOOK_CORS_ORIGINS: {entry!r} names its scheme's default port, which browsers "
            "leave out of the origin: write it without the port"
        )
    return match[0]


def _is_ipv6(text: str | None) -> bool:
    """True for an IPv6 address, and for no bracketed host at all (None)."""
    try:
        return text is None or bool(ipaddress.IPv6Address(text))
    except ValueError:
        return False


@define
class Services:
    """Everything an entrypoint needs, built once per process."""

    directory: DirectoryService
    booking: BookingService
    accounts: AccountService
    notifications: NotificationService
    uploads: UploadService
    chat: ChatService
    orders: OrderService
    contracts: ContractService
    health: HealthFileService
    calendar: CalendarService
    reminders: ReminderService
    waitlist: WaitlistService
    new_uow: Callable[[], UnitOfWork]
    clock: Clock
    close: Callable[[], None] = lambda: None
    #: The database pool's connections: (checked out now, open in all); (0, 0) without a pool.
    pool_use: Callable[[], tuple[int, int]] = lambda: (0, 0)


def build_services(
    new_uow: Callable[[], UnitOfWork],
    clock: Clock | None = None,
    policy: BookingPolicy | None = None,
    close: Callable[[], None] = lambda: None,
    *,
    hasher: PasswordHasher | None = None,
    tokens: TokenService | None = None,
    throttle: Throttle | None = None,
    limits: AttemptLimits | None = None,
    storage: ObjectStorage | None = None,
    max_upload_bytes: int = DEFAULT_MAX_BYTES,
    chat_policy: ChatPolicy | None = None,
    public_url: str = "",
    gateway: PaymentGateway | None = None,
    reminder_policy: ReminderPolicy | None = None,
    pool_use: Callable[[], tuple[int, int]] = lambda: (0, 0),
) -> Services:
    """Wire the services onto a unit-of-work factory (SQL, in-memory, or a hospital's own).

    Without ``tokens``, tokens are signed with a random secret that lives as long as the process:
    fine for tests and embedding, never for a deployment with several workers.
    """
    clock = clock or SystemClock()
    policy = policy or BookingPolicy()
    accounts = AccountService(
        new_uow,
        clock,
        hasher or Argon2Hasher(),
        tokens or JwtTokens(secrets.token_bytes(32)),
        throttle or MemoryThrottle(),
        limits or AttemptLimits(),
    )
    uploads = UploadService(
        new_uow,
        clock,
        storage or MemoryStorage(),
        PillowInspector(),
        max_upload_bytes,
        public_url=public_url,
    )
    chat = ChatService(
        new_uow, clock, chat_policy or ChatPolicy(), attachments=uploads.attachment_of
    )
    uploads.grants.append(chat.shares_attachment)
    waitlist = WaitlistService(new_uow, clock, policy)
    directory = DirectoryService(new_uow, clock)
    directory.schedule_changed.append(waitlist.settle_doctor)
    return Services(
        directory=directory,
        booking=BookingService(new_uow, clock, policy),
        accounts=accounts,
        notifications=NotificationService(new_uow, clock),
        uploads=uploads,
        chat=chat,
        orders=OrderService(new_uow, clock, gateway or UnconfiguredGateway()),
        contracts=ContractService(new_uow, clock),
        health=HealthFileService(
            new_uow,
            clock,
            diet=shipped_diet_rules(),
            files=uploads,
            qr=QrPng(),
            throttle=accounts.throttle,
            public_url=public_url,
        ),
        calendar=CalendarService(new_uow, clock, policy, public_url=public_url),
        reminders=ReminderService(
            new_uow, clock, policy, reminder_policy or ReminderPolicy(), LogChannel()
        ),
        waitlist=waitlist,
        new_uow=new_uow,
        clock=clock,
        close=close,
        pool_use=pool_use,
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
    policy = policy or BookingPolicy(waitlist_hold=settings.waitlist_hold)
    tokens = (
        JwtTokens(settings.jwt_secret, lifetime=settings.token_ttl) if settings.jwt_secret else None
    )
    throttle = (
        RedisThrottle.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}:throttle:")
        if settings.redis_url
        else None
    )
    gateway = payment_gateway(settings)
    if settings.is_memory:
        return in_memory(
            clock,
            policy,
            tokens=tokens,
            throttle=throttle,
            limits=settings.attempt_limits,
            max_upload_bytes=settings.max_upload_bytes,
            public_url=settings.public_url,
            gateway=gateway,
            reminder_policy=settings.reminder_policy,
        )
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    engine = make_engine(settings.database_url)
    if migrate:
        _upgrade(engine, settings.database_url)
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
        pool_use=lambda: _pool_use(engine),
        tokens=tokens,
        throttle=throttle or SqlThrottle(engine),
        limits=settings.attempt_limits,
        storage=storage_from_url(
            settings.storage_url, data_dir=settings.data_dir, public_base_url=settings.public_url
        ),
        max_upload_bytes=settings.max_upload_bytes,
        public_url=settings.public_url,
        gateway=gateway,
        reminder_policy=settings.reminder_policy,
    )


def _upgrade(engine: Any, url: str) -> None:
    """Migrate on an engine whose statements may run as long as a migration needs (SQLite: the
    same engine, which may be the only handle on an in-memory database)."""
    if engine.dialect.name == "sqlite":
        sql_migrate.upgrade(engine)
        return
    migrator = make_migration_engine(url)
    try:
        sql_migrate.upgrade(migrator)
    finally:
        migrator.dispose()


def _pool_use(engine: Any) -> tuple[int, int]:
    pool = engine.pool
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "checkedin", None)
    if checked_out is None or size is None:  # a pool that does not count (SQLite in memory)
        return (0, 0)
    return (int(checked_out()), int(checked_out()) + int(size()))


def payment_gateway(settings: Settings, environ: Mapping[str, str] = os.environ) -> PaymentGateway:
    """The gateway ``MEDBOOK_PAYMENT_GATEWAY`` names: the sandbox (keyed with
    ``MEDBOOK_PAYMENT_SECRET``; unconfigured without it) or WeChat Pay (``MEDBOOK_WECHAT_*``)."""
    if settings.payment_gateway == "sandbox":
        if not settings.payment_secret:
            return UnconfiguredGateway()
        return SandboxGateway(settings.payment_secret.encode())
    if settings.payment_gateway == "wechat":
        return WeChatPayGateway.from_env(environ)
    raise ValueError(
        f"MEDBOOK_PAYMENT_GATEWAY: {settings.payment_gateway!r} is not a gateway "
        "(sandbox or wechat)"
    )


def chat_broker(settings: Settings | None = None) -> Broker:
    """The chat server's broker: Redis pub/sub when ``MEDBOOK_REDIS_URL`` is set (several chat
    processes or hosts), else in-process (one chat process)."""
    settings = settings or Settings.from_env()
    if not settings.redis_url:
        return LocalBroker()
    return RedisBroker.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}:chat")


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


__all__ = [
    "Services",
    "Settings",
    "bootstrap",
    "build_services",
    "check_chat_url",
    "check_jwt_secret",
    "in_memory",
    "sandbox_notification",
]


class SchemaOutOfDate(RuntimeError):
    """The database needs ``medbook migrate`` before medbook can use it."""
