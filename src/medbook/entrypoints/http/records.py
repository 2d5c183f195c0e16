"""The health file over HTTP: vital signs and the access log (medical records and shares next)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from attrs import field, frozen

from medbook.domain.records.vitals import KINDS, GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.entity import MAX_ID
from medbook.entrypoints.http.api import Call, Operation, Route
from medbook.entrypoints.http.schema import schema
from medbook.services.records import AccessView

if TYPE_CHECKING:
    from medbook.bootstrap import Services

# --- commands and queries ------------------------------------------------------------------------


@frozen
class VitalValues:
    """The kind's fields: ``systolic`` and ``diastolic`` for blood pressure, else ``value``."""

    systolic: float | None = None
    diastolic: float | None = None
    value: float | None = None

    def given(self) -> dict[str, float]:
        return {
            name: number
            for name, number in (
                ("systolic", self.systolic),
                ("diastolic", self.diastolic),
                ("value", self.value),
            )
            if number is not None
        }


@frozen
class NewVital:
    kind: VitalKind
    values: VitalValues
    measured_at: dt.datetime
    #: Blood glucose only (default ``random``).
    context: GlucoseContext | None = None


@frozen
class VitalsQuery:
    #: A doctor names the patient (under an active contract); a patient reads their own.
    patient_id: int | None = field(default=None, metadata=schema(minimum=1, maximum=MAX_ID))
    kind: VitalKind | None = None
    start: dt.datetime | None = field(default=None, metadata={"name": "from"})
    to: dt.datetime | None = None


@frozen
class DietQuery:
    #: The patient's height, for a body-mass index with their latest weight.
    height_cm: int | None = field(default=None, metadata=schema(minimum=40, maximum=250))


# --- views ---------------------------------------------------------------------------------------


@frozen
class ReadingOut:
    """One field of a reading: its value, unit (UCUM) and LOINC code."""

    value: float
    unit: str
    loinc: str


@frozen
class VitalOut:
    id: int
    patient_id: int
    kind: VitalKind
    loinc: str
    values: dict[str, ReadingOut]
    context: GlucoseContext | None
    measured_at: dt.datetime
    recorded_at: dt.datetime

    @classmethod
    def of(cls, v: VitalSign) -> VitalOut:
        assert v.id is not None
        fields = KINDS[v.kind].fields
        glucose = v.kind is VitalKind.BLOOD_GLUCOSE  # fasting glucose has its own code
        values = {
            name: ReadingOut(
                float(value), fields[name].unit, v.loinc if glucose else fields[name].loinc
            )
            for name, value in v.values.items()
        }
        return cls(
            v.id, v.patient_id, v.kind, v.loinc, values, v.context, v.measured_at, v.recorded_at
        )


@frozen
class AccessOut:
    id: int
    reader_role: str
    reader_id: int
    reader_name: str | None
    kind: str
    detail: dict[str, str | int | None]
    at: dt.datetime

    @classmethod
    def of(cls, view: AccessView) -> AccessOut:
        e = view.entry
        assert e.id is not None
        return cls(
            e.id, e.reader_role.value, e.reader_id, view.reader_name, e.kind.value, e.detail, e.at
        )


@frozen
class RecommendationOut:
    id: str
    title: str
    advice: list[str]
    reason: str
    source: str


# --- handlers ------------------------------------------------------------------------------------


def record_vital(s: Services, c: Call[NewVital, None]) -> VitalOut:
    b = c.body
    vital = s.health.record_vital_as(c.me, b.kind, b.values.given(), b.measured_at, b.context)
    return VitalOut.of(vital)


def vitals(s: Services, c: Call[None, VitalsQuery]) -> list[VitalOut]:
    q = c.query
    found = s.health.vitals_as(c.me, q.patient_id, q.kind, q.start, q.to)
    return [VitalOut.of(v) for v in found]


def diet(s: Services, c: Call[None, DietQuery]) -> list[RecommendationOut]:
    found = s.health.diet_as(c.me, c.query.height_cm)
    return [
        RecommendationOut(r.rule_id, r.title, list(r.advice), r.reason, r.source) for r in found
    ]


def access_log(s: Services, c: Call[None, None]) -> list[AccessOut]:
    return [AccessOut.of(v) for v in s.health.access_log_as(c.me)]


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/vitals",
        {
            "POST": Operation(
                record_vital,
                "A patient records a vital sign",
                body=NewVital,
                status=201,
                response=VitalOut,
                errors=(403,),
                description="`values` holds the kind's fields: `systolic` and `diastolic` "
                "(mm[Hg], whole) for `blood_pressure`; `value` for `blood_glucose` (mmol/L, "
                "one decimal; `context` fasting, after_meal or random), `heart_rate` (/min, "
                "whole), `weight` (kg, one decimal), `temperature` (Cel, one decimal). A value "
                "outside its physiological bounds is a 422 naming `values.<field>`.",
            ),
            "GET": Operation(
                vitals,
                "A patient's vital signs, newest first: their own, or a contracted doctor's "
                "patient's",
                query=VitalsQuery,
                response=list[VitalOut],
                errors=(403,),
                description="A doctor names `patient_id` and needs an active contract with them "
                "(403 `no_contract` otherwise); each such read is written to the patient's "
                "access log. `from` inclusive, `to` exclusive.",
            ),
        },
        "health file",
    ),
    Route(
        "/v1/diet-recommendations",
        {
            "GET": Operation(
                diet,
                "Diet recommendations from the patient's recent vital signs",
                query=DietQuery,
                response=list[RecommendationOut],
                errors=(403,),
                description="Each recommendation with the reason drawn from the patient's "
                "readings of the last 30 days (which readings, which threshold) and the source "
                "of the threshold; with `height_cm`, the body-mass index from the latest weight "
                "counts too. A general recommendation when no reading calls for another.",
            )
        },
        "health file",
    ),
    Route(
        "/v1/records/access-log",
        {
            "GET": Operation(
                access_log,
                "Who else read the patient's health file, what and when, newest first",
                response=list[AccessOut],
                errors=(403,),
            )
        },
        "health file",
    ),
)
