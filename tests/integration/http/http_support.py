"""What the HTTP integration tests share: the moment they stand at, a client that checks every
response against the app's own OpenAPI document, problem+json assertions, identity numbers, and a
small world of hospitals, doctors, admins and patients.

2026-11-25T00:30Z is Wednesday 08:30 in Shanghai: today's morning session (08:00) has started,
today's afternoon session (13:30) is still open, and the 14-day window closes after 2026-12-09.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import falcon.testing
from attrs import define, field

from medbook.adapters.memory import ManualClock
from medbook.adapters.security import Argon2Hasher
from medbook.bootstrap import Services
from medbook.domain import GeoPoint, Rank, WeeklySchedule
from medbook.domain.accounts import Role
from medbook.entrypoints.http.app import PLAIN_ROUTES
from medbook.entrypoints.http.routes import ROUTES

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
TODAY = dt.date(2026, 11, 25)  # Wednesday, in Shanghai
THURSDAY = TODAY + DAY
FRIDAY = TODAY + 2 * DAY
SATURDAY = TODAY + 3 * DAY
SUNDAY = TODAY + 4 * DAY  # every doctor of the world is off on Sundays
MONDAY = TODAY + 5 * DAY
LAST_BOOKABLE = TODAY + 14 * DAY  # Wednesday 2026-12-09
BEYOND_WINDOW = LAST_BOOKABLE + DAY

PASSWORD = "correct horse battery"
#: Cheap argon2id parameters: the tests hash dozens of passwords.
FAST_HASHER_OPTIONS = {"memory_cost": 1024, "time_cost": 1, "parallelism": 1}

#: Mornings 2 places, afternoons 1, Sundays off.
SCHEDULE_BODY: dict[str, dict[str, int]] = {
    day: {"morning": 2, "afternoon": 1}
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
} | {"sunday": {"morning": 0, "afternoon": 0}}
SCHEDULE = WeeklySchedule.from_mapping(SCHEDULE_BODY)

PROBLEM = "application/problem+json"
#: The apps under test take bodies up to this size: small enough to exceed cheaply.
MAX_BODY_BYTES = 16 * 1024


def fast_hasher() -> Argon2Hasher:
    return Argon2Hasher(**FAST_HASHER_OPTIONS)


# --- identity numbers (GB 11643) -----------------------------------------------------------------

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(region: str, birth_date: dt.date, sequence: int) -> str:
    """A valid 18-character resident identity number (ISO 7064 MOD 11-2 check character).

    Computed here on its own rather than with the code under test, so a wrong check in either
    shows up. ``sequence`` is odd for men and even for women.
    """
    first17 = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    assert len(first17) == 17 and first17.isascii() and first17.isdigit()
    remainder = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11
    return first17 + "10X98765432"[remainder]


def with_wrong_check_character(id_number: str) -> str:
    wrong = "0" if id_number[-1] != "0" else "1"
    return id_number[:-1] + wrong


# --- a strict JSON Schema check for the shapes the OpenAPI document uses -------------------------


class SchemaMismatch(AssertionError):
    pass


_KNOWN_KEYWORDS = {
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "enum",
    "format",
    "description",
}
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _is_date(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value and parsed.tzinfo is not None


def validate(instance: Any, schema: Mapping[str, Any], document: Mapping[str, Any]) -> None:
    """Raise ``SchemaMismatch`` unless ``instance`` fits ``schema`` (JSON Schema 2020-12, the
    subset the document uses; an unknown keyword fails rather than passing unchecked)."""
    errors = list(_errors(instance, schema, document, "$"))
    if errors:
        raise SchemaMismatch("; ".join(errors))


def _errors(
    value: Any, schema: Mapping[str, Any], document: Mapping[str, Any], at: str
) -> Iterator[str]:
    unknown = set(schema) - _KNOWN_KEYWORDS
    if unknown:
        yield f"{at}: the checker does not know the keywords {sorted(unknown)}"
        return
    if "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        yield from _errors(value, target, document, at)
    if "anyOf" in schema and all(
        list(_errors(value, option, document, at)) for option in schema["anyOf"]
    ):
        yield f"{at}: {value!r} fits none of {schema['anyOf']}"
    if "type" in schema and not _TYPES[schema["type"]](value):
        yield f"{at}: {value!r} is not of type {schema['type']}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{at}: {value!r} is not one of {schema['enum']}"
    if schema.get("format") == "date" and not _is_date(value):
        yield f"{at}: {value!r} is not a date"
    if schema.get("format") == "date-time" and not _is_datetime(value):
        yield f"{at}: {value!r} is not a timestamp with an offset"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                yield f"{at}: {name!r} is required"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                yield from _errors(item, properties[name], document, f"{at}.{name}")
            elif extra is False:
                yield f"{at}: {name!r} is not allowed"
            elif isinstance(extra, Mapping):
                yield from _errors(item, extra, document, f"{at}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _errors(item, schema["items"], document, f"{at}[{index}]")


# --- the client ----------------------------------------------------------------------------------


def _template_pattern(path: str) -> re.Pattern[str]:
    def group(match: re.Match[str]) -> str:
        return r"(\d+)" if match["conv"] == "int" else r"([^/]+)"

    body = re.sub(r"{(?P<name>\w+)(?::(?P<conv>\w+))?}", group, path)
    return re.compile(body + "$")


def openapi_path(path: str) -> str:
    """A route's path as the document names it: ``/v1/doctors/{doctor_id}``."""
    return re.sub(r"{(\w+):\w+}", r"{\1}", path)


#: (pattern, path as in the document, methods) of every route the app serves.
_ROUTE_PATTERNS = [
    (_template_pattern(r.path), openapi_path(r.path), set(r.operations)) for r in ROUTES
] + [(_template_pattern(p), p, {m}) for p, m, _ in PLAIN_ROUTES]


def operation_of(method: str, path: str) -> str | None:
    """The document's path of the operation that serves ``method path`` (None when no route)."""
    path = path.rstrip("/") or "/"
    for pattern, documented, methods in _ROUTE_PATTERNS:
        if method in methods and pattern.fullmatch(path):
            return documented
    return None


#: (documented path, method, status) of every response checked against the document.
CHECKED: set[tuple[str, str, int]] = set()


@define
class Api:
    """A ``falcon.testing.TestClient`` that checks every response against the OpenAPI document:
    the status must be one the operation declares, with its content type and schema."""

    client: falcon.testing.TestClient
    document: dict[str, Any]

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        body: bytes | str | None = None,
        content_type: str | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> falcon.testing.Result:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        result = self.client.simulate_request(
            method,
            path,
            json=json,
            body=body,
            params=dict(params) if params else None,
            headers=all_headers,
        )
        self.check(method, path, result)
        return result

    def get(self, path: str, **options: Any) -> falcon.testing.Result:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> falcon.testing.Result:
        return self.request("POST", path, **options)

    def put(self, path: str, **options: Any) -> falcon.testing.Result:
        return self.request("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> falcon.testing.Result:
        return self.request("PATCH", path, **options)

    def check(self, method: str, path: str, result: falcon.testing.Result) -> None:
        media_type = (result.headers.get("content-type") or "").split(";")[0]
        if result.status_code >= 400:
            assert media_type == PROBLEM, f"{method} {path}: {result.status} as {media_type!r}"
            problem = self.document["components"]["schemas"]["Problem"]
            validate(result.json, problem, self.document)
            assert result.json["status"] == result.status_code
        documented = operation_of(method, path)
        if documented is None:
            return
        operation = self.document["paths"][documented][method.lower()]
        responses = operation["responses"]
        status = str(result.status_code)
        assert status in responses, (
            f"{method} {path} answered {status}, which its operation {operation['operationId']} "
            f"does not declare (it declares {sorted(responses)}): {result.text}"
        )
        content = responses[status].get("content")
        if content is None:
            assert not result.text, f"{method} {path}: {status} declares no body"
        else:
            assert media_type in content, f"{method} {path}: {media_type!r} not in {list(content)}"
            validate(result.json, content[media_type]["schema"], self.document)
        CHECKED.add((documented, method, result.status_code))


# --- problem+json --------------------------------------------------------------------------------


def problem(
    result: falcon.testing.Result,
    status: int,
    code: str | None = None,
    *,
    fields: set[str] | None = None,
) -> dict[str, Any]:
    """The problem+json body of ``result``, asserting its status, code and (for 422) fields."""
    assert result.status_code == status, f"expected {status}, got {result.status}: {result.text}"
    assert result.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = result.json
    assert body["status"] == status
    assert body["title"] and isinstance(body["title"], str)
    assert body["detail"] and isinstance(body["detail"], str)
    if code is not None:
        assert body.get("code") == code, body
    if fields is not None:
        assert {e["field"] for e in body["errors"]} == fields, body["errors"]
        assert all(e["message"] for e in body["errors"])
    return body


def ok(result: falcon.testing.Result, status: int = 200) -> Any:
    assert result.status_code == status, f"expected {status}, got {result.status}: {result.text}"
    assert result.headers["content-type"].startswith("application/json")
    return result.json


# --- the world -----------------------------------------------------------------------------------


@define
class Account:
    id: int
    phone: str
    name: str
    token: str


@define
class World:
    """Two hospitals (Shanghai and Beijing), their departments, verified doctors with schedules
    and logins, an admin per hospital, and patients A and B registered through the API."""

    services: Services
    api: Api
    clock: ManualClock
    shanghai: int
    beijing: int
    cardiology: int  # Shanghai
    paediatrics: int  # Shanghai
    orthopaedics: int  # Beijing
    doctor: Account  # Shanghai cardiology, verified, SCHEDULE
    paediatrician: Account  # Shanghai paediatrics, verified, SCHEDULE
    beijing_doctor: Account  # Beijing orthopaedics, verified, SCHEDULE
    admin: Account  # of Shanghai
    other_admin: Account  # of Beijing
    patient_a: Account
    patient_b: Account
    _phones: Iterator[int] = field(factory=lambda: iter(range(15_000_000_000, 16_000_000_000)))

    def new_phone(self) -> str:
        return str(next(self._phones))

    def login(self, phone: str, role: str, password: str = PASSWORD) -> str:
        result = self.api.post(
            "/v1/sessions", json={"phone": phone, "password": password, "role": role}
        )
        return str(ok(result)["token"])

    def register_patient(self, name: str, phone: str | None = None) -> Account:
        phone = phone or self.new_phone()
        body = {"phone": phone, "name": name, "password": PASSWORD}
        created = ok(self.api.post("/v1/patients", json=body), 201)
        return Account(created["id"], phone, name, self.login(phone, "patient"))

    def register_doctor(self, name: str) -> Account:
        phone = self.new_phone()
        body = {"phone": phone, "name": name, "password": PASSWORD}
        created = ok(self.api.post("/v1/doctors", json=body), 201)
        return Account(created["id"], phone, name, self.login(phone, "doctor"))

    def book(
        self,
        patient: Account,
        date: dt.date,
        period: str = "morning",
        doctor: Account | None = None,
    ) -> dict[str, Any]:
        body = {"doctor_id": (doctor or self.doctor).id, "date": date.isoformat(), "period": period}
        return ok(self.api.post("/v1/appointments", token=patient.token, json=body), 201)  # type: ignore[no-any-return]

    def remaining(self, date: dt.date, period: str, doctor: Account | None = None) -> int | None:
        params = {"from": date.isoformat(), "to": date.isoformat()}
        found = ok(
            self.api.get(f"/v1/doctors/{(doctor or self.doctor).id}/sessions", params=params)
        )
        return next((s["remaining"] for s in found if s["period"] == period), None)


def build_world(services: Services, api: Api, clock: ManualClock) -> World:
    directory, accounts = services.directory, services.accounts
    shanghai = directory.add_hospital(
        "Ruijin Hospital", "197 Ruijin 2nd Road, Shanghai", GeoPoint(31.2122, 121.4688)
    )
    beijing = directory.add_hospital(
        "Peking Union Medical College Hospital",
        "1 Shuaifuyuan, Dongcheng District, Beijing",
        GeoPoint(39.9127, 116.4171),
    )
    assert shanghai.id is not None and beijing.id is not None
    cardiology = directory.add_department(shanghai.id, "Cardiology", "Heart and vessels")
    paediatrics = directory.add_department(shanghai.id, "Paediatrics", "Children")
    orthopaedics = directory.add_department(beijing.id, "Orthopaedics", "Bones and joints")
    assert cardiology.id and paediatrics.id and orthopaedics.id

    def doctor(hospital_id: int, department_id: int, name: str, phone: str, rank: Rank) -> Account:
        made = directory.add_doctor(
            hospital_id, department_id, name=name, phone=phone, rank=rank, specialty="general"
        )
        assert made.id is not None
        directory.set_schedule(made.id, SCHEDULE)
        directory.set_verified(made.id, True)
        accounts.grant_login(Role.DOCTOR, made.id, phone, PASSWORD)
        return Account(made.id, phone, name, "")

    def admin(hospital_id: int, name: str, phone: str) -> Account:
        made = accounts.create_admin(hospital_id, phone, name, PASSWORD)
        assert made.id is not None
        return Account(made.id, phone, name, "")

    world = World(
        services,
        api,
        clock,
        shanghai.id,
        beijing.id,
        cardiology.id,
        paediatrics.id,
        orthopaedics.id,
        doctor(shanghai.id, cardiology.id, "Zhang Wei", "13900000001", Rank.CHIEF),
        doctor(shanghai.id, paediatrics.id, "Liu Yang", "13900000002", Rank.RESIDENT),
        doctor(beijing.id, orthopaedics.id, "Chen Jie", "13900000003", Rank.ATTENDING),
        admin(shanghai.id, "Shanghai Admin", "13700000001"),
        admin(beijing.id, "Beijing Admin", "13700000002"),
        Account(0, "", "", ""),
        Account(0, "", "", ""),
    )
    for account in (world.doctor, world.paediatrician, world.beijing_doctor):
        account.token = world.login(account.phone, "doctor")
    for account in (world.admin, world.other_admin):
        account.token = world.login(account.phone, "admin")
    world.patient_a = world.register_patient("Wang Xiaoming", "13800000001")
    world.patient_b = world.register_patient("Zhao Li", "13800000002")
    return world
