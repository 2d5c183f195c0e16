"""FHIR search parameters: references, dates with their prefixes, tokens; and ``FhirError``.

Only what medbook's searches take is read here (see ``server.SEARCHES``); anything else in a
query is refused with a 400 naming it (strict handling: a misspelt ``patient`` must not widen a
search to everything the caller may see).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from attrs import frozen

from medbook.entrypoints.fhir.resources import local_reference, number_id

#: The date and dateTime forms FHIR search takes: a year, a month, a day, or a time of day (with
#: or without seconds and fractions, with or without an offset).
_DATE = re.compile(
    r"(?P<year>[0-9]{4})(-(?P<month>[0-9]{2})(-(?P<day>[0-9]{2})"
    r"(T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(:(?P<second>[0-9]{2})(?P<fraction>\.[0-9]{1,9})?)?"
    r"(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?"
)
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


class FhirError(Exception):
    """A request the FHIR layer refuses before it reaches a service: an unknown type, a search
    parameter it does not take, a malformed resource. ``issue``: the OperationOutcome issue type
    (``not-supported``, ``invalid``, ``not-found``, …); ``expression``: what it is about."""

    def __init__(
        self,
        status: int,
        issue: str,
        diagnostics: str,
        *,
        expression: str | None = None,
        code: str = "invalid_request",
        allow: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.issue = issue
        self.diagnostics = diagnostics
        self.expression = expression
        self.code = code
        #: A 405's methods the URL does take (its ``Allow`` header).
        self.allow = allow


def bad_parameter(name: str, message: str) -> FhirError:
    return FhirError(400, "invalid", f"{name}: {message}", expression=name)


def reference_id(name: str, value: str, resource_type: str, base_url: str = "") -> int:
    """The id in ``Type/12`` or ``12`` (or this server's absolute URL of ``Type/12``)."""
    text = value
    if "/" in text:
        local = local_reference(text, base_url)
        if local is None or local[0] != resource_type:
            raise bad_parameter(name, f"must reference a {resource_type} of this server")
        text = local[1]
    found = number_id(text)
    if found is None:
        raise bad_parameter(name, f"no {resource_type} is named {value!r}")
    return found


@frozen
class DateParam:
    """A date search value: a prefix and the range its precision covers, [lower, upper)."""

    prefix: str
    lower: dt.datetime
    upper: dt.datetime

    def matches(self, moment: dt.datetime) -> bool:
        """Whether a point in time (an appointment's or a slot's start, a measurement) is in
        the range the prefix asks for."""
        if self.prefix == "eq":
            return self.lower <= moment < self.upper
        if self.prefix == "ne":
            return not self.lower <= moment < self.upper
        if self.prefix == "gt":
            return moment >= self.upper
        if self.prefix == "ge":
            return moment >= self.lower
        if self.prefix == "lt":
            return moment < self.lower
        return moment < self.upper  # le

    @property
    def earliest(self) -> dt.datetime | None:
        """The earliest moment that may match (None: no lower bound)."""
        if self.prefix in ("eq", "ge"):
            return self.lower
        if self.prefix == "gt":
            return self.upper
        return None

    @property
    def latest(self) -> dt.datetime | None:
        """A moment before which every match lies (None: no upper bound)."""
        if self.prefix in ("eq", "le"):
            return self.upper
        if self.prefix == "lt":
            return self.lower
        return None


def date_param(name: str, value: str, tz: dt.tzinfo) -> DateParam:
    """``ge2026-12-03``, ``2026-12``, ``lt2026-12-03T14:00:00+08:00``…; a value without an
    offset is read in ``tz``."""
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    if prefix not in PREFIXES:
        raise bad_parameter(name, f"the prefix {prefix!r} is not supported (use one of {PREFIXES})")
    match = _DATE.fullmatch(text)
    if match is None:
        raise bad_parameter(name, f"{text!r} is not a FHIR date or dateTime")
    try:
        lower, upper = _range(match, tz)
    except (ValueError, OverflowError):
        raise bad_parameter(name, f"{text!r} is not a date that exists") from None
    return DateParam(prefix, lower, upper)


#: The years a search date may name: a day's margin inside Python's 1 to 9999 on either side, so
#: that no value can overflow when it is moved to another time zone.
YEARS = range(2, 9999)


def _range(match: re.Match[str], tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    year = int(match["year"])
    if year not in YEARS:
        raise ValueError("a year from 0002 to 9998")
    if match["month"] is None:
        start = dt.datetime(year, 1, 1, tzinfo=tz)
        return start, dt.datetime(year + 1, 1, 1, tzinfo=tz)
    month = int(match["month"])
    if match["day"] is None:
        start = dt.datetime(year, month, 1, tzinfo=tz)
        after = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        return start, after
    day = dt.date(year, month, int(match["day"]))
    if match["hour"] is None:
        start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    zone: dt.tzinfo = tz
    if match["zone"]:
        zone = dt.UTC if match["zone"] == "Z" else _offset(match["zone"])
    second, fraction = match["second"], (match["fraction"] or "")[1:]
    start = dt.datetime.combine(
        day,
        dt.time(
            int(match["hour"]),
            int(match["minute"]),
            int(second or 0),
            int(fraction[:6].ljust(6, "0")) if fraction else 0,
        ),
        tzinfo=zone,
    )
    if not second:
        return start, start + dt.timedelta(minutes=1)
    # The value's precision is its range: 08:00:00 is a second, 08:00:00.5 a tenth of one.
    return start, start + dt.timedelta(microseconds=10 ** (6 - min(len(fraction), 6)))


def _offset(text: str) -> dt.tzinfo:
    sign = -1 if text[0] == "-" else 1
    offset = dt.timedelta(hours=int(text[1:3]), minutes=int(text[4:6]))
    if int(text[4:6]) > 59 or offset > dt.timedelta(hours=14):
        raise ValueError("no such offset")
    return dt.timezone(sign * offset)


def date_params(name: str, values: Sequence[str], tz: dt.tzinfo) -> list[DateParam]:
    """Every value of a repeated date parameter (all must match: ``ge…&le…`` is a range)."""
    found = []
    for value in values:
        if "," in value:
            raise bad_parameter(name, "give one date per parameter (repeat it for a range)")
        found.append(date_param(name, value, tz))
    return found


def token(name: str, value: str) -> tuple[str | None, str]:
    """``system|code``, ``|code`` (no system) or ``code`` (any system)."""
    if "|" in value:
        system, _, code = value.partition("|")
        if not code:
            raise bad_parameter(name, "give a code after the bar")
        return system, code
    if not value:
        raise bad_parameter(name, "give a code")
    return None, value


def single(name: str, values: Sequence[str]) -> str:
    if len(values) != 1:
        raise bad_parameter(name, "give it once")
    return values[0]
