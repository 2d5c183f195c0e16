"""The diet rules that ship with medbook (``medbook/data/diet_rules.v1.json``), loaded once."""

from __future__ import annotations

import functools
import json
from importlib import resources

from medbook.domain.records.diet import DietRules

RULES_FILE = "diet_rules.v1.json"


@functools.cache
def shipped_diet_rules() -> DietRules:
    text = resources.files("medbook.data").joinpath(RULES_FILE).read_text(encoding="utf-8")
    return DietRules.from_mapping(json.loads(text))
