"""Diet recommendations from a patient's recent vital signs: a table of rules, evaluated here.

The rules and their words ship as data (``medbook/data/diet_rules.v1.json``: each rule's
condition, threshold, advice and the source of the threshold); this module only knows the kinds
of condition and how to evaluate one, so that the content can change without the code:

- ``repeated``: at least ``count`` readings of a kind (and glucose context) within the window
  whose ``field`` is at least ``at_least`` (and below ``below``, when given);
- ``repeated_any``: at least ``count`` readings where any of ``fields`` reaches its threshold
  (blood pressure: systolic >= 140 or diastolic >= 90);
- ``bmi``: the body-mass index from the latest weight and the height the patient gives, at least
  ``at_least`` and/or below ``below``.

A rule may name rules it yields to (``unless``). Each recommendation carries its reason, drawn
from the readings that met the condition. With nothing met, the default recommendation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from attrs import frozen

from medbook.domain.records.vitals import GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.errors import InvalidValue

#: The heights taken for a BMI, in centimetres.
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 40, 250


@frozen
class Recommendation:
    rule_id: str
    title: str
    advice: tuple[str, ...]
    reason: str
    source: str


@frozen
class DietRule:
    id: str
    when: Mapping[str, Any]
    title: str
    advice: tuple[str, ...]
    source: str
    unit: str = ""
    unless: tuple[str, ...] = ()


@frozen
class DietRules:
    version: str
    window: dt.timedelta
    rules: tuple[DietRule, ...]
    default: Recommendation

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DietRules:
        """The rule set of a parsed rules file; ``ValueError`` naming what is wrong."""
        try:
            rules = tuple(
                DietRule(
                    str(r["id"]),
                    dict(r["when"]),
                    str(r["title"]),
                    tuple(str(a) for a in r["advice"]),
                    str(r["source"]),
                    str(r.get("unit", "")),
                    tuple(str(u) for u in r.get("unless", ())),
                )
                for r in data["rules"]
            )
            default = data["default"]
            ruleset = cls(
                str(data["version"]),
                dt.timedelta(days=int(data["window_days"])),
                rules,
                Recommendation(
                    str(default["id"]),
                    str(default["title"]),
                    tuple(str(a) for a in default["advice"]),
                    "No reading in the last days calls for a particular diet.",
                    str(default["source"]),
                ),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"the diet rules file is malformed: {error!r}") from None
        known = {r.id for r in rules}
        for rule in rules:
            if rule.when.get("type") not in ("repeated", "repeated_any", "bmi"):
                raise ValueError(f"rule {rule.id}: unknown condition {rule.when.get('type')!r}")
            if not set(rule.unless) <= known:
                raise ValueError(f"rule {rule.id}: unless names an unknown rule")
        return ruleset


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _day(vital: VitalSign) -> str:
    return vital.measured_at.date().isoformat()


def _repeated(rule: DietRule, recent: Sequence[VitalSign]) -> str | None:
    when = rule.when
    kind = VitalKind(when["kind"])
    context = GlucoseContext(when["context"]) if when.get("context") else None
    field = str(when["field"])
    low, high = Decimal(when["at_least"]), when.get("below")
    met = [
        v
        for v in recent
        if v.kind is kind
        and (context is None or v.context is context)
        and v.values[field] >= low
        and (high is None or v.values[field] < Decimal(high))
    ]
    if len(met) < int(when["count"]):
        return None
    shown = ", ".join(f"{_number(v.values[field])} on {_day(v)}" for v in met[:5])
    what = f"{context.value.replace('_', ' ')} glucose" if context else kind.value.replace("_", " ")
    return f"{len(met)} {what} readings at or above {_number(low)} {rule.unit}: {shown}."


def _repeated_any(rule: DietRule, recent: Sequence[VitalSign]) -> str | None:
    when = rule.when
    kind = VitalKind(when["kind"])
    limits = {name: Decimal(v) for name, v in when["fields"].items()}
    met = [
        v
        for v in recent
        if v.kind is kind and any(v.values[name] >= limit for name, limit in limits.items())
    ]
    if len(met) < int(when["count"]):
        return None
    shown = ", ".join(
        "/".join(_number(v.values[name]) for name in limits) + f" on {_day(v)}" for v in met[:5]
    )
    threshold = "/".join(_number(limit) for limit in limits.values())
    return (
        f"{len(met)} {kind.value.replace('_', ' ')} readings at or above {threshold} "
        f"{rule.unit}: {shown}."
    )


def body_mass_index(weight_kg: Decimal, height_cm: int) -> Decimal:
    metres = Decimal(height_cm) / 100
    return (weight_kg / (metres * metres)).quantize(Decimal("0.1"))


def _bmi(rule: DietRule, recent: Sequence[VitalSign], height_cm: int | None) -> str | None:
    weights = [v for v in recent if v.kind is VitalKind.WEIGHT]
    if height_cm is None or not weights:
        return None
    latest = weights[0]  # newest first
    bmi = body_mass_index(latest.values["value"], height_cm)
    low, high = rule.when.get("at_least"), rule.when.get("below")
    if (low is not None and bmi < Decimal(low)) or (high is not None and bmi >= Decimal(high)):
        return None
    bounds = " and ".join(
        text
        for text in (
            f"at or above {low}" if low is not None else "",
            f"below {high}" if high is not None else "",
        )
        if text
    )
    return (
        f"A body-mass index of {bmi} {rule.unit} ({_number(latest.values['value'])} kg "
        f"on {_day(latest)}, {height_cm} cm) is {bounds}."
    )


def recommend(
    rules: DietRules,
    vitals: Sequence[VitalSign],
    now: dt.datetime,
    height_cm: int | None = None,
) -> list[Recommendation]:
    """The recommendations the patient's readings of the rules' window call for (newest
    readings first in ``vitals``), each with its reason; the default when none applies."""
    if height_cm is not None and not MIN_HEIGHT_CM <= height_cm <= MAX_HEIGHT_CM:
        raise InvalidValue(
            "height_cm", f"must be a height from {MIN_HEIGHT_CM} to {MAX_HEIGHT_CM} cm"
        )
    recent = sorted(
        (v for v in vitals if now - rules.window <= v.measured_at <= now),
        key=lambda v: v.measured_at,
        reverse=True,
    )
    reasons: dict[str, str] = {}
    for rule in rules.rules:
        kind = rule.when["type"]
        if kind == "repeated":
            reason = _repeated(rule, recent)
        elif kind == "repeated_any":
            reason = _repeated_any(rule, recent)
        else:
            reason = _bmi(rule, recent, height_cm)
        if reason is not None:
            reasons[rule.id] = reason
    chosen = [
        Recommendation(rule.id, rule.title, rule.advice, reasons[rule.id], rule.source)
        for rule in rules.rules
        if rule.id in reasons and not any(u in reasons for u in rule.unless)
    ]
    return chosen or [rules.default]
