"""The OpenAPI document is pinned: ``openapi.json`` beside this file is the document, byte for byte.

A change of the API (a path, a status, a limit, the order of the paths) shows up here as a diff of
that file, so that it is made on purpose and reviewed, never as a side effect of moving code. After
a deliberate change, write the file anew and review its diff::

    .venv/bin/python tests/integration/http/test_http_openapi_pinned.py

The text fields' patterns are made from Python's Unicode database (``text_schema``); the file holds
those of Unicode 14.0 (Python 3.11). Under another Unicode version the rest of the document is
still compared byte for byte, with those character classes left out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from medbook.entrypoints.http.app import PLAIN_ROUTES
from medbook.entrypoints.http.openapi import document
from medbook.entrypoints.http.routes import ROUTES

PINNED = Path(__file__).with_name("openapi.json")
#: The Unicode version of the character classes in ``PINNED``.
PINNED_UNICODE = "14.0.0"

#: A character class of ``\uXXXX`` escapes: one that ``text_schema`` made from the database.
_GENERATED_CLASS = re.compile(r"\[\^(?:\\u[0-9a-f]{4}(?:-\\u[0-9a-f]{4})?)+\]")


def as_text(spec: dict[str, Any]) -> str:
    """The document as the pinned file holds it: in its own key order, two-space indents."""
    return json.dumps(spec, indent=2) + "\n"


def _without_generated_classes(text: str) -> str:
    return _GENERATED_CLASS.sub("[<from the Unicode database>]", text.replace("\\\\", "\\"))


def test_the_served_document_is_the_pinned_one(openapi_document: dict[str, Any]) -> None:
    served, pinned = as_text(openapi_document), PINNED.read_text(encoding="utf-8")

    if unicodedata.unidata_version == PINNED_UNICODE:
        assert served == pinned, "the document is not the pinned one (see this module's docstring)"
    else:
        assert _without_generated_classes(served) == _without_generated_classes(pinned)


def test_the_route_table_makes_the_served_document(openapi_document: dict[str, Any]) -> None:
    assert as_text(document(ROUTES, PLAIN_ROUTES)) == as_text(openapi_document)


def test_the_pin_sees_the_order_of_the_paths(openapi_document: dict[str, Any]) -> None:
    paths = list(openapi_document["paths"].items())
    reordered = {**openapi_document, "paths": dict([paths[1], paths[0], *paths[2:]])}

    assert json.loads(as_text(reordered)) == openapi_document  # equal as values…
    assert as_text(reordered) != PINNED.read_text(encoding="utf-8")  # …but not as the pinned text


def test_the_unicode_fallback_still_sees_a_changed_limit(openapi_document: dict[str, Any]) -> None:
    pinned = PINNED.read_text(encoding="utf-8")
    changed = pinned.replace('"maximum": 500', '"maximum": 501', 1)

    assert changed != pinned
    assert _without_generated_classes(changed) != _without_generated_classes(pinned)
    assert _without_generated_classes(as_text(openapi_document)) == _without_generated_classes(
        pinned
    )


if __name__ == "__main__":
    PINNED.write_text(as_text(document(ROUTES, PLAIN_ROUTES)), encoding="utf-8")
    print(f"wrote {PINNED} (Unicode {unicodedata.unidata_version}); review its diff")
