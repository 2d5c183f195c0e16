"""The FHIR R4 interface over HTTP: every resource valid against HL7's R4 schema, references
that resolve, searches a scheduling client makes, booking through FHIR, who may read what (and
the audit of a doctor's reads), and a CapabilityStatement that lists exactly what is served."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from attrs import frozen
from fhir_support import FHIR_JSON, RELATIVE, assert_valid, references
from http_support import FRIDAY, MONDAY, NOW, THURSDAY, Account, World, ok

from medbook.domain.shared.actors import Role

BASE = "/fhir/R4"
SHANGHAI_OFFSET = "+08:00"


@frozen
class Scene:
    """Patient A: booked Thursday morning (attended), Friday afternoon (cancelled). Patient B:
    booked Thursday morning (no-show), a family-doctor contract with the doctor, and a reading
    of each vital sign. A home-visit service of the Shanghai hospital. The clock stands at
    Thursday 09:00 in Shanghai."""

    world: World
    attended: int
    cancelled: int
    no_show: int
    vitals: dict[str, int]  # kind -> id, patient B's
    service: int


VITALS = {
    "blood_pressure": {"values": {"systolic": 128, "diastolic": 82}},
    "blood_glucose": {"values": {"value": 5.6}, "context": "fasting"},
    "heart_rate": {"values": {"value": 72}},
    "weight": {"values": {"value": 61.5}},
    "temperature": {"values": {"value": 36.6}},
}


@pytest.fixture
def scene(world: World) -> Scene:
    api = world.api
    attended = world.book(world.patient_a, THURSDAY, "morning")["id"]
    cancelled = world.book(world.patient_a, FRIDAY, "afternoon")["id"]
    ok(api.post(f"/v1/appointments/{cancelled}/cancel", token=world.patient_a.token))
    no_show = world.book(world.patient_b, THURSDAY, "morning")["id"]
    contract = {"doctor_id": world.doctor.id}
    ok(api.post("/v1/contracts", token=world.patient_b.token, json=contract), 201)
    vitals = {}
    for index, (kind, body) in enumerate(VITALS.items()):
        measured = (NOW - dt.timedelta(hours=index + 1)).isoformat()
        created = api.post(
            "/v1/vitals",
            token=world.patient_b.token,
            json={"kind": kind, "measured_at": measured, **body},
        )
        vitals[kind] = ok(created, 201)["id"]
    service = {
        "name": "Home nursing visit",
        "price_cents": 19900,
        "capacity": 5,
        "service_radius_km": 20,
        "dates": [FRIDAY.isoformat()],
    }
    made = api.post(
        f"/v1/hospitals/{world.shanghai}/services", token=world.admin.token, json=service
    )
    world.clock.advance(dt.timedelta(days=1))  # Thursday 08:30 in Shanghai
    world.clock.advance(dt.timedelta(minutes=30))
    for account, role in (
        (world.patient_a, "patient"),
        (world.patient_b, "patient"),
        (world.doctor, "doctor"),
        (world.paediatrician, "doctor"),
        (world.admin, "admin"),
    ):
        account.token = world.login(account.phone, role)  # a day on, the old tokens expired
    world.services.booking.record_attendance(world.doctor.id, attended, True)
    world.services.booking.record_attendance(world.doctor.id, no_show, False)
    return Scene(world, attended, cancelled, no_show, vitals, ok(made, 201)["id"])


def fhir(
    world: World,
    path: str,
    *,
    account: Account | None = None,
    params: dict[str, str] | None = None,
    method: str = "GET",
    body: Any = None,
    status: int = 200,
) -> Any:
    """A FHIR call, its answer checked: the status, FHIR JSON, and valid R4."""
    result = world.api.request(
        method,
        BASE + path,
        token=account.token if account else None,
        params=params,
        json=body,
        headers={"Content-Type": FHIR_JSON} if body is not None else None,
    )
    assert result.status_code == status, f"{method} {path}: {result.status} {result.text[:600]}"
    assert result.headers["content-type"].startswith(FHIR_JSON), result.headers
    resource = result.json
    assert_valid(resource)
    if status >= 400:
        assert resource["resourceType"] == "OperationOutcome"
    return resource


def outcome_code(outcome: dict[str, Any]) -> str:
    return str(outcome["issue"][0]["details"]["coding"][0]["code"])


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    found = [e["resource"] for e in bundle.get("entry", ())]
    assert bundle["total"] == len(found)
    for entry in bundle.get("entry", ()):
        resource = entry["resource"]
        assert entry["fullUrl"].endswith(f"{BASE}/{resource['resourceType']}/{resource['id']}")
    return found


def slot_of(world: World, date: dt.date, period: str) -> str:
    return f"{world.doctor.id}-{date:%Y%m%d}-{'am' if period == 'morning' else 'pm'}"


# --- what medbook emits is R4 --------------------------------------------------------------------


def every_answer(scene: Scene) -> Iterator[dict[str, Any]]:
    """A read or search of every resource type and kind medbook emits, by whom may make it."""
    w = scene.world
    a, b, doctor = w.patient_a, w.patient_b, w.doctor
    yield fhir(w, "/metadata")
    yield fhir(w, f"/Organization/{w.shanghai}")
    yield fhir(w, "/Organization")
    yield fhir(w, f"/Location/{w.shanghai}")
    yield fhir(w, f"/HealthcareService/department-{w.cardiology}")
    yield fhir(w, f"/HealthcareService/service-{scene.service}")
    yield fhir(w, f"/Practitioner/{doctor.id}")
    yield fhir(w, "/Practitioner", params={"name": "zhang"})
    yield fhir(w, f"/PractitionerRole/{doctor.id}")
    yield fhir(w, f"/Schedule/{doctor.id}")
    yield fhir(w, "/Schedule", params={"actor": f"Practitioner/{doctor.id}"})
    yield fhir(w, f"/Slot/{slot_of(w, MONDAY, 'morning')}")
    yield fhir(w, "/Slot", params={"schedule": f"Schedule/{doctor.id}"})
    for appointment, owner in ((scene.attended, a), (scene.cancelled, a), (scene.no_show, b)):
        yield fhir(w, f"/Appointment/{appointment}", account=owner)
    yield fhir(w, "/Appointment", account=a)
    yield fhir(w, "/Appointment", account=doctor)
    yield fhir(w, f"/Patient/{a.id}", account=a)
    yield fhir(w, f"/Patient/{b.id}", account=doctor)
    for vital in scene.vitals.values():
        yield fhir(w, f"/Observation/{vital}", account=b)
    yield fhir(w, "/Observation", account=doctor, params={"patient": f"Patient/{b.id}"})


def test_every_resource_medbook_emits_is_valid_r4(scene: Scene) -> None:
    kinds = {answer["resourceType"] for answer in every_answer(scene)}
    kinds |= {
        e["resource"]["resourceType"]
        for answer in every_answer(scene)
        for e in answer.get("entry", ())
    }

    assert kinds == {
        "CapabilityStatement",
        "Organization",
        "Location",
        "HealthcareService",
        "Practitioner",
        "PractitionerRole",
        "Schedule",
        "Slot",
        "Appointment",
        "Patient",
        "Observation",
        "Bundle",
    }


def test_every_operation_outcome_is_valid_r4(scene: Scene) -> None:
    w = scene.world
    for path, status, account, params in (
        ("/Nothing/1", 404, None, None),
        ("/Practitioner/999999", 404, None, None),
        ("/Practitioner/01", 404, None, None),
        ("/Slot", 400, None, {"schedule": "Schedule/1", "start": "ab2026-12-01"}),
        ("/Slot", 400, None, {"schedul": "Schedule/1"}),
        ("/Appointment", 401, None, None),
        ("/Appointment", 403, w.admin, None),
        (f"/Observation/{scene.vitals['weight']}", 404, w.patient_a, None),
    ):
        outcome = fhir(w, path, account=account, params=params, status=status)
        assert outcome["issue"][0]["severity"] == "error"


def test_every_reference_resolves_to_a_resource_of_its_type(scene: Scene) -> None:
    w = scene.world
    callers = (None, w.patient_a, w.patient_b, w.doctor)
    seen: set[str] = set()
    for answer in every_answer(scene):
        for ref in references(answer):
            if ref in seen:
                continue
            seen.add(ref)
            match = RELATIVE.fullmatch(ref)
            assert match, ref
            statuses = []
            for caller in callers:
                result = w.api.get(f"{BASE}/{ref}", token=caller.token if caller else None)
                statuses.append(result.status_code)
                if result.status_code == 200:
                    assert (result.json["resourceType"], result.json["id"]) == match.groups()
                    break
            else:
                raise AssertionError(f"{ref} does not resolve for anyone: {statuses}")
    assert {ref.split("/")[0] for ref in seen} >= {
        "Organization",
        "Location",
        "Practitioner",
        "PractitionerRole",
        "Schedule",
        "Slot",
        "Patient",
        "HealthcareService",
    }


# --- the CapabilityStatement ---------------------------------------------------------------------


#: A resource of each type the world holds, and who may read it.
def _readable(scene: Scene) -> dict[str, tuple[str, Account | None]]:
    w = scene.world
    return {
        "Organization": (str(w.shanghai), None),
        "Location": (str(w.shanghai), None),
        "HealthcareService": (f"department-{w.cardiology}", None),
        "Practitioner": (str(w.doctor.id), None),
        "PractitionerRole": (str(w.doctor.id), None),
        "Schedule": (str(w.doctor.id), None),
        "Slot": (slot_of(w, MONDAY, "morning"), None),
        "Appointment": (str(scene.attended), w.patient_a),
        "Patient": (str(w.patient_a.id), w.patient_a),
        "Observation": (str(scene.vitals["heart_rate"]), w.patient_b),
    }


#: A search of each searchable type that the world answers with something.
def _searches(scene: Scene) -> dict[str, tuple[dict[str, str], Account | None]]:
    w = scene.world
    return {
        "Organization": ({}, None),
        "Practitioner": ({"name": "Zhang"}, None),
        "Schedule": ({"actor": f"Practitioner/{w.doctor.id}"}, None),
        "Slot": ({"schedule": f"Schedule/{w.doctor.id}"}, None),
        "Appointment": ({}, w.patient_a),
        "Observation": ({}, w.patient_b),
    }


def test_the_capability_statement_lists_exactly_what_is_served(scene: Scene) -> None:
    w = scene.world
    statement = fhir(w, "/metadata")
    assert statement["fhirVersion"] == "4.0.1" and statement["format"] == ["json"]
    (rest,) = statement["rest"]
    listed = {r["type"]: r for r in rest["resource"]}
    readable, searches = _readable(scene), _searches(scene)

    assert set(listed) == set(readable)
    for kind, entry in listed.items():
        interactions = {i["code"] for i in entry["interaction"]}
        resource_id, reader = readable[kind]
        assert "read" in interactions
        assert fhir(w, f"/{kind}/{resource_id}", account=reader)["id"] == resource_id
        params = {p["name"] for p in entry.get("searchParam", ())}
        if "search-type" in interactions:
            query, searcher = searches[kind]
            assert set(query) <= params
            assert entries(fhir(w, f"/{kind}", account=searcher, params=query)), kind
            outcome = fhir(w, f"/{kind}", params={"_unknown": "1"}, account=searcher, status=400)
            assert outcome_code(outcome) == "unknown_search_parameter"
        else:
            assert kind not in searches and not params
            outcome = fhir(w, f"/{kind}", status=405)
            assert outcome_code(outcome) == "not_searchable"
        if "create" in interactions:
            assert kind == "Appointment"
        else:
            body = {"resourceType": kind}
            outcome = fhir(w, f"/{kind}", account=w.patient_a, method="POST", body=body, status=405)
            assert outcome_code(outcome) == "not_creatable"
    for missing in ("Encounter", "Bundle", "metadata2", "appointment"):
        assert outcome_code(fhir(w, f"/{missing}/1", status=404)) == "unknown_resource_type"


# --- scheduling: search, then book ---------------------------------------------------------------


def test_a_scheduling_client_searches_then_books_a_free_slot(world: World) -> None:
    found = entries(fhir(world, "/Practitioner", params={"name": "Zhang Wei"}))
    assert [p["id"] for p in found] == [str(world.doctor.id)]
    (schedule,) = entries(
        fhir(world, "/Schedule", params={"actor": f"Practitioner/{world.doctor.id}"})
    )
    slots = entries(
        fhir(
            world,
            "/Slot",
            params={
                "schedule": f"Schedule/{schedule['id']}",
                "start": f"ge{MONDAY.isoformat()}",
                "status": "free",
            },
        )
    )
    first = slots[0]
    assert first["id"] == slot_of(world, MONDAY, "morning")
    assert (first["start"], first["end"]) == (
        f"{MONDAY}T08:00:00{SHANGHAI_OFFSET}",
        f"{MONDAY}T12:00:00{SHANGHAI_OFFSET}",
    )
    proposed = {
        "resourceType": "Appointment",
        "status": "proposed",
        "slot": [{"reference": f"Slot/{first['id']}"}],
        "participant": [
            {"actor": {"reference": f"Patient/{world.patient_a.id}"}, "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{world.doctor.id}"}, "status": "needs-action"},
        ],
    }
    result = world.api.request(
        "POST",
        f"{BASE}/Appointment",
        token=world.patient_a.token,
        json=proposed,
        headers={"Content-Type": FHIR_JSON},
    )

    assert result.status_code == 201, result.text
    booked = result.json
    assert_valid(booked)
    assert result.headers["location"].endswith(f"{BASE}/Appointment/{booked['id']}")
    assert booked["status"] == "booked"
    assert booked["slot"] == [{"reference": f"Slot/{first['id']}"}]
    assert (booked["start"], booked["end"]) == (first["start"], first["end"])
    v1 = ok(world.api.get(f"/v1/appointments/{booked['id']}", token=world.patient_a.token))
    assert (v1["date"], v1["period"], v1["status"]) == (MONDAY.isoformat(), "morning", "booked")
    after = fhir(world, f"/Slot/{first['id']}")
    assert after["comment"] == "1 of 2 places left"
    mine = entries(fhir(world, "/Appointment", account=world.patient_a))
    assert [a["id"] for a in mine] == [booked["id"]]


def test_a_full_slot_is_busy_and_booking_it_is_refused_with_medbooks_code(world: World) -> None:
    slot = slot_of(world, THURSDAY, "afternoon")  # one place
    world.book(world.patient_b, THURSDAY, "afternoon")

    assert fhir(world, f"/Slot/{slot}")["status"] == "busy"
    free = entries(
        fhir(world, "/Slot", params={"schedule": str(world.doctor.id), "status": "free"})
    )
    assert slot not in [s["id"] for s in free]
    busy = entries(
        fhir(world, "/Slot", params={"schedule": str(world.doctor.id), "status": "busy"})
    )
    assert [s["id"] for s in busy] == [slot]
    outcome = fhir(
        world,
        "/Appointment",
        method="POST",
        account=world.patient_a,
        body=_proposal(world, slot, world.patient_a),
        status=409,
    )
    assert outcome_code(outcome) == "session_full"
    assert outcome["issue"][0]["code"] == "conflict"


def _proposal(world: World, slot: str, patient: Account) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "proposed",
        "slot": [{"reference": f"Slot/{slot}"}],
        "participant": [{"actor": {"reference": f"Patient/{patient.id}"}}],
    }


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        (lambda p: {**p, "resourceType": "Patient"}, 400, "resourceType"),
        (lambda p: {**p, "status": "fulfilled"}, 422, "Appointment.status"),
        (lambda p: {k: v for k, v in p.items() if k != "slot"}, 422, "Appointment.slot"),
        (lambda p: {**p, "slot": [{"reference": "Slot/1-20261301-am"}]}, 422, "Appointment.slot"),
        (lambda p: {**p, "slot": [{"reference": "Schedule/1"}]}, 422, "Appointment.slot"),
        (lambda p: {**p, "participant": []}, 422, "Appointment.participant"),
        (lambda p: {**p, "participant": [{"actor": {}}]}, 422, "Appointment.participant.actor"),
        (
            lambda p: {
                **p,
                "participant": [*p["participant"], {"actor": {"reference": "Patient/9"}}],
            },
            403,
            "Appointment.participant.actor",
        ),
        (
            lambda p: {
                **p,
                "participant": [*p["participant"], {"actor": {"reference": "Practitioner/99"}}],
            },
            422,
            "Appointment.participant.actor",
        ),
    ],
)
def test_a_malformed_proposal_is_refused_naming_what_is_wrong(
    world: World, change: Any, status: int, expression: str
) -> None:
    body = change(_proposal(world, slot_of(world, MONDAY, "morning"), world.patient_a))

    outcome = fhir(
        world, "/Appointment", method="POST", account=world.patient_a, body=body, status=status
    )

    assert outcome["issue"][0]["expression"] == [expression]
    assert world.remaining(MONDAY, "morning") == 2


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", FHIR_JSON, 400),
        (b'{"resourceType": "Appointment"}', "text/plain", 415),
        (b"[1, 2]", "application/json", 400),
        (b'{"resourceType": "Appointment", "status": "proposed", "a": "\\ud800"}', FHIR_JSON, 400),
    ],
)
def test_a_body_that_is_not_a_fhir_resource_is_an_operation_outcome(
    world: World, body: bytes, content_type: str, status: int
) -> None:
    result = world.api.request(
        "POST",
        f"{BASE}/Appointment",
        token=world.patient_a.token,
        body=body,
        content_type=content_type,
    )

    assert result.status_code == status, result.text
    assert result.json["resourceType"] == "OperationOutcome"
    assert_valid(result.json)


def test_slots_are_searched_by_their_start_in_the_hospitals_zone(world: World) -> None:
    def slot_ids(**params: str) -> list[str]:
        query = {"schedule": f"Schedule/{world.doctor.id}", **params}
        return [s["id"] for s in entries(fhir(world, "/Slot", params=query))]

    everything = slot_ids()
    # Wednesday 08:30 in Shanghai: this morning has started, this afternoon is open; Sundays off.
    assert everything[0] == slot_of(world, NOW.date(), "afternoon")
    assert slot_of(world, MONDAY - dt.timedelta(days=1), "morning") not in everything
    assert slot_ids(start=THURSDAY.isoformat()) == [
        slot_of(world, THURSDAY, "morning"),
        slot_of(world, THURSDAY, "afternoon"),
    ]
    assert slot_ids(**{"start": f"ge{THURSDAY}T13:00"})[0] == slot_of(world, THURSDAY, "afternoon")
    between = [
        s["id"]
        for s in entries(
            fhir(
                world,
                "/Slot",
                params={"schedule": str(world.doctor.id), "start": f"gt{THURSDAY}"},
            )
        )
    ]
    assert between[0] == slot_of(world, FRIDAY, "morning")
    assert slot_ids(start=f"lt{THURSDAY}") == [slot_of(world, NOW.date(), "afternoon")]
    # 05:30 UTC is 13:30 in Shanghai: the afternoon starts then.
    assert slot_ids(start=f"{THURSDAY}T05:30:00Z") == [slot_of(world, THURSDAY, "afternoon")]
    assert slot_ids(start="2030-01") == []


def test_a_search_names_the_parameter_it_cannot_read(world: World) -> None:
    for params, name in (
        ({"schedule": "Schedule/x"}, "schedule"),
        ({"schedule": "Practitioner/1"}, "schedule"),
        ({"schedule": "1", "start": "2026-13-01"}, "start"),
        ({"schedule": "1", "start": "ap2026-12-01"}, "start"),
        ({"schedule": "1", "status": "waitlist"}, "status"),
        ({"start": "2026-12-01"}, "schedule"),
    ):
        outcome = fhir(world, "/Slot", params=params, status=400)
        assert outcome["issue"][0]["expression"] == [name], (params, outcome)
    outcome = fhir(world, "/Practitioner", params={"name": "\u0000x"}, status=400)
    assert outcome["issue"][0]["expression"] == ["name"]


def test_practitioners_are_found_by_the_start_of_their_name_or_a_word_of_it(world: World) -> None:
    def names(text: str) -> list[str]:
        found = entries(fhir(world, "/Practitioner", params={"name": text}))
        return [p["name"][0]["text"] for p in found]

    assert names("zhang") == ["Zhang Wei"]
    assert names("WEI") == ["Zhang Wei"]
    assert names("ei") == []
    assert names("%") == [] and names("_") == []
    assert sorted(names("Chen") + names("Liu")) == ["Chen Jie", "Liu Yang"]


def test_appointments_are_searched_by_patient_practitioner_date_and_status(scene: Scene) -> None:
    w = scene.world

    def ids(account: Account, **params: str) -> list[str]:
        return [a["id"] for a in entries(fhir(w, "/Appointment", account=account, params=params))]

    assert sorted(ids(w.patient_a)) == sorted([str(scene.attended), str(scene.cancelled)])
    assert ids(w.patient_a, status="cancelled") == [str(scene.cancelled)]
    assert ids(w.patient_a, date=THURSDAY.isoformat()) == [str(scene.attended)]
    assert ids(w.patient_a, date=f"ge{FRIDAY}") == [str(scene.cancelled)]
    assert ids(w.doctor, patient=f"Patient/{w.patient_b.id}") == [str(scene.no_show)]
    assert sorted(ids(w.doctor, date=str(THURSDAY), status="fulfilled,noshow")) == sorted(
        [str(scene.attended), str(scene.no_show)]
    )
    statuses = {a["id"]: a["status"] for a in entries(fhir(w, "/Appointment", account=w.doctor))}
    assert statuses == {
        str(scene.attended): "fulfilled",
        str(scene.cancelled): "cancelled",
        str(scene.no_show): "noshow",
    }
    cancelled = fhir(w, f"/Appointment/{scene.cancelled}", account=w.patient_a)
    assert cancelled["cancelationReason"]["coding"][0]["code"] == "pat"
    assert "display" not in cancelled["participant"][0]["actor"]  # the patient's own name
    to_doctor = fhir(w, f"/Appointment/{scene.no_show}", account=w.doctor)
    assert to_doctor["participant"][0]["actor"]["display"] == w.patient_b.name


def test_observations_are_vital_signs_with_loinc_codes_and_ucum_units(scene: Scene) -> None:
    w = scene.world
    pressure = fhir(w, f"/Observation/{scene.vitals['blood_pressure']}", account=w.patient_b)
    assert pressure["code"]["coding"][0]["code"] == "85354-9" and "valueQuantity" not in pressure
    assert [
        (c["code"]["coding"][0]["code"], c["valueQuantity"]["value"], c["valueQuantity"]["code"])
        for c in pressure["component"]
    ] == [("8480-6", 128, "mm[Hg]"), ("8462-4", 82, "mm[Hg]")]
    glucose = fhir(w, f"/Observation/{scene.vitals['blood_glucose']}", account=w.patient_b)
    assert glucose["code"]["coding"][0]["code"] == "1558-6"
    assert glucose["valueQuantity"] == {
        "value": 5.6,
        "unit": "mmol/L",
        "system": "http://unitsofmeasure.org",
        "code": "mmol/L",
    }
    temperature = fhir(w, f"/Observation/{scene.vitals['temperature']}", account=w.patient_b)
    assert (temperature["valueQuantity"]["value"], temperature["valueQuantity"]["code"]) == (
        36.6,
        "Cel",
    )

    def codes(**params: str) -> list[str]:
        found = entries(fhir(w, "/Observation", account=w.patient_b, params=params))
        return [o["code"]["coding"][0]["code"] for o in found]

    assert codes(code="http://loinc.org|8867-4") == ["8867-4"]
    assert codes(code="8480-6") == ["85354-9"]  # a component finds its panel
    assert sorted(codes(code="8867-4,29463-7")) == ["29463-7", "8867-4"]
    assert codes(date=f"ge{(NOW - dt.timedelta(hours=2, minutes=30)).isoformat()}") == [
        "85354-9",
        "1558-6",
    ]
    outcome = fhir(w, "/Observation", account=w.patient_b, params={"code": "1234-5"}, status=400)
    assert outcome["issue"][0]["expression"] == ["code"]


def test_a_doctors_reads_of_observations_need_a_contract_and_are_audited(scene: Scene) -> None:
    w = scene.world
    before = ok(w.api.get("/v1/records/access-log", token=w.patient_b.token))

    fhir(w, "/Observation", account=w.doctor, params={"patient": f"Patient/{w.patient_b.id}"})
    fhir(w, f"/Observation/{scene.vitals['weight']}", account=w.doctor)
    outsider = fhir(
        w,
        "/Observation",
        account=w.paediatrician,
        params={"patient": f"Patient/{w.patient_b.id}"},
        status=403,
    )
    fhir(w, f"/Observation/{scene.vitals['weight']}", account=w.paediatrician, status=404)

    after = ok(w.api.get("/v1/records/access-log", token=w.patient_b.token))
    assert outcome_code(outsider) == "no_contract"
    new = after[: len(after) - len(before)]
    assert len(new) == 2
    assert all(e["kind"] == "vitals" and e["reader_id"] == w.doctor.id for e in new), new
    assert ok(w.api.get("/v1/records/access-log", token=w.patient_a.token)) == []


# --- who may read what ---------------------------------------------------------------------------

CALLERS = ("anonymous", "patient_a", "patient_b", "doctor", "paediatrician", "admin")


def _caller(world: World, name: str) -> Account | None:
    return None if name == "anonymous" else getattr(world, name)


def _matrix(scene: Scene) -> list[tuple[str, dict[str, str] | None, tuple[int, ...]]]:
    """(path, query, statuses in the order of CALLERS): the doctor has patient B under contract
    and both patients booked with them; the paediatrician has neither."""
    w = scene.world
    public = (200,) * 6
    a, b = w.patient_a.id, w.patient_b.id
    return [
        ("/metadata", None, public),
        (f"/Organization/{w.shanghai}", None, public),
        ("/Organization", None, public),
        (f"/Location/{w.shanghai}", None, public),
        (f"/HealthcareService/department-{w.cardiology}", None, public),
        (f"/HealthcareService/service-{scene.service}", None, public),
        (f"/Practitioner/{w.doctor.id}", None, public),
        ("/Practitioner", {"name": "zh"}, public),
        (f"/PractitionerRole/{w.doctor.id}", None, public),
        (f"/Schedule/{w.doctor.id}", None, public),
        ("/Schedule", {"actor": f"Practitioner/{w.doctor.id}"}, public),
        (f"/Slot/{slot_of(w, MONDAY, 'morning')}", None, public),
        ("/Slot", {"schedule": f"Schedule/{w.doctor.id}"}, public),
        (f"/Appointment/{scene.attended}", None, (401, 200, 404, 200, 404, 403)),
        ("/Appointment", None, (401, 200, 200, 200, 200, 403)),
        ("/Appointment", {"patient": f"Patient/{a}"}, (401, 200, 403, 200, 200, 403)),
        (
            "/Appointment",
            {"practitioner": f"Practitioner/{w.doctor.id}"},
            (401, 200, 200, 200, 403, 403),
        ),
        (f"/Patient/{a}", None, (401, 200, 404, 404, 404, 403)),
        (f"/Patient/{b}", None, (401, 404, 200, 200, 404, 403)),
        (f"/Observation/{scene.vitals['weight']}", None, (401, 404, 200, 200, 404, 403)),
        ("/Observation", None, (401, 200, 200, 400, 400, 403)),
        ("/Observation", {"patient": f"Patient/{b}"}, (401, 403, 200, 200, 403, 403)),
        ("/Observation", {"patient": f"Patient/{a}"}, (401, 200, 403, 403, 403, 403)),
    ]


def test_who_may_read_and_search_what(scene: Scene) -> None:
    w = scene.world
    for path, params, expected in _matrix(scene):
        for caller, status in zip(CALLERS, expected, strict=True):
            account = _caller(w, caller)
            answer = fhir(w, path, account=account, params=params, status=status)
            if status == 200 and caller not in ("patient_a", "doctor"):
                assert w.patient_a.name not in str(answer), (caller, path)
                assert w.patient_a.phone not in str(answer), (caller, path)
            if status == 200 and caller not in ("patient_b", "doctor"):
                assert w.patient_b.name not in str(answer), (caller, path)
                assert w.patient_b.phone not in str(answer), (caller, path)


def test_only_the_patient_sees_their_phone_number(scene: Scene) -> None:
    w = scene.world
    own = fhir(w, f"/Patient/{w.patient_b.id}", account=w.patient_b)
    to_doctor = fhir(w, f"/Patient/{w.patient_b.id}", account=w.doctor)

    assert own["telecom"] == [{"system": "phone", "value": w.patient_b.phone, "use": "mobile"}]
    assert "telecom" not in to_doctor
    assert to_doctor["name"] == [{"use": "official", "text": w.patient_b.name}]


def test_a_token_that_is_sent_must_be_valid_even_for_public_reads(world: World) -> None:
    result = world.api.request(
        "GET", f"{BASE}/Practitioner/{world.doctor.id}", headers={"Authorization": "Bearer nope"}
    )

    assert result.status_code == 401
    assert result.headers["www-authenticate"].startswith("Bearer")
    assert result.json["issue"][0]["code"] == "login"


def test_an_unverified_doctor_is_no_practitioner(world: World) -> None:
    newcomer = world.register_doctor("Sun Qi")

    fhir(world, f"/Practitioner/{newcomer.id}", status=404)
    fhir(world, f"/Schedule/{newcomer.id}", status=404)
    assert entries(fhir(world, "/Practitioner", params={"name": "Sun"})) == []
    assert entries(fhir(world, "/Slot", params={"schedule": str(newcomer.id)})) == []


def test_role_of_an_actor_is_checked_before_any_read(world: World) -> None:
    admin = world.services.accounts.authenticate(world.admin.token)
    assert admin.role is Role.ADMIN
    fhir(world, f"/Patient/{world.patient_a.id}", account=world.admin, status=403)


# --- found by probing the served app -------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ['evil"><script>', "evil.example:443/x?y=", "127.0.0.1:8710@evil.example", ""]
)
def test_a_host_header_that_names_no_host_is_refused_not_reflected(world: World, host: str) -> None:
    result = world.api.request("GET", f"{BASE}/Organization", headers={"Host": host})

    assert result.status_code == 400, result.text
    assert result.json["resourceType"] == "OperationOutcome"
    assert "evil" not in result.text and "<script>" not in result.text


def test_a_host_name_with_a_port_is_the_base_of_every_url(world: World) -> None:
    found = world.api.request("GET", f"{BASE}/Organization", headers={"Host": "api.example:8443"})

    assert found.status_code == 200
    assert found.json["link"][0]["url"].startswith("http://api.example:8443/fhir/R4/")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/fhir"),
        ("GET", "/fhir/"),
        ("GET", "//fhir/R4/Patient/1"),
        ("DELETE", "//fhir/R4/metadata"),
    ],
)
def test_every_answer_under_fhir_is_an_operation_outcome(
    world: World, method: str, path: str
) -> None:
    result = world.api.client.simulate_request(method, path)

    assert result.status_code >= 400
    assert result.headers["content-type"].startswith(FHIR_JSON), (path, result.headers)
    assert result.json["resourceType"] == "OperationOutcome"


def test_a_405_of_the_fhir_layer_says_what_is_allowed(world: World) -> None:
    search = world.api.get(f"{BASE}/Location")
    create = world.api.post(
        f"{BASE}/Slot", token=world.patient_a.token, json={"resourceType": "Slot"}
    )
    neither = world.api.post(f"{BASE}/Location", token=world.patient_a.token, json={})

    assert (search.status_code, search.headers["allow"]) == (405, "")
    assert (create.status_code, create.headers["allow"]) == (405, "GET")
    assert (neither.status_code, neither.headers["allow"]) == (405, "")


def test_the_capability_statement_takes_no_bad_token(world: World) -> None:
    result = world.api.request("GET", f"{BASE}/metadata", headers={"Authorization": "Bearer x"})

    assert result.status_code == 401


def test_a_create_is_refused_before_its_body_is_read(world: World) -> None:
    big = b'{"resourceType": "Appointment", "x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    for path, account, status in (
        ("/Foo", world.patient_a, 404),
        ("/Slot", world.patient_a, 405),
        ("/Appointment", None, 401),
        ("/Appointment", world.doctor, 403),
        ("/Appointment", world.patient_a, 413),
    ):
        result = world.api.request(
            "POST",
            BASE + path,
            token=account.token if account else None,
            body=big,
            content_type=FHIR_JSON,
        )
        assert result.status_code == status, (path, result.text[:300])


@pytest.mark.parametrize(
    "slot",
    [
        "https://evil.example/fhir/R4/Slot/{slot}",
        "Slot/Slot/{slot}",
        "http://falconframework.org/fhir/R4/Schedule/{slot}",
        " Slot/{slot}",
    ],
)
def test_a_slot_of_another_server_or_malformed_is_not_booked(world: World, slot: str) -> None:
    proposal = _proposal(world, slot_of(world, MONDAY, "morning"), world.patient_a)
    proposal["slot"] = [{"reference": slot.format(slot=slot_of(world, MONDAY, "morning"))}]

    outcome = fhir(
        world, "/Appointment", method="POST", account=world.patient_a, body=proposal, status=422
    )

    assert outcome["issue"][0]["expression"] == ["Appointment.slot"]
    assert world.remaining(MONDAY, "morning") == 2


def test_this_servers_own_absolute_references_are_taken(world: World) -> None:
    base = "http://falconframework.org/fhir/R4"  # the test client's host
    proposal = _proposal(world, slot_of(world, MONDAY, "morning"), world.patient_a)
    proposal["slot"] = [{"reference": f"{base}/Slot/{slot_of(world, MONDAY, 'morning')}"}]
    proposal["participant"] = [{"actor": {"reference": f"{base}/Patient/{world.patient_a.id}"}}]

    fhir(world, "/Appointment", method="POST", account=world.patient_a, body=proposal, status=201)
    found = fhir(
        world,
        "/Appointment",
        account=world.patient_a,
        params={"patient": f"{base}/Patient/{world.patient_a.id}"},
    )

    assert found["total"] == 1


@pytest.mark.parametrize(
    "participant",
    [
        "https://other-hospital.example/fhir/Patient/{patient}",
        "Group/77",
        "RelatedPerson/2",
    ],
)
def test_a_participant_of_another_server_or_kind_is_refused(world: World, participant: str) -> None:
    proposal = _proposal(world, slot_of(world, MONDAY, "morning"), world.patient_a)
    proposal["participant"].append(
        {"actor": {"reference": participant.format(patient=world.patient_a.id)}}
    )

    outcome = fhir(
        world, "/Appointment", method="POST", account=world.patient_a, body=proposal, status=422
    )

    assert outcome["issue"][0]["expression"] == ["Appointment.participant.actor"]


def test_a_search_by_another_servers_reference_is_refused(world: World) -> None:
    outcome = fhir(
        world,
        "/Appointment",
        account=world.patient_a,
        params={"patient": f"http://evil/fhir/R4/Patient/{world.patient_a.id}"},
        status=400,
    )

    assert outcome["issue"][0]["expression"] == ["patient"]


def test_a_slot_at_the_end_of_time_is_no_slot(world: World) -> None:
    for slot in (f"{world.doctor.id}-99991231-pm", f"{world.doctor.id}-19000105-am"):
        fhir(world, f"/Slot/{slot}", status=404)
    for start in ("ge0001-01-01T07:00+08:00", "9999-12-31T20:00:00-14:00", "lt0001-01-02"):
        fhir(world, "/Slot", params={"schedule": str(world.doctor.id), "start": start}, status=400)
