"""Field helpers for the command, query and view classes of every context.

A field's ``metadata["schema"]`` holds JSON Schema constraints that ``openapi.py`` puts on its
schema (on the non-null branch when the field is optional). The constraints name the domain's own
limits (``PASSWORD_MIN_LENGTH``, ``MAX_QUOTA``, ``text_schema(rule)`` …), so that the document, the
HTTP schema and the domain change together; the services check the same limits again.
"""

from __future__ import annotations

from typing import Any


def schema(**constraints: Any) -> dict[str, Any]:
    """The metadata of a field whose JSON Schema carries ``constraints``:
    ``name: str = field(metadata=schema(maxLength=20))``."""
    return {"schema": constraints}
