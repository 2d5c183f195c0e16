"""The JSON boundary: one private cattrs converter, strict about types, with field-naming errors."""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.preconf.json import make_converter
from cattrs.v import format_exception

from medbook.entrypoints.http.body import OutOfRange

T = TypeVar("T")


class BodyError(Exception):
    """A request body or query that does not fit its command class; ``errors`` name the fields."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def _strict(kind: type, name: str) -> Any:
    def structure(value: Any, _: type) -> Any:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ValueError(f"must be {name}")
        return value

    return structure


INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def _int(value: Any, _: type) -> int:
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not whole and not isinstance(value, OutOfRange):
        raise ValueError("must be an integer")
    if not whole or not INT_MIN <= value <= INT_MAX:  # an OutOfRange is beyond every range
        raise ValueError(f"must be an integer from {INT_MIN} to {INT_MAX}")
    number: int = value
    return number


def _float(value: Any, _: type) -> float:
    if isinstance(value, OutOfRange):
        raise ValueError("must be a finite number within the range of a double")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("must be a finite number")
    return float(value)


def _date(value: Any, _: type) -> dt.date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date, YYYY-MM-DD")
    return dt.date.fromisoformat(value)


def _datetime(value: Any, _: type) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 timestamp with an offset")
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("must carry a UTC offset, e.g. 2026-11-25T08:00:00+08:00")
    return parsed


def _enum(value: Any, kind: type[enum.Enum]) -> enum.Enum:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise ValueError(f"must be one of {allowed}") from None


def _make() -> cattrs.Converter:
    converter = make_converter(forbid_extra_keys=True)
    converter.register_structure_hook(bool, _strict(bool, "true or false"))
    converter.register_structure_hook(int, _int)
    converter.register_structure_hook(str, _strict(str, "a string"))
    converter.register_structure_hook(float, _float)
    converter.register_structure_hook(dt.date, _date)
    converter.register_structure_hook(dt.datetime, _datetime)
    converter.register_unstructure_hook(dt.date, dt.date.isoformat)
    converter.register_unstructure_hook(dt.datetime, dt.datetime.isoformat)
    converter.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum
    )
    converter.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), lambda e: e.value
    )
    return converter


_converter = _make()

_PATH = re.compile(r"^(?P<message>.*?) @ \$(?P<path>.*)$")
_EXTRA = re.compile(r"extra fields found \((?P<names>.*)\)")


def _describe(error: BaseException, kind: type | None) -> str:
    if isinstance(error, KeyError):
        return "required field missing"
    if isinstance(error, ValueError) and error.args and isinstance(error.args[0], str):
        message = error.args[0]
        return message if message.startswith("must") else f"not valid: {message}"
    if isinstance(error, AttributeError | TypeError):
        return "must be an object" if kind is not None and attrs.has(kind) else "has the wrong type"
    return format_exception(error, kind)


def _field_errors(error: Exception) -> list[dict[str, str]]:
    errors = []
    for line in cattrs.transform_error(error, path="$", format_exception=_describe):
        match = _PATH.match(line)
        message, path = (match["message"], match["path"]) if match else (line, "")
        field = path.lstrip(".").replace("['", ".").replace("']", "") or "body"
        extra = _EXTRA.search(message)
        if extra:
            for name in extra["names"].split(", "):
                errors.append(
                    {"field": f"{field}.{name}" if path else name, "message": "unknown field"}
                )
            continue
        if message.startswith("required field missing"):
            message = "required"
        elif message.startswith("invalid value for type, expected "):
            message = "must be " + message.removeprefix("invalid value for type, expected ")
        errors.append({"field": field, "message": message})
    return errors


def structure(data: Any, cls: type[T]) -> T:
    """``data`` (parsed JSON) as an instance of ``cls``, or a ``BodyError`` naming the fields."""
    if not isinstance(data, dict):
        raise BodyError([{"field": "body", "message": "must be a JSON object"}])
    try:
        return _converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise BodyError(_field_errors(error)) from None


def unstructure(value: Any) -> Any:
    return _converter.unstructure(value)
