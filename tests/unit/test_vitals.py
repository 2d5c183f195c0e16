"""Vital signs: the plausibility bounds as properties against a table of the tests' own, the
fields and units of each kind, and who may read them (the patient; a doctor under an active
contract, whose every read lands in the patient's access log)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import in_memory
from medbook.domain import GeoPoint
from medbook.domain.accounts.model import Patient
from medbook.domain.records.vitals import GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import DomainError, InvalidValue

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)

#: The oracle: (kind, field) -> (low, high, decimal places), written down here on its own.
BOUNDS = {
    (VitalKind.BLOOD_PRESSURE, "systolic"): (Decimal(40), Decimal(300), 0),
    (VitalKind.BLOOD_PRESSURE, "diastolic"): (Decimal(20), Decimal(200), 0),
    (VitalKind.BLOOD_GLUCOSE, "value"): (Decimal("0.5"), Decimal(60), 1),
    (VitalKind.HEART_RATE, "value"): (Decimal(20), Decimal(300), 0),
    (VitalKind.WEIGHT, "value"): (Decimal("0.3"), Decimal(500), 1),
    (VitalKind.TEMPERATURE, "value"): (Decimal(25), Decimal(45), 1),
}
LOINC = {
    VitalKind.BLOOD_PRESSURE: "85354-9",
    VitalKind.BLOOD_GLUCOSE: "2339-0",
    VitalKind.HEART_RATE: "8867-4",
    VitalKind.WEIGHT: "29463-7",
    VitalKind.TEMPERATURE: "8310-5",
}


def measure(kind: VitalKind, values: dict[str, object], **changes: object) -> VitalSign:
    arguments: dict[str, object] = {"measured_at": NOW, "now": NOW, "context": None}
    arguments.update(changes)
    return VitalSign.measure(7, kind, values, **arguments)  # type: ignore[arg-type]


def _other_fields(kind: VitalKind, field: str) -> dict[str, object]:
    """Plausible values of the kind's other fields (a diastolic below any systolic tested)."""
    if kind is VitalKind.BLOOD_PRESSURE:
        return {"diastolic": 20} if field == "systolic" else {"systolic": 300}
    return {}


@settings(max_examples=600)
@given(
    st.sampled_from(sorted(BOUNDS, key=str)),
    st.sampled_from(["low", "high", "anywhere"]),
    st.integers(min_value=-40, max_value=40),
    st.integers(min_value=-50_000, max_value=50_000),
)
def test_a_value_is_taken_exactly_when_the_bounds_hold(
    key: tuple[VitalKind, str], edge: str, steps: int, anywhere: int
) -> None:
    """Values a few steps (of the unit's precision) around each bound, and anywhere at all."""
    kind, field = key
    low, high, places = BOUNDS[key]
    step = Decimal(1).scaleb(-places)
    value = {"low": low, "high": high}.get(edge, Decimal(0)) + step * (
        steps if edge != "anywhere" else anywhere
    )
    values = {field: float(value), **_other_fields(kind, field)}
    plausible = low <= value <= high and not (
        kind is VitalKind.BLOOD_PRESSURE
        and ((field == "systolic" and value <= 20) or (field == "diastolic" and value >= 300))
    )
    if plausible:
        assert measure(kind, values).values[field] == value
    else:
        with pytest.raises(InvalidValue) as refused:
            measure(kind, values)
        assert refused.value.field in (f"values.{field}", "values.systolic")


@given(st.sampled_from(sorted(BOUNDS, key=str)))
def test_more_decimal_places_than_the_unit_keeps_are_refused(key: tuple[VitalKind, str]) -> None:
    kind, field = key
    low, high, places = BOUNDS[key]
    value = (low + high) / 2
    too_fine = value.quantize(Decimal(1).scaleb(-places)) + Decimal(1).scaleb(-places - 1) * 3
    with pytest.raises(InvalidValue) as refused:
        measure(kind, {field: float(too_fine), **_other_fields(kind, field)})
    assert refused.value.field == f"values.{field}"


def test_systolic_above_diastolic_and_exactly_the_kinds_fields() -> None:
    with pytest.raises(InvalidValue, match="above the diastolic") as equal:
        measure(VitalKind.BLOOD_PRESSURE, {"systolic": 90, "diastolic": 90})
    assert equal.value.field == "values.systolic"
    with pytest.raises(InvalidValue) as missing:
        measure(VitalKind.BLOOD_PRESSURE, {"systolic": 120})
    assert missing.value.field == "values.diastolic"
    with pytest.raises(InvalidValue) as unknown:
        measure(VitalKind.HEART_RATE, {"value": 70, "bpm": 70})
    assert unknown.value.field == "values.bpm"
    for bad in (True, "70", None, float("nan"), float("inf")):
        with pytest.raises(InvalidValue):
            measure(VitalKind.HEART_RATE, {"value": bad})


def test_codes_units_contexts_and_times() -> None:
    for kind, code in LOINC.items():
        fields = {f: (low + high) / 2 for (k, f), (low, high, _) in BOUNDS.items() if k is kind}
        if kind is VitalKind.BLOOD_PRESSURE:
            fields = {"systolic": Decimal(120), "diastolic": Decimal(80)}
        rounded = {f: float(round(v, 0)) for f, v in fields.items()}
        assert measure(kind, rounded).loinc == code
    fasting = measure(VitalKind.BLOOD_GLUCOSE, {"value": 5.6}, context=GlucoseContext.FASTING)
    assert fasting.loinc == "1558-6"
    assert measure(VitalKind.BLOOD_GLUCOSE, {"value": 5.6}).context is GlucoseContext.RANDOM
    with pytest.raises(InvalidValue) as context:
        measure(VitalKind.WEIGHT, {"value": 60}, context=GlucoseContext.FASTING)
    assert context.value.field == "context"
    with pytest.raises(InvalidValue) as future:
        measure(VitalKind.WEIGHT, {"value": 60}, measured_at=NOW + dt.timedelta(minutes=6))
    assert future.value.field == "measured_at"
    measure(VitalKind.WEIGHT, {"value": 60}, measured_at=NOW + dt.timedelta(minutes=4))
    with pytest.raises(InvalidValue):
        measure(
            VitalKind.WEIGHT, {"value": 60}, measured_at=dt.datetime(1899, 12, 31, tzinfo=dt.UTC)
        )


def test_the_patient_and_contracted_doctors_only_read_and_every_doctor_read_is_logged() -> None:
    clock = ManualClock(NOW)
    services = in_memory(clock)
    hospital = services.directory.add_hospital("Ruijin Hospital", "", GeoPoint(31.2, 121.5))
    department = services.directory.add_department(hospital.id or 0, "General practice")
    made = services.directory.add_doctor(
        hospital.id or 0, department.id or 0, name="Dr Li", phone="13900000001"
    )
    services.directory.set_verified(made.id or 0, True)
    doctor = Actor(made.id or 0, Role.DOCTOR)
    with services.new_uow() as uow:
        ann = Actor(uow.patients.add(Patient("Ann", "13800000001")).id or 0, Role.PATIENT)
        bob = Actor(uow.patients.add(Patient("Bob", "13800000002")).id or 0, Role.PATIENT)
        uow.commit()
    health = services.health
    health.record_vital_as(ann, VitalKind.BLOOD_PRESSURE, {"systolic": 150, "diastolic": 95}, NOW)
    clock.advance(dt.timedelta(hours=1))
    health.record_vital_as(ann, VitalKind.WEIGHT, {"value": 70.5}, clock.now())

    assert [v.kind for v in health.vitals_as(ann)] == [VitalKind.WEIGHT, VitalKind.BLOOD_PRESSURE]
    assert [v.kind for v in health.vitals_as(ann, kind=VitalKind.WEIGHT)] == [VitalKind.WEIGHT]
    assert health.vitals_as(ann, start=NOW + dt.timedelta(minutes=1)) != []
    assert len(health.vitals_as(ann, end=NOW + dt.timedelta(minutes=1))) == 1

    def code(work: object) -> str:
        assert callable(work)
        with pytest.raises(DomainError) as refused:
            work()
        return refused.value.code

    assert code(lambda: health.vitals_as(bob, ann.id)) == "forbidden"
    assert code(lambda: health.vitals_as(doctor, ann.id)) == "no_contract"
    assert code(lambda: health.vitals_as(doctor)) == "invalid_value"
    assert code(lambda: health.vitals_as(Actor(1, Role.ADMIN, hospital.id), ann.id)) == "forbidden"
    assert health.access_log_as(ann) == []  # refused reads read nothing

    services.contracts.sign_as(ann, doctor.id)
    read = health.vitals_as(doctor, ann.id, kind=VitalKind.BLOOD_PRESSURE)
    assert [v.values for v in read] == [{"systolic": Decimal(150), "diastolic": Decimal(95)}]
    (entry,) = health.access_log_as(ann)
    assert (entry.reader_name, entry.entry.reader_role, entry.entry.detail["count"]) == (
        "Dr Li",
        Role.DOCTOR,
        1,
    )
    assert entry.entry.detail["kind"] == "blood_pressure"
    assert code(lambda: health.vitals_as(doctor, bob.id)) == "no_contract"
    (contract,) = services.contracts.contracts_as(ann)
    services.contracts.end_as(ann, contract.contract.id or 0)
    assert code(lambda: health.vitals_as(doctor, ann.id)) == "no_contract"
    assert code(lambda: health.access_log_as(doctor)) == "forbidden"
