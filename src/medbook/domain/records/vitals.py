"""Vital signs a patient records: what each kind holds, its LOINC code and unit, and the bounds
outside which a value is not a measurement of a living person but a typing error.

The bounds are *physiological plausibility* bounds, deliberately wide: they refuse a systolic
pressure of 1200 or a temperature of 366 (a missing decimal point), never a value that a very
ill patient can really have. They follow the ranges devices and laboratories report:

- blood pressure: systolic and diastolic, mm[Hg]; LOINC 85354-9 (the panel), 8480-6 and 8462-4;
  systolic 40-300, diastolic 20-200, systolic above diastolic; whole numbers.
- blood glucose: mmol/L; LOINC 2339-0, 1558-6 when fasting; 0.5-60.0; one decimal place.
- heart rate: /min; LOINC 8867-4; 20-300; whole numbers.
- body weight: kg; LOINC 29463-7; 0.3-500.0; one decimal place.
- body temperature: Cel; LOINC 8310-5; 25.0-45.0; one decimal place.

(Home glucose meters read 0.6-33.3 mmol/L and laboratories report hyperosmolar states above 50;
neonates weigh from ~0.3 kg; survived hypothermia reaches the mid-20s °C and hyperthermia 45.)
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from attrs import define, frozen

from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import InvalidValue

#: How far in the future (clock skew of a phone) a measurement may be dated.
FUTURE_SKEW = dt.timedelta(minutes=5)
#: The oldest measurement taken (a typed year such as 0202 is an error).
OLDEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


class VitalKind(enum.Enum):
    BLOOD_PRESSURE = "blood_pressure"
    BLOOD_GLUCOSE = "blood_glucose"
    HEART_RATE = "heart_rate"
    WEIGHT = "weight"
    TEMPERATURE = "temperature"


class GlucoseContext(enum.Enum):
    FASTING = "fasting"
    AFTER_MEAL = "after_meal"
    RANDOM = "random"


@frozen
class Quantity:
    """One measured field: its LOINC code, unit, bounds (inclusive) and decimal places."""

    loinc: str
    unit: str
    low: Decimal
    high: Decimal
    places: int


@frozen
class KindRule:
    loinc: str  # the observation's code (a panel for blood pressure)
    fields: Mapping[str, Quantity]


KINDS: Mapping[VitalKind, KindRule] = {
    VitalKind.BLOOD_PRESSURE: KindRule(
        "85354-9",
        {
            "systolic": Quantity("8480-6", "mm[Hg]", Decimal(40), Decimal(300), 0),
            "diastolic": Quantity("8462-4", "mm[Hg]", Decimal(20), Decimal(200), 0),
        },
    ),
    VitalKind.BLOOD_GLUCOSE: KindRule(
        "2339-0", {"value": Quantity("2339-0", "mmol/L", Decimal("0.5"), Decimal(60), 1)}
    ),
    VitalKind.HEART_RATE: KindRule(
        "8867-4", {"value": Quantity("8867-4", "/min", Decimal(20), Decimal(300), 0)}
    ),
    VitalKind.WEIGHT: KindRule(
        "29463-7", {"value": Quantity("29463-7", "kg", Decimal("0.3"), Decimal(500), 1)}
    ),
    VitalKind.TEMPERATURE: KindRule(
        "8310-5", {"value": Quantity("8310-5", "Cel", Decimal(25), Decimal(45), 1)}
    ),
}
#: Fasting glucose has its own code.
FASTING_GLUCOSE_LOINC = "1558-6"


def _decimal(field: str, value: object, quantity: Quantity) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidValue(field, "must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidValue(field, "must be a number") from None
    if not number.is_finite():
        raise InvalidValue(field, "must be a finite number")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > quantity.places:
        places = "a whole number" if quantity.places == 0 else f"{quantity.places} decimal place"
        raise InvalidValue(field, f"give it to {places} ({quantity.unit})")
    if not quantity.low <= number <= quantity.high:
        raise InvalidValue(
            field, f"{number} {quantity.unit} is not plausible: {quantity.low} to {quantity.high}"
        )
    return number.quantize(Decimal(1).scaleb(-quantity.places))


@define(slots=False, eq=False)
class VitalSign(Entity):
    patient_id: int
    kind: VitalKind
    values: dict[str, Decimal]
    measured_at: dt.datetime
    recorded_at: dt.datetime
    context: GlucoseContext | None = None
    id: int | None = None

    @classmethod
    def measure(
        cls,
        patient_id: int,
        kind: VitalKind,
        values: Mapping[str, object],
        measured_at: dt.datetime,
        now: dt.datetime,
        context: GlucoseContext | None = None,
    ) -> VitalSign:
        """A reading, checked: exactly the kind's fields, each a plausible number in its unit
        (``values.<field>`` names a bad one), systolic above diastolic, a glucose context only
        for glucose, and a time that is not in the future."""
        rule = KINDS[kind]
        unknown = sorted(set(values) - set(rule.fields))
        if unknown:
            raise InvalidValue(f"values.{unknown[0]}", f"is not a field of {kind.value}")
        checked: dict[str, Decimal] = {}
        for name, quantity in rule.fields.items():
            if name not in values:
                raise InvalidValue(f"values.{name}", "is required")
            checked[name] = _decimal(f"values.{name}", values[name], quantity)
        if kind is VitalKind.BLOOD_PRESSURE and checked["systolic"] <= checked["diastolic"]:
            raise InvalidValue("values.systolic", "must be above the diastolic pressure")
        if kind is VitalKind.BLOOD_GLUCOSE:
            context = context or GlucoseContext.RANDOM
        elif context is not None:
            raise InvalidValue("context", "only a blood glucose reading has a context")
        if measured_at.tzinfo is None or measured_at.utcoffset() is None:
            raise InvalidValue("measured_at", "must carry its UTC offset")
        if measured_at > now + FUTURE_SKEW:
            raise InvalidValue("measured_at", "is in the future")
        if measured_at < OLDEST:
            raise InvalidValue("measured_at", "is before 1900")
        return cls(patient_id, kind, checked, measured_at, now, context)

    @property
    def loinc(self) -> str:
        if self.context is GlucoseContext.FASTING:
            return FASTING_GLUCOSE_LOINC
        return KINDS[self.kind].loinc
