"""The diet rules, table-tested: which readings call for which recommendation, with which reason;
the shipped rules file is well-formed and cites a source for every threshold."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from importlib import resources

import pytest

from medbook.adapters.diet_rules import shipped_diet_rules
from medbook.domain.records.diet import DietRules, body_mass_index, recommend
from medbook.domain.records.vitals import GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.errors import InvalidValue

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def reading(
    kind: VitalKind, days_ago: float, context: GlucoseContext | None = None, **values: float
) -> VitalSign:
    return VitalSign.measure(1, kind, values, NOW - DAY * days_ago, NOW, context)


def glucose(
    value: float, days_ago: float, context: GlucoseContext = GlucoseContext.FASTING
) -> VitalSign:
    return reading(VitalKind.BLOOD_GLUCOSE, days_ago, context, value=value)


def pressure(systolic: int, diastolic: int, days_ago: float) -> VitalSign:
    return reading(VitalKind.BLOOD_PRESSURE, days_ago, systolic=systolic, diastolic=diastolic)


def weight(kg: float, days_ago: float) -> VitalSign:
    return reading(VitalKind.WEIGHT, days_ago, value=kg)


CASES = [
    ("no readings", [], None, ["balanced_diet"]),
    ("one high fasting glucose is not repeated", [glucose(7.5, 1)], None, ["balanced_diet"]),
    (
        "two high fasting glucose",
        [glucose(7.5, 1), glucose(7.0, 3)],
        None,
        ["high_fasting_glucose"],
    ),
    (
        "high ones older than 30 days do not count",
        [glucose(7.5, 1), glucose(8.0, 31)],
        None,
        ["balanced_diet"],
    ),
    (
        "after-meal readings are not fasting ones",
        [glucose(7.5, 1, GlucoseContext.AFTER_MEAL), glucose(7.5, 2, GlucoseContext.AFTER_MEAL)],
        None,
        ["balanced_diet"],
    ),
    (
        "two high after-meal",
        [glucose(11.1, 1, GlucoseContext.AFTER_MEAL), glucose(12.0, 2, GlucoseContext.AFTER_MEAL)],
        None,
        ["high_after_meal_glucose"],
    ),
    ("raised fasting", [glucose(6.1, 1), glucose(6.9, 2)], None, ["raised_fasting_glucose"]),
    (
        "raised yields to high",
        [glucose(7.1, 1), glucose(7.2, 2), glucose(6.5, 3)],
        None,
        ["high_fasting_glucose"],
    ),
    (
        "high diastolic alone",
        [pressure(130, 90, 1), pressure(128, 92, 2)],
        None,
        ["high_blood_pressure"],
    ),
    (
        "high systolic alone",
        [pressure(140, 80, 1), pressure(150, 85, 5)],
        None,
        ["high_blood_pressure"],
    ),
    ("just below", [pressure(139, 89, 1), pressure(139, 89, 2)], None, ["balanced_diet"]),
    ("obese", [weight(90.0, 1)], 175, ["obesity"]),
    ("overweight", [weight(75.0, 1)], 175, ["overweight"]),
    ("normal weight", [weight(65.0, 1)], 175, ["balanced_diet"]),
    ("underweight", [weight(50.0, 1)], 175, ["underweight"]),
    ("a weight without a height", [weight(90.0, 1)], None, ["balanced_diet"]),
    ("the latest weight decides", [weight(60.0, 1), weight(95.0, 10)], 175, ["balanced_diet"]),
    (
        "several at once",
        [
            pressure(150, 95, 1),
            pressure(145, 92, 2),
            glucose(7.4, 1),
            glucose(7.8, 2),
            weight(92.0, 3),
        ],
        170,
        ["high_fasting_glucose", "high_blood_pressure", "obesity"],
    ),
]


@pytest.mark.parametrize(
    ("vitals", "height", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_rules_table(vitals: list[VitalSign], height: int | None, expected: list[str]) -> None:
    found = recommend(shipped_diet_rules(), vitals, NOW, height)
    assert [r.rule_id for r in found] == expected
    assert all(r.advice and r.source and r.reason for r in found)


def test_the_reason_names_the_readings_and_the_threshold() -> None:
    (sodium,) = recommend(shipped_diet_rules(), [pressure(150, 95, 1), pressure(142, 88, 3)], NOW)
    assert sodium.reason == (
        "2 blood pressure readings at or above 140/90 mm[Hg]: "
        "150/95 on 2026-11-24, 142/88 on 2026-11-22."
    )
    assert "Hypertension" in sodium.source
    (sugar,) = recommend(shipped_diet_rules(), [glucose(7.2, 1), glucose(8.0, 2)], NOW)
    assert sugar.reason.startswith("2 fasting glucose readings at or above 7 mmol/L: 7.2 on")
    (calories,) = recommend(shipped_diet_rules(), [weight(90.0, 1)], NOW, 175)
    assert calories.reason == (
        "A body-mass index of 29.4 kg/m2 (90 kg on 2026-11-24, 175 cm) is at or above 28.0."
    )


def test_bmi_and_heights() -> None:
    assert body_mass_index(Decimal("70.0"), 175) == Decimal("22.9")
    for height in (39, 251):
        with pytest.raises(InvalidValue) as refused:
            recommend(shipped_diet_rules(), [], NOW, height)
        assert refused.value.field == "height_cm"


def test_the_shipped_file_is_versioned_and_every_rule_cites_its_source() -> None:
    data = json.loads(resources.files("medbook.data").joinpath("diet_rules.v1.json").read_text())
    assert data["version"] == "1"
    rules = DietRules.from_mapping(data)
    assert len(rules.rules) >= 5 and rules.window == dt.timedelta(days=30)
    for rule in rules.rules:
        assert any(s in rule.source for s in ("Guideline", "WS/T", "Chinese")), rule.id


@pytest.mark.parametrize(
    "broken",
    [
        {"version": "x"},
        {"version": "1", "window_days": 30, "default": {}, "rules": []},
        {
            "version": "1",
            "window_days": 30,
            "default": {"id": "d", "title": "t", "advice": [], "source": "s"},
            "rules": [
                {
                    "id": "r",
                    "when": {"type": "astrology"},
                    "title": "t",
                    "advice": [],
                    "source": "s",
                }
            ],
        },
        {
            "version": "1",
            "window_days": 30,
            "default": {"id": "d", "title": "t", "advice": [], "source": "s"},
            "rules": [
                {
                    "id": "r",
                    "when": {"type": "bmi"},
                    "title": "t",
                    "advice": [],
                    "source": "s",
                    "unless": ["ghost"],
                }
            ],
        },
    ],
)
def test_a_malformed_rules_file_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"rule|malformed"):
        DietRules.from_mapping(broken)
