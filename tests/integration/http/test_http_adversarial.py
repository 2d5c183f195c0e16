"""Adversarial input against every operation (issue 7, item 1): no input makes the API answer 5xx,
every refusal is a problem+json document, and the answers the issue names hold.

Every operation of the app's own OpenAPI document that takes a JSON body has a known-valid body
here (``VALID``, checked to be accepted on a fresh world). Each field of it, nested ones included,
is replaced in turn by each adversarial value, and the body goes out as raw bytes, so that JSON
escapes such as ``\\ud800`` reach the server exactly as written. Then whole-body cases (deep
nesting, duplicate keys, bytes that are not UTF-8, text that is not JSON), every query parameter,
every id in a path, and tokens signed with the right secret whose subject is no id.

The attacks share one world per module (they only assert what the server refuses, and never rely
on what an earlier attack changed) on an app with the production body limit of 1 MiB, so that the
100 kB string and the 200 kB nesting reach the decoder rather than the size check.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import falcon.testing
import jwt
import pytest
from attrs import field, frozen
from http_support import (
    FRIDAY,
    NOW,
    PASSWORD,
    PROBLEM,
    SCHEDULE_BODY,
    THURSDAY,
    Api,
    World,
    build_world,
    fast_hasher,
    resident_id,
)
from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.security import JwtTokens
from medbook.adapters.sql import SqlUnitOfWork
from medbook.bootstrap import build_services, in_memory
from medbook.domain import Period
from medbook.domain.booking.appointments import Appointment
from medbook.domain.shared.errors import DomainError
from medbook.domain.shared.money import Money
from medbook.entrypoints.http.app import PLAIN_ROUTES, create_app
from medbook.entrypoints.http.openapi import document
from medbook.entrypoints.http.routes import ROUTES
from medbook.services.orders import ServiceDraft

SECRET = b"the adversarial tests' own secret, 32+ bytes"
#: The production default of ``create_app`` (and of the settings).
BODY_LIMIT = 1024 * 1024
#: The document the cases are generated from, at collection; ``test_the_cases_cover_...`` checks
#: that it is the one the app serves.
DOCUMENT: dict[str, Any] = json.loads(json.dumps(document(ROUTES, PLAIN_ROUTES)))
METHODS = ("get", "put", "post", "patch", "delete")


# --- what a valid call of each operation is ------------------------------------------------------

Resolvable = Any  # a JSON value, or a function of the world that gives one


@frozen
class Call:
    """A known-valid call: who may make it (an ``Account`` attribute of the world, or None for
    anonymous), its JSON body and its path parameters (values may be functions of the world)."""

    caller: str | None
    body: dict[str, Resolvable]
    path: dict[str, Callable[[World], int]] = field(factory=dict)


VALID: dict[tuple[str, str], Call] = {
    ("POST", "/v1/patients"): Call(
        None, {"phone": "13600000001", "name": "Sun Mei", "password": PASSWORD}
    ),
    ("POST", "/v1/doctors"): Call(
        None, {"phone": "13600000002", "name": "Hu Jun", "password": PASSWORD}
    ),
    ("POST", "/v1/sessions"): Call(
        None, {"phone": lambda w: w.patient_a.phone, "password": PASSWORD, "role": "patient"}
    ),
    ("POST", "/v1/patients/me/identity"): Call(
        "patient_a",
        {"name": "Wang Xiaoming", "id_number": resident_id("110105", dt.date(1990, 5, 17), 123)},
    ),
    ("POST", "/v1/doctors/{doctor_id}/approval"): Call(
        "admin", {"approved": True}, {"doctor_id": lambda w: w.paediatrician.id}
    ),
    ("POST", "/v1/hospitals/{hospital_id}/departments"): Call(
        "admin",
        {"name": "Neurology", "description": "Brain and nerves"},
        {"hospital_id": lambda w: w.shanghai},
    ),
    ("PATCH", "/v1/doctors/me"): Call(
        "paediatrician",
        {
            "gender": "female",
            "hospital_id": lambda w: w.shanghai,
            "department_id": lambda w: w.paediatrics,
            "staff_number": "P0042",
            "rank": "resident",
            "specialty": "neonatology",
            "birth_date": "1980-04-02",
        },
    ),
    ("PUT", "/v1/doctors/me/schedule"): Call("paediatrician", SCHEDULE_BODY),
    ("POST", "/v1/doctors/me/leave"): Call(
        "beijing_doctor", {"date": FRIDAY.isoformat(), "period": "afternoon"}
    ),
    ("POST", "/v1/appointments"): Call(
        "patient_b",
        {"doctor_id": lambda w: w.doctor.id, "date": THURSDAY.isoformat(), "period": "morning"},
    ),
}


def _linked_doctor(world: World) -> int:
    """The paediatrician, with whom patient A then holds an appointment (so may chat). On the
    attacked world the attacks may have made the paediatrician unbookable: then the answer is a
    refusal, which is all the attacks need."""
    patient_a = world.services.accounts.authenticate(world.patient_a.token)
    doctor = world.paediatrician.id
    if not world.services.booking.appointments_as(patient_a):
        with contextlib.suppress(DomainError):
            world.services.booking.book_as(patient_a, doctor, FRIDAY, Period.MORNING)
    return doctor


VALID[("POST", "/v1/conversations")] = Call("patient_a", {"doctor_id": _linked_doctor})


def _a_service(world: World) -> int:
    """A home-nursing service of the Shanghai hospital, offered on Thursday (published once)."""
    published = world.services.orders.services_of_hospital(world.shanghai)
    if published:
        return published[0].service.id or 0
    admin = world.services.accounts.authenticate(world.admin.token)
    draft = ServiceDraft("Home nursing", Money(19_900), 500, 10.0, frozenset({THURSDAY}))
    return world.services.orders.publish_as(admin, world.shanghai, draft).service.id or 0


VALID[("POST", "/v1/hospitals/{hospital_id}/services")] = Call(
    "admin",
    {
        "name": "Home nursing visit",
        "price_cents": 19_900,
        "capacity": 8,
        "service_radius_km": 10.0,
        "dates": [THURSDAY.isoformat(), FRIDAY.isoformat()],
        "category": "home_nursing",
        "description": "A nurse comes home",
        "tips": "Have the prescription ready",
        "precautions": "Tell us about allergies",
        "image_url": "https://cdn.example.com/nursing.png",
    },
    {"hospital_id": lambda w: w.shanghai},
)
VALID[("POST", "/v1/records")] = Call(
    "patient_a",
    {
        "hospital_name": "Ruijin Hospital",
        "visit_date": "2026-11-20",
        "title": "Check-up",
        "notes": "BP",
    },
)


def _a_record(world: World) -> int:
    """A medical record of patient A (made once)."""
    patient = world.services.accounts.authenticate(world.patient_a.token)
    found = world.services.health.records_as(patient)
    if found:
        return found[0].record.id or 0
    made = world.services.health.create_record_as(
        patient, "Ruijin Hospital", dt.date(2026, 11, 20), "Check-up"
    )
    return made.record.id or 0


VALID[("PATCH", "/v1/records/{record_id}")] = Call(
    "patient_a",
    {"hospital_name": "Huashan", "visit_date": "2026-11-21", "title": "X-ray", "notes": "ok"},
    {"record_id": _a_record},
)
VALID[("POST", "/v1/record-shares")] = Call(
    "patient_a",
    {"record_ids": lambda w: [_a_record(w)], "all": False, "expires_in_minutes": 60},
)
VALID[("POST", "/v1/vitals")] = Call(
    "patient_a",
    {
        "kind": "blood_pressure",
        "values": {"systolic": 128, "diastolic": 82, "value": None},
        "measured_at": "2026-11-25T07:00:00+08:00",
        "context": None,
    },
)
VALID[("POST", "/v1/orders")] = Call(
    "patient_b",
    {
        "service_id": _a_service,
        "date": THURSDAY.isoformat(),
        "place": "home",
        "address": "12 Huaihai Road",
        "lat": 31.22,
        "lng": 121.47,
    },
)


def _a_past_appointment(world: World) -> int:
    """Patient A's appointment with the doctor yesterday morning (made once, straight in the
    store: no booking can be made in the past), whose attendance may now be recorded."""
    yesterday = NOW.date() - dt.timedelta(days=1)
    with world.services.new_uow() as uow:
        found = list(uow.appointments.of_doctor(world.doctor.id, yesterday))
        if found:
            return found[0].id or 0
        made = uow.appointments.add(
            Appointment(
                world.patient_a.id,
                world.doctor.id,
                yesterday,
                Period.MORNING,
                1,
                NOW - dt.timedelta(days=2),
            )
        )
        uow.commit()
    return made.id or 0


VALID[("POST", "/v1/appointments/{appointment_id}/attendance")] = Call(
    "doctor", {"attended": False}, {"appointment_id": _a_past_appointment}
)
VALID[("PUT", "/v1/hospitals/{hospital_id}/policy")] = Call(
    "admin",
    {
        "reminders": {"evening_at": "19:30", "before_start_minutes": 90},
        "no_shows": {"limit": 3, "window_days": 90, "block_days": 30},
    },
    {"hospital_id": lambda w: w.shanghai},
)
# Patient B signs the Beijing doctor (no one has); on the attacked world the signing is repeated
# and refused (409 ``already_signed``), which is all the attacks need.
VALID[("POST", "/v1/contracts")] = Call("patient_b", {"doctor_id": lambda w: w.beijing_doctor.id})


def _full_session(world: World) -> int:
    """The Beijing doctor, whose Thursday afternoon (one place) a patient of its own then fills
    (registered once): patient B may join its waitlist. On the attacked world the join is
    repeated and refused (409 ``already_waiting``), which is all the attacks need."""
    doctor = world.beijing_doctor.id
    (places,) = [
        o
        for o in world.services.booking.offered_sessions(doctor, THURSDAY, THURSDAY)
        if o.session.period is Period.AFTERNOON
    ]
    if places.remaining > 0:  # through the service: the attacks on registration throttle the API's
        patient = world.services.accounts.register_patient(world.new_phone(), "Qian Feng", PASSWORD)
        assert patient.id is not None
        world.services.booking.book(patient.id, doctor, THURSDAY, Period.AFTERNOON)
    return doctor


VALID[("POST", "/v1/waitlist")] = Call(
    "patient_b", {"doctor_id": _full_session, "date": THURSDAY.isoformat(), "period": "afternoon"}
)

#: Who calls the secured operations without a JSON body (the rest: patient A, or anonymous).
CALLER_OF: dict[tuple[str, str], str] = {}
#: Path parameters of operations without an entry in ``VALID``.
PATH_VALUES: dict[str, Callable[[World], int | str]] = {
    "doctor_id": lambda w: w.doctor.id,
    "hospital_id": lambda w: w.shanghai,
    "department_id": lambda w: w.cardiology,
    "conversation_id": lambda w: 1,
    "service_id": _a_service,
    "order_id": lambda w: 1,
    "contract_id": lambda w: 1,
    "entry_id": lambda w: 1,
    "record_id": _a_record,
    "attachment_id": lambda w: 1,
    "code": lambda w: "A" * 43,
}


def resolved(value: Resolvable, world: World) -> Any:
    if callable(value):
        return value(world)
    if isinstance(value, dict):
        return {k: resolved(v, world) for k, v in value.items()}
    return value


#: Header parameters of operations whose body is signed (a gateway's notification): attacks on
#: their fields end at the signature check, so those bodies are attacked, signed, in
#: test_http_orders.py and by schemathesis instead.
SIGNATURES = frozenset({"X-Medbook-Signature", "Wechatpay-Signature"})


def json_operations(doc: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The v1 operations with a JSON body. FHIR's create is left out: its body is a FHIR resource
    whose refusals are OperationOutcomes, attacked in test_fhir.py (malformed proposals, bodies
    that are not resources) and by the schemathesis run."""
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
        and not path.startswith("/fhir/")
        and "application/json" in op.get("requestBody", {}).get("content", {})
        and not SIGNATURES & {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
    }


def operations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def caller_of(method: str, template: str) -> str | None:
    if (method, template) in VALID:
        return VALID[method, template].caller
    secured = DOCUMENT["paths"][template][method.lower()].get("security")
    return CALLER_OF.get((method, template), "patient_a") if secured else None


def token_of(caller: str | None, world: World) -> str | None:
    return getattr(world, caller).token if caller else None


def filled(template: str, world: World, **given: str) -> str:
    """``template`` with its parameters: ``given`` ones as they are, the others valid."""
    values: dict[str, Any] = {}
    for (_, path), call in VALID.items():
        if path == template:
            values |= {name: value(world) for name, value in call.path.items()}
    path = template
    for name in [p.strip("{}") for p in template.split("/") if p.startswith("{")]:
        value = given.get(name) or values.get(name) or PATH_VALUES.get(name, lambda w: 1)(world)
        path = path.replace("{" + name + "}", str(value))
    return path


def field_paths(body: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every field of ``body``, objects and what they hold: ("monday",), ("monday", "morning")."""
    for key, value in body.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from field_paths(value, (*prefix, key))


def object_paths(
    body: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """The body itself and every object inside it."""
    yield prefix
    for key, value in body.items():
        if isinstance(value, dict):
            yield from object_paths(value, (*prefix, key))


def schema_fields(
    schema: Mapping[str, Any], doc: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every property of an object schema, nested objects included (a nullable one too: the
    object branch of its ``anyOf``)."""
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for name, sub in schema.get("properties", {}).items():
        yield (*prefix, name)
        for branch in (sub, *sub.get("anyOf", ())):
            yield from schema_fields(branch, doc, (*prefix, name))


# --- raw bodies ----------------------------------------------------------------------------------

MARK = "@@adversarial@@"


def replaced(body: Mapping[str, Any], at: tuple[str, ...], new: Any) -> dict[str, Any]:
    head, *rest = at
    return {
        k: (replaced(v, tuple(rest), new) if rest else new) if k == head else v
        for k, v in body.items()
    }


def with_key_first(body: Mapping[str, Any], at: tuple[str, ...], key: str) -> dict[str, Any]:
    """``body`` with ``key`` (value 1) put first into the object at ``at``."""
    if not at:
        return {key: 1, **body}
    head, *rest = at
    return {k: with_key_first(v, tuple(rest), key) if k == head else v for k, v in body.items()}


def spliced(marked: Mapping[str, Any], raw: bytes) -> bytes:
    """``marked`` as JSON text, its one ``MARK`` string replaced by the raw JSON text ``raw``."""
    text = json.dumps(marked).encode()
    quoted = json.dumps(MARK).encode()
    assert text.count(quoted) == 1, text
    return text.replace(quoted, raw)


def valid_body(operation: tuple[str, str], world: World) -> dict[str, Any]:
    body: dict[str, Any] = resolved(VALID[operation].body, world)
    return body


def value_at(body: Mapping[str, Any], at: tuple[str, ...]) -> Any:
    value: Any = body
    for key in at:
        value = value[key]
    return value


def another(value: Any) -> Any:
    """A valid-looking value different from ``value``, for a duplicate key."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "2"
    if isinstance(value, dict):
        return {}
    return "other"


# --- the expectations ----------------------------------------------------------------------------


@frozen
class Expect:
    """What the answer must be beyond "below 500, and a problem+json document unless 2xx"."""

    statuses: tuple[int, ...] = ()  # empty: any status below 500
    names_field: bool = False  # a 422 must name the field in ``errors``

    def __str__(self) -> str:
        return " or ".join(map(str, self.statuses)) or "below 500"


ANY = Expect()
#: Lone surrogates, bytes that are not UTF-8, duplicate keys, text that is not JSON.
MALFORMED = Expect((400,))
#: Numbers out of every range the API takes: 400, or 422 naming the field.
OUT_OF_RANGE = Expect((400, 422), names_field=True)
#: Valid JSON of the wrong shape (not an object).
REFUSED = Expect((400, 422))
#: Whatever the server makes of it, it is the client's fault.
CLIENT_ERROR = Expect(tuple(range(400, 500)))


@frozen
class Value:
    name: str
    raw: bytes  # JSON text (or not quite: see the names)
    expect: Expect


VALUES = (
    Value("surrogate_ud800", rb'"\ud800"', MALFORMED),
    Value("text_then_surrogate_udfff", rb'"abc\udfff"', MALFORMED),
    Value("surrogates_reversed", rb'"\ude00\ud83d"', MALFORMED),
    Value("cesu8_surrogate_bytes", b'"\xed\xa0\x80"', MALFORMED),
    Value("invalid_utf8_bytes", b'"\xff\xfe"', MALFORMED),
    Value("nul_inside", rb'"a\u0000b"', ANY),
    Value("bidi_override_u202e", rb'"abc\u202edef"', ANY),
    Value("bidi_isolate_u2066", rb'"\u2066abc\u2069"', ANY),
    Value("zero_width_only", rb'"\u200b\u200b"', ANY),
    Value("combining_only", rb'"\u0301\u0301"', ANY),
    Value("digits_5000", b"9" * 5000, OUT_OF_RANGE),
    Value("minus_digits_5000", b"-" + b"9" * 5000, OUT_OF_RANGE),
    Value("1e400", b"1e400", OUT_OF_RANGE),
    Value("minus_1e400", b"-1e400", OUT_OF_RANGE),
    Value("NaN", b"NaN", OUT_OF_RANGE),
    Value("Infinity", b"Infinity", OUT_OF_RANGE),
    Value("minus_Infinity", b"-Infinity", OUT_OF_RANGE),
    Value("2_pow_63", str(2**63).encode(), OUT_OF_RANGE),
    Value("2_pow_31", str(2**31).encode(), OUT_OF_RANGE),
    Value("1e-400", b"1e-400", ANY),
    Value("minus_1", b"-1", ANY),
    Value("0", b"0", ANY),
    Value("true", b"true", ANY),
    Value("null", b"null", ANY),
    Value("empty_array", b"[]", ANY),
    Value("empty_object", b"{}", ANY),
    Value("string_100kB", b'"' + b"x" * 100_000 + b'"', ANY),
    Value("emoji_utf8", '"\U0001f600\U0001f3e5"'.encode(), ANY),
    Value("emoji_escaped_pair", rb'"\ud83d\ude00"', ANY),
)

DEPTH = 100_000


def whole_bodies(valid: bytes) -> list[Value]:
    return [
        Value("deep_array_100000", b"[" * DEPTH + b"]" * DEPTH, CLIENT_ERROR),
        Value("deep_object_100000", b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, CLIENT_ERROR),
        Value("not_utf8_fffe", b"\xff\xfe", MALFORMED),
        Value("utf16", valid.decode().encode("utf-16"), MALFORMED),
        Value("empty", b"", MALFORMED),
        Value("json_null", b"null", REFUSED),
        Value("top_level_array", b"[]", REFUSED),
        Value("array_of_valid_body", b"[" + valid + b"]", REFUSED),
        Value("truncated", valid[:-1], MALFORMED),
        Value("single_quotes", b"{'phone': '13800138000'}", MALFORMED),
        Value("trailing_garbage", valid + b" x", MALFORMED),
        Value("NaN", b"NaN", MALFORMED),
        Value("Infinity", b"Infinity", MALFORMED),
        Value("minus_Infinity", b"-Infinity", MALFORMED),
        Value("utf8_bom_then_valid", b"\xef\xbb\xbf" + valid, ANY),
    ]


QUERY_VALUES = (
    ("surrogate_pct_ED_A0_80", "%ED%A0%80"),
    ("invalid_utf8_pct_FF", "%FF"),
    ("nul_pct_00", "%00"),
    ("digits_5000", "9" * 5000),
    ("1e400", "1e400"),
    ("minus_1e400", "-1e400"),
    ("nan", "nan"),
    ("inf", "inf"),
)
PATH_IDS = (
    ("01", "01"),
    ("20_digits", "99999999999999999999"),
    ("minus_1", "-1"),
    ("1e3", "1e3"),
    ("0", "0"),
    ("2_pow_31", str(2**31)),
    ("surrogate_pct_ED_A0_80", "%ED%A0%80"),
    ("invalid_utf8_pct_FF", "%FF"),
)
#: Subjects no account can have: ids are positive 32-bit integers.
SUBJECTS = ("99999999999999999999", str(2**31))


# --- sending and judging -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attacked(openapi_document: dict[str, Any]) -> World:
    clock = ManualClock(NOW)
    services = in_memory(clock, hasher=fast_hasher(), tokens=JwtTokens(SECRET))
    app = create_app(services, max_body_bytes=BODY_LIMIT)
    return build_world(services, Api(falcon.testing.TestClient(app), openapi_document), clock)


Outcome = falcon.testing.Result | Exception


def send(
    world: World,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: bytes | None = None,
    query: str | None = None,
    content_type: str = "application/json",
) -> Outcome:
    """The raw request through the app; an error the app lets out is returned (a server would
    answer it with a bare 500)."""
    headers = {"Content-Type": content_type} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        return world.api.client.simulate_request(
            method, path, body=body, query_string=query, headers=headers
        )
    except Exception as error:  # noqa: BLE001 - reported as the failure it is
        return error


def causes(records: list[logging.LogRecord]) -> list[str]:
    """The errors the app logged with a traceback: type, message, and where it was raised."""
    found = []
    for record in records:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            frames = traceback.extract_tb(error.__traceback__)
            where = next(
                (f for f in reversed(frames) if "/medbook/" in f.filename),
                frames[-1] if frames else None,
            )
            place = (
                f" at {where.filename.rsplit('/src/', 1)[-1]}:{where.lineno} ({where.name})"
                if where
                else ""
            )
            found.append(f"logged {type(error).__name__}: {str(error)[:200]}{place}")
    return found


def judged(outcome: Outcome, expect: Expect, field_name: str | None = None) -> list[str]:
    """What is wrong with ``outcome``: nothing, or one line per fault."""
    if isinstance(outcome, Exception):
        frames = traceback.extract_tb(outcome.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        return [f"the app let {type(outcome).__name__} out: {str(outcome)[:200]}{where}"]
    faults = []
    status = outcome.status_code
    if expect.statuses and status not in expect.statuses:
        faults.append(f"answered {outcome.status}, expected {expect}")
    elif status >= 500:
        faults.append(f"answered {outcome.status}")
    if not 200 <= status < 300:
        faults.extend(problem_faults(outcome))
    if expect.names_field and status == 422 and field_name is not None:
        errors = (parsed(outcome) or {}).get("errors") or []
        named = {e.get("field") for e in errors if isinstance(e, dict)}
        if field_name not in named:
            faults.append(
                f"the 422 does not name {field_name!r} (it names {sorted(map(str, named))})"
            )
    return faults


def parsed(result: falcon.testing.Result) -> Any:
    try:
        return json.loads(result.content)
    except ValueError:
        return None


def problem_faults(result: falcon.testing.Result) -> list[str]:
    media_type = (result.headers.get("content-type") or "").split(";")[0].strip()
    faults = []
    if media_type != PROBLEM:
        faults.append(f"content type {media_type!r}, not {PROBLEM}")
    if not result.content:
        return [*faults, "an empty body"]
    body = parsed(result)
    if not isinstance(body, dict):
        return [*faults, f"a body that is no JSON object: {result.content[:200]!r}"]
    if type(body.get("status")) is not int or body["status"] != result.status_code:
        faults.append(f"status member {body.get('status')!r}, not {result.status_code}")
    if not isinstance(body.get("detail"), str) or not body["detail"]:
        faults.append(f"no detail: {body}")
    return faults


def verdict(
    caplog: pytest.LogCaptureFixture,
    outcome: Outcome,
    expect: Expect,
    field_name: str | None = None,
) -> None:
    faults = judged(outcome, expect, field_name)
    if faults:
        faults += causes(caplog.records)
        if not isinstance(outcome, Exception):
            faults.append(f"body: {outcome.content[:300]!r}")
    assert not faults, "\n".join(faults)


# --- the cases -----------------------------------------------------------------------------------


def _operation_id(operation: tuple[str, str]) -> str:
    return " ".join(operation)


FIELD_CASES = [
    pytest.param(operation, at, value, id=f"{_operation_id(operation)} {'.'.join(at)}={value.name}")
    for operation in sorted(VALID)
    for at in field_paths(VALID[operation].body)
    for value in VALUES
]
KEY_CASES = [
    pytest.param(operation, at, id=f"{_operation_id(operation)} {'.'.join(at) or 'body'}+key_udead")
    for operation in sorted(VALID)
    for at in object_paths(VALID[operation].body)
]
DUPLICATE_CASES = [
    pytest.param(operation, at, id=f"{_operation_id(operation)} {'.'.join(at)}_twice")
    for operation in sorted(VALID)
    for at in field_paths(VALID[operation].body)
]
WHOLE_BODY_NAMES = [v.name for v in whole_bodies(b"{}")]
WHOLE_BODY_CASES = [
    pytest.param(operation, name, id=f"{_operation_id(operation)} body={name}")
    for operation in sorted(VALID)
    for name in WHOLE_BODY_NAMES
]
QUERY_CASES = [
    pytest.param(
        method, path, parameter["name"], raw, id=f"{method} {path} ?{parameter['name']}={name}"
    )
    for method, path, op in operations(DOCUMENT)
    for parameter in op.get("parameters", [])
    if parameter["in"] == "query"
    for name, raw in QUERY_VALUES
]
PATH_CASES = [
    pytest.param(
        method, path, parameter["name"], raw, id=f"{method} {path} {parameter['name']}={name}"
    )
    for method, path, op in operations(DOCUMENT)
    for parameter in op.get("parameters", [])
    if parameter["in"] == "path" and parameter["schema"].get("type") == "integer"
    for name, raw in PATH_IDS
]
TOKEN_CASES = [
    pytest.param(method, path, subject, id=f"{method} {path} sub={subject}")
    for method, path, op in operations(DOCUMENT)
    if op.get("security")
    for subject in SUBJECTS
]


def test_the_cases_cover_every_operation_and_field_of_the_served_document(
    openapi_document: dict[str, Any],
) -> None:
    assert openapi_document == DOCUMENT, "the cases come from another document than the app serves"
    documented = json_operations(openapi_document)
    missing, stale = documented - set(VALID), set(VALID) - documented
    assert not missing, f"operations with a JSON body but no known-valid body in VALID: {missing}"
    assert not stale, f"VALID names operations the document does not have: {stale}"
    for method, path in documented:
        content = openapi_document["paths"][path][method.lower()]["requestBody"]["content"]
        schema = content["application/json"]["schema"]
        expected = set(schema_fields(schema, openapi_document))
        assert set(field_paths(VALID[method, path].body)) == expected, (method, path)
    assert QUERY_CASES and PATH_CASES and TOKEN_CASES


@pytest.mark.parametrize("operation", sorted(VALID), ids=_operation_id)
def test_each_known_valid_body_is_accepted(world: World, operation: tuple[str, str]) -> None:
    method, template = operation
    call = VALID[operation]
    result = world.api.request(
        method,
        filled(template, world),
        token=token_of(call.caller, world),
        body=json.dumps(valid_body(operation, world)).encode(),
        content_type="application/json",
    )
    assert 200 <= result.status_code < 300, f"{result.status}: {result.text}"


def field_attack(
    world: World, operation: tuple[str, str], at: tuple[str, ...], value: Value
) -> Outcome:
    method, template = operation
    marked = replaced(valid_body(operation, world), at, MARK)
    return send(
        world,
        method,
        filled(template, world),
        token=token_of(VALID[operation].caller, world),
        body=spliced(marked, value.raw),
    )


def token_for(subject: str, world: World) -> str:
    """A token signed with the app's secret, as the app issues them, naming ``subject``."""
    claims = jwt.decode(world.patient_a.token, options={"verify_signature": False})
    return jwt.encode({**claims, "sub": subject}, SECRET, algorithm="HS256")


def token_attack(world: World, method: str, template: str, subject: str) -> Outcome:
    operation = (method, template)
    body = json.dumps(valid_body(operation, world)).encode() if operation in VALID else b""
    return send(
        world,
        method,
        filled(template, world),
        token=token_for(subject, world),
        body=body if method != "GET" else None,
        content_type="application/json" if operation in VALID else "image/png",
    )


@pytest.mark.parametrize(("operation", "at", "value"), FIELD_CASES)
def test_an_adversarial_value_in_a_field(
    attacked: World,
    caplog: pytest.LogCaptureFixture,
    operation: tuple[str, str],
    at: tuple[str, ...],
    value: Value,
) -> None:
    outcome = field_attack(attacked, operation, at, value)
    verdict(caplog, outcome, value.expect, ".".join(at))


@pytest.mark.parametrize(("operation", "at"), KEY_CASES)
def test_a_lone_surrogate_key_is_400(
    attacked: World,
    caplog: pytest.LogCaptureFixture,
    operation: tuple[str, str],
    at: tuple[str, ...],
) -> None:
    method, template = operation
    marked = with_key_first(valid_body(operation, attacked), at, MARK)
    outcome = send(
        attacked,
        method,
        filled(template, attacked),
        token=token_of(VALID[operation].caller, attacked),
        body=spliced(marked, rb'"\udead"'),
    )
    verdict(caplog, outcome, MALFORMED)


@pytest.mark.parametrize(("operation", "at"), DUPLICATE_CASES)
def test_a_duplicate_key_is_400(
    attacked: World,
    caplog: pytest.LogCaptureFixture,
    operation: tuple[str, str],
    at: tuple[str, ...],
) -> None:
    method, template = operation
    body = valid_body(operation, attacked)
    first = value_at(body, at)
    twice = (
        json.dumps(first).encode()
        + b", "
        + json.dumps(at[-1]).encode()
        + b": "
        + json.dumps(another(first)).encode()
    )
    outcome = send(
        attacked,
        method,
        filled(template, attacked),
        token=token_of(VALID[operation].caller, attacked),
        body=spliced(replaced(body, at, MARK), twice),
    )
    verdict(caplog, outcome, MALFORMED)


@pytest.mark.parametrize(("operation", "name"), WHOLE_BODY_CASES)
def test_an_adversarial_body(
    attacked: World,
    caplog: pytest.LogCaptureFixture,
    operation: tuple[str, str],
    name: str,
) -> None:
    method, template = operation
    valid = json.dumps(valid_body(operation, attacked)).encode()
    value = next(v for v in whole_bodies(valid) if v.name == name)
    outcome = send(
        attacked,
        method,
        filled(template, attacked),
        token=token_of(VALID[operation].caller, attacked),
        body=value.raw,
    )
    verdict(caplog, outcome, value.expect)


@pytest.mark.parametrize(("method", "template", "parameter", "raw"), QUERY_CASES)
def test_an_adversarial_query_parameter(
    attacked: World,
    caplog: pytest.LogCaptureFixture,
    method: str,
    template: str,
    parameter: str,
    raw: str,
) -> None:
    operation = (method, template)
    body = json.dumps(valid_body(operation, attacked)).encode() if operation in VALID else None
    outcome = send(
        attacked,
        method,
        filled(template, attacked),
        token=token_of(caller_of(method, template), attacked),
        body=body,
        query=f"{parameter}={raw}",
    )
    verdict(caplog, outcome, REFUSED, parameter)


@pytest.mark.parametrize(("method", "template", "parameter", "segment"), PATH_CASES)
def test_an_adversarial_id_in_the_path(
    attacked: World,
    caplog: pytest.LogCaptureFixture,
    method: str,
    template: str,
    parameter: str,
    segment: str,
) -> None:
    operation = (method, template)
    body = json.dumps(valid_body(operation, attacked)).encode() if operation in VALID else None
    outcome = send(
        attacked,
        method,
        filled(template, attacked, **{parameter: segment}),
        token=token_of(caller_of(method, template), attacked),
        body=body,
    )
    verdict(caplog, outcome, ANY)


def test_the_tokens_of_the_token_cases_are_signed_right(attacked: World) -> None:
    own = token_for(str(attacked.patient_a.id), attacked)
    result = send(attacked, "GET", "/v1/me", token=own)
    assert not isinstance(result, Exception) and result.status_code == 200, result


@pytest.mark.parametrize(("method", "template", "subject"), TOKEN_CASES)
def test_a_token_whose_subject_is_no_id_is_401(
    attacked: World,
    caplog: pytest.LogCaptureFixture,
    method: str,
    template: str,
    subject: str,
) -> None:
    verdict(caplog, token_attack(attacked, method, template, subject), Expect((401,)))


# --- what the attacks left behind ----------------------------------------------------------------

ACCOUNTS = ("patient_a", "patient_b", "doctor", "paediatrician", "beijing_doctor", "admin")
#: Ids tried in every read with an id in its path: more than the attacks can have made.
READ_IDS = range(1, 200)


def reads(world: World) -> Iterator[tuple[str, str | None]]:
    """(path, caller) of every read the document offers, as every account, of every id."""
    for method, template, op in operations(DOCUMENT):
        params = [p for p in op.get("parameters", []) if p["in"] == "path"]
        if method != "GET" or any(p["schema"].get("type") != "integer" for p in params):
            continue
        callers: tuple[str | None, ...] = ACCOUNTS if op.get("security") else (None,)
        ids = READ_IDS if params else (None,)
        for caller in callers:
            for id_ in ids:
                given = {p["name"]: str(id_) for p in params}
                yield filled(template, world, **given), caller


def read_faults(world: World, caplog: pytest.LogCaptureFixture) -> list[str]:
    faults = []
    for path, caller in reads(world):
        caplog.clear()
        outcome = send(world, "GET", path, token=token_of(caller, world))
        found = judged(outcome, ANY)
        if not found and not isinstance(outcome, Exception) and outcome.status_code < 300:
            text = outcome.headers.get("content-type", "").startswith("text/plain")
            if path == "/metrics" and text:  # Prometheus' text format (test_observability.py)
                continue
            if path == "/" or path.startswith("/web/"):  # the web client (test_web_assets.py)
                continue
            found = [] if parsed(outcome) is not None else ["a 2xx body that is not JSON"]
        faults += [f"GET {path} as {caller or 'anonymous'}: {f}" for f in found]
        faults += [f"GET {path}: {c}" for c in causes(caplog.records)] if found else []
    return faults


def test_after_the_attacks_every_read_still_answers(
    attacked: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Runs after the attacks above (on the same world): what an attack managed to store (a lone
    surrogate in a name, say) must not break a later read of it for everyone."""
    faults = read_faults(attacked, caplog)
    assert not faults, "\n".join(faults)


# --- the same on the SQL adapter (SQLite and MariaDB) --------------------------------------------

#: The values whose fate depends on the store: text it must keep, integers it must hold.
SQL_VALUES = tuple(
    v
    for v in VALUES
    if v.name
    in {
        "surrogate_ud800",
        "text_then_surrogate_udfff",
        "nul_inside",
        "bidi_override_u202e",
        "zero_width_only",
        "combining_only",
        "2_pow_63",
        "2_pow_31",
        "minus_1",
        "0",
        "string_100kB",
        "emoji_utf8",
        "emoji_escaped_pair",
    }
)


def test_the_attacks_on_sql(
    engine: Engine, openapi_document: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Every field with the values a database may choke on, tokens naming no id, and then every
    read, on the SQL store; one failure lists every fault."""
    clock = ManualClock(NOW)
    services = build_services(
        lambda: SqlUnitOfWork(engine), clock, hasher=fast_hasher(), tokens=JwtTokens(SECRET)
    )
    app = create_app(services, max_body_bytes=BODY_LIMIT)
    world = build_world(services, Api(falcon.testing.TestClient(app), openapi_document), clock)
    faults = []

    def judge(case: str, outcome: Outcome, expect: Expect, field_name: str | None = None) -> None:
        found = judged(outcome, expect, field_name)
        faults.extend(f"{case}: {f}" for f in found + (causes(caplog.records) if found else []))
        caplog.clear()

    for operation in sorted(VALID):
        for at in field_paths(VALID[operation].body):
            for value in SQL_VALUES:
                case = f"{_operation_id(operation)} {'.'.join(at)}={value.name}"
                judge(case, field_attack(world, operation, at, value), value.expect, ".".join(at))
    for method, template, subject in [p.values for p in TOKEN_CASES]:
        outcome = token_attack(world, method, template, subject)
        judge(f"{method} {template} sub={subject}", outcome, Expect((401,)))
    faults += read_faults(world, caplog)
    assert not faults, f"{len(faults)} faults:\n" + "\n".join(faults)
