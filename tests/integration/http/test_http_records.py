"""The health file over HTTP: recording vital signs (every bound a 422 naming its field), reading
them as the patient and as a contracted doctor (whose read the patient sees in the access log),
and diet recommendations with their reasons."""

from __future__ import annotations

from typing import Any

import pytest
from http_support import World, ok, problem

NOW_LOCAL = "2026-11-25T08:00:00+08:00"  # half an hour before the world's clock


def record(world: World, body: dict[str, Any], who: str = "patient_a") -> Any:
    account = getattr(world, who)
    return world.api.post(
        "/v1/vitals", token=account.token, json={"measured_at": NOW_LOCAL, **body}
    )


def test_a_reading_comes_back_with_units_and_loinc_codes(world: World) -> None:
    made = ok(
        record(world, {"kind": "blood_pressure", "values": {"systolic": 142, "diastolic": 91}}),
        201,
    )
    assert made["loinc"] == "85354-9"
    assert made["values"] == {
        "systolic": {"value": 142, "unit": "mm[Hg]", "loinc": "8480-6"},
        "diastolic": {"value": 91, "unit": "mm[Hg]", "loinc": "8462-4"},
    }
    fasting = ok(
        record(
            world,
            {"kind": "blood_glucose", "values": {"value": 7.2}, "context": "fasting"},
        ),
        201,
    )
    assert (fasting["loinc"], fasting["values"]["value"]) == (
        "1558-6",
        {"value": 7.2, "unit": "mmol/L", "loinc": "1558-6"},
    )
    listed = ok(world.api.get("/v1/vitals", token=world.patient_a.token))
    assert [v["kind"] for v in listed] == ["blood_glucose", "blood_pressure"]
    only = ok(
        world.api.get("/v1/vitals", token=world.patient_a.token, params={"kind": "blood_pressure"})
    )
    assert [v["id"] for v in only] == [made["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"kind": "blood_pressure", "values": {"systolic": 1200, "diastolic": 80}},
            "values.systolic",
        ),
        (
            {"kind": "blood_pressure", "values": {"systolic": 80, "diastolic": 90}},
            "values.systolic",
        ),
        ({"kind": "blood_pressure", "values": {"systolic": 120}}, "values.diastolic"),
        ({"kind": "temperature", "values": {"value": 366}}, "values.value"),
        ({"kind": "temperature", "values": {"value": 36.55}}, "values.value"),
        ({"kind": "heart_rate", "values": {"value": 72.5}}, "values.value"),
        ({"kind": "weight", "values": {"value": 0}}, "values.value"),
        ({"kind": "weight", "values": {"value": 70, "systolic": 1}}, "values.systolic"),
        ({"kind": "weight", "values": {"value": 70}, "context": "fasting"}, "context"),
        ({"kind": "blood_glucose", "values": {"value": 61}}, "values.value"),
        (
            {"kind": "weight", "values": {"value": 70}, "measured_at": "2026-11-25T09:00:00+08:00"},
            "measured_at",
        ),
        (
            {"kind": "weight", "values": {"value": 70}, "measured_at": "2026-11-25T08:00:00"},
            "measured_at",
        ),
        ({"kind": "pulse", "values": {"value": 70}}, "kind"),
        ({"kind": "weight", "values": {"value": 70, "bmi": 22}}, "values.bmi"),
        ({"kind": "weight", "values": {"value": "70"}}, "values.value"),
        ({"kind": "weight", "values": {"value": -1}}, "values.value"),
    ],
)
def test_an_implausible_or_malformed_reading_is_422_naming_the_field(
    world: World, body: dict[str, Any], field: str
) -> None:
    problem(record(world, body), 422, fields={field})
    assert ok(world.api.get("/v1/vitals", token=world.patient_a.token)) == []


def test_a_contracted_doctor_reads_and_the_patient_sees_it_in_the_access_log(
    world: World,
) -> None:
    ok(record(world, {"kind": "weight", "values": {"value": 70.5}}), 201)
    ask = {"patient_id": str(world.patient_a.id)}
    refused = world.api.get("/v1/vitals", token=world.doctor.token, params=ask)
    assert problem(refused, 403)["code"] == "no_contract"
    unknown = world.api.get("/v1/vitals", token=world.doctor.token, params={"patient_id": "99999"})
    assert problem(unknown, 403)["code"] == "no_contract"  # the same answer: existence is private
    assert ok(world.api.get("/v1/records/access-log", token=world.patient_a.token)) == []

    contract = {"doctor_id": world.doctor.id}
    ok(world.api.post("/v1/contracts", token=world.patient_a.token, json=contract), 201)
    read = ok(
        world.api.get("/v1/vitals", token=world.doctor.token, params={**ask, "kind": "weight"})
    )
    assert [v["values"]["value"]["value"] for v in read] == [70.5]
    (entry,) = ok(world.api.get("/v1/records/access-log", token=world.patient_a.token))
    assert (entry["reader_role"], entry["reader_id"], entry["reader_name"], entry["kind"]) == (
        "doctor",
        world.doctor.id,
        world.doctor.name,
        "vitals",
    )
    assert entry["detail"]["kind"] == "weight" and entry["detail"]["count"] == 1
    other = world.api.get(
        "/v1/vitals", token=world.patient_b.token, params={"patient_id": str(world.patient_a.id)}
    )
    problem(other, 403)
    assert ok(world.api.get("/v1/records/access-log", token=world.patient_b.token)) == []


def test_diet_recommendations_follow_the_readings_with_their_reasons(world: World) -> None:
    (default,) = ok(world.api.get("/v1/diet-recommendations", token=world.patient_a.token))
    assert default["id"] == "balanced_diet" and default["advice"] and default["source"]
    for measured in ("2026-11-24T07:00:00+08:00", "2026-11-25T07:00:00+08:00"):
        body = {"kind": "blood_pressure", "values": {"systolic": 150, "diastolic": 95}}
        ok(record(world, {**body, "measured_at": measured}), 201)
    ok(record(world, {"kind": "weight", "values": {"value": 95}}), 201)
    found = ok(
        world.api.get(
            "/v1/diet-recommendations", token=world.patient_a.token, params={"height_cm": "175"}
        )
    )
    assert [r["id"] for r in found] == ["high_blood_pressure", "obesity"]
    assert "150/95 on 2026-11-24" in found[0]["reason"] and "5 g" in found[0]["advice"][0]
    assert "31.0" in found[1]["reason"]
    too_tall = world.api.get(
        "/v1/diet-recommendations", token=world.patient_a.token, params={"height_cm": "300"}
    )
    problem(too_tall, 422, fields={"height_cm"})
