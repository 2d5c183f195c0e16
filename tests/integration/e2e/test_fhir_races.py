"""Booking through FHIR racing booking through /v1 for the last places, on the served app (SQLite
and MariaDB under gunicorn): the same service, the same locks, so never more appointments than
places, and every refusal says why in its own format."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from e2e_support import Account, Deployment, Reply
from test_http_flows import a_later_session

FHIR_JSON = "application/fhir+json"
PLACES = 3
PATIENTS = 16  # half of them through FHIR


def _book(
    deployment: Deployment, patient: Account, session: dict[str, Any], doctor: int, via: str
) -> Reply:
    http = deployment.http
    if via == "v1":
        body = {"doctor_id": doctor, "date": session["date"], "period": session["period"]}
        return http.call("POST", "/v1/appointments", body, token=patient.token)
    proposal = {
        "resourceType": "Appointment",
        "status": "proposed",
        "slot": [{"reference": f"Slot/{_slot(doctor, session)}"}],
        "participant": [{"actor": {"reference": f"Patient/{patient.id}"}}],
    }
    return http.call(
        "POST",
        "/fhir/R4/Appointment",
        proposal,
        token=patient.token,
        headers={"Content-Type": FHIR_JSON},
    )


def _slot(doctor: int, session: dict[str, Any]) -> str:
    half = "am" if session["period"] == "morning" else "pm"
    return f"{doctor}-{session['date'].replace('-', '')}-{half}"


def _outcome(reply: Reply) -> tuple[str, int, str]:
    """(interface, status, medbook's code) of an answer."""
    if reply.content_type == FHIR_JSON:
        body = reply.body
        if reply.status == 201:
            return "fhir", 201, body["status"]
        return "fhir", reply.status, body["issue"][0]["details"]["coding"][0]["code"]
    body = reply.body
    return "v1", reply.status, body["status"] if reply.status == 201 else body["code"]


def test_fhir_and_v1_bookings_racing_for_the_last_places_never_overbook(
    deployment: Deployment,
) -> None:
    http = deployment.http
    doctor, _ = deployment.verified_doctor(quota=PLACES, name="Race Doctor")
    assert doctor.id is not None
    session = a_later_session(http, doctor.id)
    patients = [deployment.register("patient", f"Racer {n}") for n in range(PATIENTS)]
    barrier = threading.Barrier(PATIENTS)

    def run(index: int) -> tuple[str, int, str]:
        via = "fhir" if index % 2 else "v1"
        barrier.wait()
        return _outcome(_book(deployment, patients[index], session, doctor.id or 0, via))

    with ThreadPoolExecutor(PATIENTS) as pool:
        outcomes = Counter(pool.map(run, range(PATIENTS)))

    booked = {k: n for k, n in outcomes.items() if k[1] == 201}
    refused = {k: n for k, n in outcomes.items() if k[1] != 201}
    assert sum(booked.values()) == PLACES, outcomes
    assert set(refused) <= {("fhir", 409, "session_full"), ("v1", 409, "session_full")}, outcomes
    assert {k[2] for k in booked} == {"booked"}
    after = http.expect(
        200,
        "GET",
        f"/v1/doctors/{doctor.id}/sessions?from={session['date']}&to={session['date']}",
    )
    assert next(s for s in after if s["period"] == session["period"])["remaining"] == 0
    slot = _slot(doctor.id, session)
    assert http.expect(200, "GET", f"/fhir/R4/Slot/{slot}")["status"] == "busy"
    seen = http.expect(
        200,
        "GET",
        f"/fhir/R4/Appointment?date={session['date']}",
        token=doctor.token,
    )
    assert seen["total"] == PLACES
    numbers = sorted(e["valueInteger"] for a in seen["entry"] for e in a["resource"]["extension"])
    assert numbers == list(range(1, PLACES + 1))
