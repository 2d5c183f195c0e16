"""The text rules every free-text field follows, and birth dates (medbook.domain.text)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medbook.domain import Department, Hospital
from medbook.domain.accounts.model import Patient
from medbook.domain.shared.errors import InvalidValue
from medbook.domain.shared.text import (
    DESCRIPTION,
    PERSON_NAME,
    SPECIALTY,
    STAFF_NUMBER,
    TextRule,
    ensure_birth_date,
)

NAME = TextRule(50)

REFUSED_EVERYWHERE = {
    "NUL": "a\x00b",
    "escape": "a\x1b[31mb",
    "DEL": "a\x7fb",
    "C1 control": "a\x85b",
    "right-to-left override": "evil\u202egnp.exe",
    "left-to-right embedding": "a\u202ab",
    "first strong isolate": "a\u2068b",
    "right-to-left mark": "a\u200fb",
    "Arabic letter mark": "a\u061cb",
    "lone surrogate": "a\ud800b",
}

BLANK = {
    "empty": "",
    "spaces": "   ",
    "ideographic space": "\u3000",
    "zero-width spaces": "\u200b\u200b",
    "zero-width joiners": "\u200d\u200c",
    "byte order mark": "\ufeff",
    "combining accents": "\u0301\u0301\u0301",
    "enclosing circle": "\u20dd",
    "Hangul filler": "\u3164",
    "braille blank": "\u2800",
    "soft hyphen": "\u00ad",
    "mixed": " \u200b\u0301\u3164 ",
}


@pytest.mark.parametrize("text", REFUSED_EVERYWHERE.values(), ids=REFUSED_EVERYWHERE.keys())
@pytest.mark.parametrize("rule", [NAME, DESCRIPTION, SPECIALTY], ids=["name", "multi", "optional"])
def test_control_bidi_and_surrogates_are_refused_by_every_rule(text: str, rule: TextRule) -> None:
    with pytest.raises(InvalidValue) as caught:
        rule.check(text, "field")

    assert caught.value.field == "field"
    assert "U+" in caught.value.message


@pytest.mark.parametrize("text", BLANK.values(), ids=BLANK.keys())
def test_a_required_text_needs_a_visible_character(text: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        NAME.check(text, "name")

    assert caught.value.field == "name"


@pytest.mark.parametrize("text", ["", "\u200b"])
def test_optional_text_may_be_empty_or_blank(text: str) -> None:
    assert SPECIALTY.check(text, "specialty") == text


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        (" Cardiology ", "Cardiology"),
        ("\u3000李雷\u3000", "李雷"),
        ("  ", ""),
    ],
)
def test_spaces_around_text_are_trimmed(typed: str, kept: str) -> None:
    assert SPECIALTY.check(typed, "specialty") == kept
    assert Department(1, "Cardiology", typed).description == kept


@pytest.mark.parametrize(
    "text",
    [
        "Li Lei",
        "李雷",
        "O'Brien-Smith",
        "Zoë",
        "Ана",
        "محمد",
        "👩\u200d⚕️ Dr. Wu",
        "a\u0301",
        "x\u00a0y",
    ],
)
def test_real_names_are_accepted(text: str) -> None:
    assert NAME.check(text, "name") == unicodedata.normalize("NFC", text)


def test_text_is_normalised_to_nfc_before_it_is_measured() -> None:
    decomposed = "e\u0301" * 50  # 100 code points, 50 characters once composed

    assert NAME.check(decomposed, "name") == "\u00e9" * 50
    assert Patient(decomposed).name == "\u00e9" * 50
    with pytest.raises(InvalidValue):
        NAME.check("e\u0301" * 51, "name")


def test_only_multiline_text_holds_line_breaks_and_tabs() -> None:
    assert DESCRIPTION.check("line one\nline two\r\n\tindented", "d") == (
        "line one\nline two\r\n\tindented"
    )
    for text in ("a\nb", "a\tb", "a\u2028b"):
        with pytest.raises(InvalidValue):
            NAME.check(text, "name")


def test_the_entities_apply_the_rules_on_creation_and_on_change() -> None:
    with pytest.raises(InvalidValue) as caught:
        Hospital("Ruijin\u202e")
    assert caught.value.field == "name"
    department = Department(1, "Cardiology")
    with pytest.raises(InvalidValue) as caught:
        department.description = "ok\x00"
    assert caught.value.field == "description"
    with pytest.raises(InvalidValue):
        Department(1, "\u200b")
    assert STAFF_NUMBER.max_length == 8
    assert PERSON_NAME.max_length == 50


#: Characters the rule is about, so that examples meet them often, mixed with any others.
TRICKY = st.sampled_from(
    "\x00\t\n\x85\u00a0\u00ad\u0301\u0903\u061c\u200b\u200d\u200e\u2028\u202e\u2066"
    "\u20dd\u3000\u3164\u2800\ufeff\ue000a\u00e9e\u674e"
)


@given(
    st.one_of(st.text(TRICKY, max_size=4), st.text(st.one_of(TRICKY, st.characters()), max_size=60))
)
def test_a_name_is_accepted_exactly_when_a_model_of_the_rule_says_so(text: str) -> None:
    # The model: written from the rule's description with plain category sets, not the code.
    spaces = "".join(chr(c) for c in range(0x3001) if unicodedata.category(chr(c)) == "Zs")
    composed = unicodedata.normalize("NFC", text).strip(spaces)
    bidi = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    categories = [unicodedata.category(c) for c in composed]
    bad = any(cat in ("Cc", "Cs", "Zl", "Zp") for cat in categories) or bool(bidi & set(composed))
    shows = any(
        (cat[0] in "LNPS" or cat in ("Mc", "Co", "Cn"))
        and c not in "\u115f\u1160\u3164\uffa0\u2800"
        for c, cat in zip(composed, categories, strict=True)
    )
    expected = not bad and shows and len(composed) <= 50
    try:
        NAME.check(text, "name")
    except InvalidValue:
        accepted = False
    else:
        accepted = True
    assert accepted is expected


TODAY = dt.date(2026, 11, 25)


def test_a_birth_date_is_not_in_the_future_nor_more_than_130_years_ago() -> None:
    assert ensure_birth_date(TODAY, TODAY) == TODAY
    assert ensure_birth_date(dt.date(1896, 11, 25), TODAY) == dt.date(1896, 11, 25)
    for wrong in (TODAY + dt.timedelta(days=1), dt.date(1896, 11, 24), dt.date(1, 1, 1)):
        with pytest.raises(InvalidValue) as caught:
            ensure_birth_date(wrong, TODAY)
        assert caught.value.field == "birth_date"
    with pytest.raises(InvalidValue):
        ensure_birth_date(dt.date(9999, 12, 31), TODAY)


def test_130_years_before_a_leap_day() -> None:
    leap_day = dt.date(2028, 2, 29)

    assert ensure_birth_date(dt.date(1898, 2, 28), leap_day)
    with pytest.raises(InvalidValue):
        ensure_birth_date(dt.date(1898, 2, 27), leap_day)
