"""The rules for text people type — names, titles, descriptions — in one place.

Every free-text field of the domain goes through a ``TextRule``:

- it is normalised to NFC, so that "é" typed as one character or as "e" + U+0301 is one name,
  and spaces around it are trimmed ("Cardiology " is "Cardiology");
- control characters (C0, DEL, C1) are refused, except tab and line breaks in multi-line text;
  so are lone surrogates and the bidirectional controls (U+202A to U+202E, U+2066 to U+2069, U+200E,
  U+200F, U+061C), which make a name display as something else than it is ("Trojan Source",
  CVE-2021-42574); line and paragraph separators are refused in single-line text;
- a required field needs at least one visible character: a name made only of spaces, zero-width
  characters, combining marks or fillers is blank, however long it is;
- the length is counted in characters after normalisation.

The HTTP layer derives the JSON Schema pattern of each field from ``is_forbidden`` and
``is_invisible``, so the document and the rule cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from attrs import frozen

from medbook.domain.shared.errors import InvalidValue

#: Bidirectional formatting controls and marks (Unicode TR 9): never part of a name.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
#: Line breaks allowed in multi-line text (besides the tab).
LINE_BREAKS = frozenset("\n\r")
#: Letters and symbols that display as nothing (Hangul fillers, the braille blank).
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Mn", "Me", "Cf", "Cc"})


def is_forbidden(character: str, *, multiline: bool = False) -> bool:
    """True for a character no text field may hold (in multi-line text, tabs and line breaks are
    allowed)."""
    if multiline and (character == "\t" or character in LINE_BREAKS):
        return False
    category = unicodedata.category(character)
    return (
        category in ("Cc", "Cs")
        or character in BIDI_CONTROLS
        or (not multiline and category in ("Zl", "Zp"))
    )


def is_invisible(character: str) -> bool:
    """True for a character that shows nothing on its own: spaces, zero-width and format
    characters, combining marks, fillers."""
    return unicodedata.category(character) in _INVISIBLE_CATEGORIES or character in _BLANK_LOOKING


@frozen
class TextRule:
    """What one kind of text field accepts: see the module's documentation."""

    max_length: int
    #: Required text needs a visible character; optional text may be empty.
    required: bool = True
    multiline: bool = False

    @property
    def min_length(self) -> int:
        return 1 if self.required else 0

    def check(self, value: str, field: str) -> str:
        """``value`` normalised to NFC and trimmed, or ``InvalidValue`` naming ``field``."""
        if not isinstance(value, str):
            raise InvalidValue(field, "must be text")
        return self.verify(nfc(value), field)

    def verify(self, text: str, field: str) -> str:
        """``check`` for text already normalised (by the ``nfc`` converter): the same refusals,
        without normalising again on every construction and assignment."""
        if not isinstance(text, str):
            raise InvalidValue(field, "must be text")
        bad = next((c for c in text if is_forbidden(c, multiline=self.multiline)), None)
        if bad is not None:
            raise InvalidValue(field, f"must not contain {_describe(bad)}")
        if self.required and all(is_invisible(c) for c in text):
            raise InvalidValue(field, "must not be blank: it needs a visible character")
        if len(text) > self.max_length:
            raise InvalidValue(field, f"at most {self.max_length} characters")
        return text

    def validator(self, field: str) -> Any:
        """An attrs validator applying this rule (pair it with ``converter=nfc``); typed ``Any``
        so that one validator serves ``str`` and ``str | None`` fields alike."""
        return _Validator(self, field)


@frozen
class _Validator:
    rule: TextRule
    field: str

    def __call__(self, instance: object, attribute: object, value: str | None) -> None:
        if value is not None:
            self.rule.verify(value, self.field)


#: What is trimmed from both ends of text: the spaces of every script (category Zs). Control
#: characters, line breaks included, are not trimmed: they are refused wherever they are.
TRIMMED = "".join(chr(code) for code in range(0x3001) if unicodedata.category(chr(code)) == "Zs")


def nfc(value: str) -> str:
    """An attrs converter: text in NFC without surrounding spaces (anything that is not text is
    left as it is, for the validator to refuse)."""
    return unicodedata.normalize("NFC", value).strip(TRIMMED) if isinstance(value, str) else value


def nfc_or_none(value: str | None) -> str | None:
    """``nfc`` for optional text."""
    return nfc(value) if value is not None else None


def _describe(character: str) -> str:
    if character in BIDI_CONTROLS:
        kind = "bidirectional control characters"
    elif unicodedata.category(character) == "Cs":
        kind = "lone surrogates"
    elif unicodedata.category(character) in ("Zl", "Zp"):
        kind = "line breaks"
    else:
        kind = "control characters"
    return f"{kind} (U+{ord(character):04X})"


# --- the rules of medbook's fields ---------------------------------------------------------------

PERSON_NAME = TextRule(50)
HOSPITAL_NAME = TextRule(200)
ADDRESS = TextRule(500, required=False)
DEPARTMENT_NAME = TextRule(100)
DESCRIPTION = TextRule(2000, required=False, multiline=True)
SPECIALTY = TextRule(200, required=False)
STAFF_NUMBER = TextRule(8)
SERVICE_NAME = TextRule(100)

# --- links ---------------------------------------------------------------------------------------

#: The longest link (an upload's URL, an image) taken.
MAX_URL_LENGTH = 2000
# An http(s) URL or a path on this host ("/…", never "//…" or "/\…", which browsers read as
# another host); printable ASCII without quotes, angle brackets or backslashes.
_LINK = re.compile(r"(?:https?://[a-z0-9.-]+(?::\d{1,5})?)?/(?![/\\])[!#-;=?-\[\]-~]*")


def is_link(value: object) -> bool:
    """An http(s) URL or a path on this host, of at most ``MAX_URL_LENGTH`` characters."""
    return isinstance(value, str) and len(value) <= MAX_URL_LENGTH and bool(_LINK.fullmatch(value))


# --- dates people type ---------------------------------------------------------------------------

#: Nobody alive is older than this: an older birth date is a typing error.
MAX_AGE_YEARS = 130


def ensure_birth_date(value: dt.date, today: dt.date, field: str = "birth_date") -> dt.date:
    """A birth date is not in the future and not more than ``MAX_AGE_YEARS`` years ago."""
    if value > today:
        raise InvalidValue(field, "must not be in the future")
    if value < _years_before(today, MAX_AGE_YEARS):
        raise InvalidValue(field, f"must be within the last {MAX_AGE_YEARS} years")
    return value


def _years_before(day: dt.date, years: int) -> dt.date:
    if day.year - years < dt.MINYEAR:
        return dt.date.min
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year - years, day=28)


# --- phone numbers -------------------------------------------------------------------------------

MOBILE_PATTERN = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII digits only (\d matches others)


def ensure_mobile(phone: str, field_name: str = "phone") -> str:
    """A mainland mobile number: 11 digits, starting 13 to 19."""
    if not MOBILE_PATTERN.fullmatch(phone):
        raise InvalidValue(
            field_name, "must be an 11-digit mainland mobile number (1[3-9]xxxxxxxxx)"
        )
    return phone
