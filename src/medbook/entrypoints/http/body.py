"""Decoding a JSON request body: only text that means exactly one thing comes through.

``json.loads`` alone takes too much: lone surrogate escapes (``"\\ud800"``, text that cannot be
written back as UTF-8, so every later step that encodes it fails), duplicate keys (the last one
silently wins), ``NaN`` and ``Infinity`` (not JSON), numbers of thousands of digits (Python refuses
to convert them, with a ``ValueError`` nobody expects) and nesting deep enough to exhaust the
stack.
``decode_json`` refuses all of those with a ``MalformedBody`` (HTTP 400), except numbers out of any
range the API takes: those become ``OutOfRange`` values, which the converter refuses with a 422
naming the field, like any other value of the wrong kind.
"""

from __future__ import annotations

import json
import math
from typing import Any

from attrs import frozen

#: No command nests deeper than this; deeper text is refused before it reaches a converter.
MAX_DEPTH = 32
#: Digits of the longest integer literal decoded as a number (2**63 has 19): longer ones cannot be
#: any value the API takes, and Python refuses to convert more than 4,300 anyway.
MAX_INT_DIGITS = 20


class MalformedBody(Exception):
    """The body is not JSON text that means one thing; the message says why (HTTP 400)."""


@frozen
class OutOfRange:
    """A number literal beyond every range the API takes (too many digits, or not finite)."""

    text: str

    def __str__(self) -> str:
        return self.text if len(self.text) <= 24 else f"{self.text[:20]}… ({len(self.text)} chars)"


def decode_json(raw: bytes) -> Any:
    """The JSON value of ``raw``, which must be UTF-8 text; ``MalformedBody`` when it is not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedBody(f"the body is not UTF-8 text (byte {error.start})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_number,
            parse_constant=_not_json,
        )
    except RecursionError:
        raise MalformedBody(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise MalformedBody(f"the body is not valid JSON: {error}") from None
    _ensure_plain(value)
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise MalformedBody(f"the key {_shown(key)} appears twice in one object")
        value[key] = item
    return value


def _integer(text: str) -> int | OutOfRange:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return OutOfRange(text)
    return int(text)


def _number(text: str) -> float | OutOfRange:
    value = float(text)
    return value if math.isfinite(value) else OutOfRange(text)


def _not_json(name: str) -> Any:
    raise MalformedBody(f"{name} is not a JSON value")


def _ensure_plain(value: Any) -> None:
    """Every string and key encodes as UTF-8, and nothing nests deeper than ``MAX_DEPTH``.

    Iterative, so that the depth is checked without using the stack it protects.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _ensure_utf8(item)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise MalformedBody(f"the body nests deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _ensure_utf8(key)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)


def _ensure_utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise MalformedBody(
            f"a string holds a lone surrogate (U+{ord(text[error.start]):04X}), "
            "which is not a Unicode character"
        ) from None


def _shown(key: str) -> str:
    """A key as it may appear in a message: quoted, short, and encodable."""
    shown = json.dumps(key[:40])
    return shown if len(key) <= 40 else shown[:-1] + '…"'
