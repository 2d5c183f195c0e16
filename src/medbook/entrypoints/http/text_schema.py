"""The JSON Schema of a text field, derived from its domain ``TextRule``.

The pattern is made from the same predicates the rule applies (``is_forbidden``, ``is_invisible``),
so the OpenAPI document and the rule agree on every character of the Basic Multilingual Plane.
Beyond it the pattern cannot speak portably (an ECMA-262 pattern without the ``u`` flag sees
surrogate pairs), so characters outside the BMP count as allowed and visible there; the rule itself
still judges them, and only a name made of nothing but invisible supplementary characters can be
refused with a 422 that the pattern would have let through.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from medbook.domain.shared.text import TextRule, is_forbidden, is_invisible

_SURROGATES = range(0xD800, 0xE000)


def text_schema(rule: TextRule) -> dict[str, Any]:
    """``minLength``, ``maxLength`` and ``pattern`` for a field that ``rule`` checks."""
    forbidden = _forbidden_class(rule.multiline)
    if rule.required:
        blank = _blank_class(rule.multiline)
        pattern = f"^[^{forbidden}]*[^{blank}][^{forbidden}]*$"
    else:
        pattern = f"^[^{forbidden}]*$"
    return {"minLength": rule.min_length, "maxLength": rule.max_length, "pattern": pattern}


@functools.cache
def _forbidden_class(multiline: bool) -> str:
    return _character_class(lambda c: is_forbidden(c, multiline=multiline))


@functools.cache
def _blank_class(multiline: bool) -> str:
    return _character_class(lambda c: is_forbidden(c, multiline=multiline) or is_invisible(c))


def _character_class(predicate: Callable[[str], bool]) -> str:
    """The BMP characters for which ``predicate`` holds, as the inside of a ``[...]`` class."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if code in _SURROGATES or not predicate(chr(code)):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(
        f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in ranges
    )
