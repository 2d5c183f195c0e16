"""Throttling attempts (logins, registrations): the GCRA rule, and which buckets an attempt takes.

A bucket is kept as one number, its *theoretical arrival time* (``tat``, integer epoch
milliseconds): the moment the bucket would be full again. An attempt at ``now`` is allowed when
``tat <= now + tolerance`` and then moves ``tat`` to ``max(tat, now) + interval``. A bucket with no
``tat`` (or one in the past) is full. This is the generic cell rate algorithm (GCRA, ITU-T I.371):
a token bucket of ``burst`` attempts refilled one per ``interval``, decided in one comparison so
that a store can decide it in one conditional ``UPDATE``.

Pure: times come in as arguments, never from a clock.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math

from attrs import field, frozen

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _positive(instance: object, attribute: object, value: int) -> None:
    if value < 1:
        raise ValueError("a rate needs a burst and an interval of at least 1")


@frozen
class Rate:
    """``burst`` attempts at once, then one every ``interval`` (whole milliseconds)."""

    burst: int = field(validator=_positive)
    interval_ms: int = field(validator=_positive)

    @classmethod
    def of(cls, burst: int, interval: dt.timedelta) -> Rate:
        return cls(burst, interval // dt.timedelta(milliseconds=1))

    @property
    def tolerance_ms(self) -> int:
        """How far ahead of ``now`` a bucket's ``tat`` may be and still allow an attempt."""
        return (self.burst - 1) * self.interval_ms


@frozen
class Bucket:
    """A key (e.g. ``"login:account:patient:139…"``) and the rate it is limited to."""

    key: str
    rate: Rate


@frozen
class Verdict:
    """What one attempt on a bucket comes to: allowed with the bucket's new ``tat``, or refused
    with the whole seconds (at least 1) until an attempt would be allowed."""

    allowed: bool
    tat: int
    retry_after: int = 0


def take(tat: int | None, now: int, rate: Rate) -> Verdict:
    """One attempt at ``now`` (epoch ms) on a bucket whose ``tat`` is given (None: never used)."""
    tat = now if tat is None else tat
    if tat <= now + rate.tolerance_ms:
        return Verdict(True, max(tat, now) + rate.interval_ms)
    return Verdict(False, tat, retry_after(tat, now, rate))


def retry_after(tat: int, now: int, rate: Rate) -> int:
    """Whole seconds (at least 1) until a bucket at ``tat`` allows an attempt again."""
    return max(1, math.ceil((tat - rate.tolerance_ms - now) / 1000))


def give_back(tat: int, now: int, rate: Rate) -> int | None:
    """The ``tat`` after returning one attempt taken earlier; None when the bucket is then full
    (it may be forgotten)."""
    returned = tat - rate.interval_ms
    return returned if returned > now else None


def epoch_ms(moment: dt.datetime) -> int:
    """An aware datetime as whole milliseconds since the epoch (the unit every ``tat`` is in)."""
    if moment.utcoffset() is None:
        raise ValueError("throttling needs an aware datetime")
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


# --- which buckets an attempt takes ---------------------------------------------------------------

LOGINS_PER_ACCOUNT_AND_CLIENT = Rate.of(5, dt.timedelta(minutes=3))
LOGINS_PER_CLIENT = Rate.of(50, dt.timedelta(seconds=18))
LOGINS_PER_ACCOUNT = Rate.of(100, dt.timedelta(minutes=15))
REGISTRATIONS_PER_CLIENT = Rate.of(20, dt.timedelta(minutes=3))


@frozen
class AttemptLimits:
    """The rates of logins and registrations (ASVS 5 V6.3, NIST SP 800-63B §5.2.2).

    - ``per_account_and_client``: one account from one address. A person who forgot which
      password they used gets 5 tries, then one every 3 minutes; the bucket is full again
      15 minutes after the last failure.
    - ``per_client``: failures from one address across all accounts. Hospital Wi-Fi and carrier
      NAT put many people behind one address, so it is wide: 50, refilled over 15 minutes. It
      stops one address spraying a password across many phones.
    - ``per_account``: failures from every address together, for guessing spread over many
      addresses. NIST allows at most 100 consecutive failures; after them one try every
      15 minutes, so the owner is slowed, never locked out for good.
    - ``registrations_per_client``: registrations from one address (each one can tell whether
      a phone is taken): 20 at once, then one every 3 minutes (20 an hour).

    Without a client address (a library caller) only the two per-account buckets are counted.
    """

    per_account_and_client: Rate = LOGINS_PER_ACCOUNT_AND_CLIENT
    per_client: Rate = LOGINS_PER_CLIENT
    per_account: Rate = LOGINS_PER_ACCOUNT
    registrations_per_client: Rate = REGISTRATIONS_PER_CLIENT

    def login(self, role: str, phone: str, client: str | None) -> LoginBuckets:
        account = f"{role}:{phone}"
        where = client_group(client) if client is not None else "-"
        return LoginBuckets(
            Bucket(f"login:pair:{account}@{where}", self.per_account_and_client),
            Bucket(f"login:client:{where}", self.per_client) if client is not None else None,
            Bucket(f"login:account:{account}", self.per_account),
        )

    def registration(self, client: str) -> Bucket:
        return Bucket(f"register:client:{client_group(client)}", self.registrations_per_client)


@frozen
class LoginBuckets:
    """The buckets one login attempt takes, most specific first, so that an address that is
    already refused for an account uses up neither its own nor the account's wider allowance."""

    account_and_client: Bucket
    client: Bucket | None
    account: Bucket

    @property
    def all(self) -> tuple[Bucket, ...]:
        return tuple(b for b in (self.account_and_client, self.client, self.account) if b)


def client_group(address: str) -> str:
    """The group an address is counted in: an IPv4 address itself, an IPv6 address's /64 (one
    subscriber is given a whole /64, so counting single addresses would count nothing). An
    IPv4-mapped IPv6 address is its IPv4 address; text that is no address is kept as it is."""
    try:
        parsed = ipaddress.ip_address(address.strip().split("%")[0])  # no zone: fe80::1%eth0
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


__all__ = [
    "AttemptLimits",
    "Bucket",
    "LoginBuckets",
    "Rate",
    "Verdict",
    "client_group",
    "epoch_ms",
    "give_back",
    "retry_after",
    "take",
]
