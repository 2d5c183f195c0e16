"""What the HTTP integration tests share: the moment they stand at, a client that checks every
response against the app's own OpenAPI document, problem+json assertions, identity numbers, and a
small world of hospitals, doctors, admins and patients.

2026-11-25T00:30Z is Wednesday 08:30 in Shanghai: today's morning session (08:00) has started,
today's afternoon session (13:30) is still open, and the 14-day window closes after 2026-12-09.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

import falcon
import falcon.testing
from attrs import define, field
from PIL import Image
from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.security import Argon2Hasher
from medbook.adapters.sql import SqlUnitOfWork
from medbook.bootstrap import Services, build_services
from medbook.domain import GeoPoint, Rank, WeeklySchedule
from medbook.domain.shared.actors import Role
from medbook.entrypoints.http.app import PLAIN_ROUTES, create_app
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
#: ... and uploads up to this size: larger than a JSON body may be, and still cheap to exceed.
MAX_UPLOAD_BYTES = 64 * 1024


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
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
}
#: ``binary`` is OpenAPI's: the instance is the raw bytes of a body, never a JSON value.
_KNOWN_FORMATS = {"date", "date-time", "binary"}
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


#: ECMAScript's \s (JSON Schema patterns are ECMAScript regexes), which Python's \s is not.
_ECMA_SPACES = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


@functools.cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` (a JSON Schema ``pattern``, an ECMAScript regex) as a Python regex of the same
    meaning, for ``re.search``: ``$`` ends the string (Python's also matches before a final
    newline), ``.`` stops at every line terminator, ``\\d`` and ``\\w`` are ASCII, ``\\s`` is
    ECMAScript's. A construct whose meaning it cannot carry over raises ``SchemaMismatch``."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i : i + 2]
            if escape == "\\s":
                out.append(_ECMA_SPACES if in_class else f"[{_ECMA_SPACES}]")
            elif escape == "\\S" and not in_class:
                out.append(f"[^{_ECMA_SPACES}]")
            elif escape in ("\\S", "\\c", "\\p", "\\P", "\\k") or escape[1:2].isdigit():
                raise SchemaMismatch(f"the checker cannot read {escape!r} in pattern {pattern!r}")
            else:
                out.append(escape)
            i += 2
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            if pattern[i + 1 : i + 2] == "]" or pattern[i + 1 : i + 3] == "^]":
                raise SchemaMismatch(f"the checker cannot read {pattern!r} (an empty class)")
            in_class = True
            out.append(char)
        elif char == "$":
            out.append(r"\Z")
        elif char == ".":
            out.append(r"[^\n\r\u2028\u2029]")
        elif pattern[i : i + 3] == "(?<" and pattern[i + 3 : i + 4] not in ("=", "!"):
            raise SchemaMismatch(f"the checker cannot read named groups in {pattern!r}")
        else:
            out.append(char)
        i += 1
    return re.compile("".join(out), re.ASCII)


def validate(instance: Any, schema: Mapping[str, Any], document: Mapping[str, Any]) -> None:
    """Raise ``SchemaMismatch`` unless ``instance`` fits ``schema`` (JSON Schema 2020-12, the
    subset the document uses; an unknown keyword fails rather than passing unchecked).

    A ``{"type": "string", "format": "binary"}`` body (OpenAPI's raw bytes) takes ``bytes``."""
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
    if "format" in schema and schema["format"] not in _KNOWN_FORMATS:
        yield f"{at}: the checker does not know the format {schema['format']!r}"
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
    if schema.get("format") == "binary":
        if schema.get("type") != "string" or set(schema) - {"type", "format", "description"}:
            yield f"{at}: the checker knows binary only as a plain string: {dict(schema)}"
        elif not isinstance(value, bytes):
            yield f"{at}: {value!r:.60} is not raw bytes"
        return
    if "type" in schema and not _TYPES[schema["type"]](value):
        yield f"{at}: {value!r} is not of type {schema['type']}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{at}: {value!r} is not one of {schema['enum']}"
    if schema.get("format") == "date" and not _is_date(value):
        yield f"{at}: {value!r} is not a date"
    if schema.get("format") == "date-time" and not _is_datetime(value):
        yield f"{at}: {value!r} is not a timestamp with an offset"
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            yield f"{at}: {value!r} is less than the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            yield f"{at}: {value!r} is more than the maximum {schema['maximum']}"
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            yield f"{at}: {value!r} is not more than {schema['exclusiveMinimum']}"
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            yield f"{at}: {value!r} is not less than {schema['exclusiveMaximum']}"
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            yield f"{at}: fewer than {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield f"{at}: more than {schema['maxItems']} items"
    if isinstance(value, str):
        # JSON Schema counts characters (code points), as Python's len does.
        if "minLength" in schema and len(value) < schema["minLength"]:
            yield f"{at}: {value!r} is shorter than {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield f"{at}: {value!r:.60} is longer than {schema['maxLength']} characters"
        # search, not fullmatch: a JSON Schema pattern is unanchored unless it anchors itself.
        if "pattern" in schema and not ecma_pattern(schema["pattern"]).search(value):
            yield f"{at}: {value!r} does not match the pattern {schema['pattern']!r}"
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


#: Routes outside ROUTES and PLAIN_ROUTES, each with a format of its own: stored files, and
#: Prometheus metrics (text).
OTHER_ROUTES = (
    ("/files/{key:path}", "GET"),
    ("/metrics", "GET"),
    ("/", "GET"),  # the web client (medbook.entrypoints.web)
    ("/web/{name:path}", "GET"),
    # FHIR R4 (medbook.entrypoints.http.fhir): FHIR JSON, OperationOutcomes for errors.
    ("/fhir/R4/metadata", "GET"),
    ("/fhir/R4/{resource_type}", "GET"),
    ("/fhir/R4/{resource_type}", "POST"),
    ("/fhir/R4/{resource_type}/{resource_id}", "GET"),
)

#: The largest id a ``{name:id}`` path segment names: ids are positive 32-bit integers.
MAX_ID = 2**31 - 1

_FIELD = re.compile(r"{(?P<name>\w+)(?::(?P<conv>\w+))?}")


def _id_segment(value: str) -> bool:
    return value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ID


def _template_pattern(path: str) -> tuple[re.Pattern[str], list[Callable[[str], bool]]]:
    """A regex of ``path``'s template, and a check per field of what its converter accepts."""
    checks: list[Callable[[str], bool]] = []

    def group(match: re.Match[str]) -> str:
        conv = match["conv"]
        if conv == "path":  # the rest of the path, slashes included
            checks.append(bool)
            return r"(.+)"
        if conv == "id":
            checks.append(_id_segment)
        elif conv is None:
            checks.append(bool)
        else:
            raise AssertionError(f"{path}: the tests do not know the converter {conv!r}")
        return r"([^/]+)"

    body, end = "", 0
    for match in _FIELD.finditer(path):
        body += re.escape(path[end : match.start()]) + group(match)
        end = match.end()
    return re.compile(body + re.escape(path[end:])), checks


def openapi_path(path: str) -> str:
    """A route's path as the document names it: ``/v1/doctors/{doctor_id}``."""
    return re.sub(r"{(\w+):\w+}", r"{\1}", path)


#: (pattern, field checks, path as in the document, methods) of every route the app serves.
_ROUTE_PATTERNS = (
    [(*_template_pattern(r.path), openapi_path(r.path), set(r.operations)) for r in ROUTES]
    + [(*_template_pattern(p), p, {m}) for p, m, _ in PLAIN_ROUTES]
    + [(*_template_pattern(p), openapi_path(p), {m}) for p, m in OTHER_ROUTES]
)


def operation_of(method: str, path: str) -> str | None:
    """The document's path of the operation that serves ``method path`` (None when no route
    matches, e.g. ``/v1/doctors/0``: an id converter refuses the segment)."""
    path = unquote(path).rstrip("/") or "/"  # the app routes the decoded path
    for pattern, checks, documented, methods in _ROUTE_PATTERNS:
        match = pattern.fullmatch(path)
        if (
            method in methods
            and match
            and all(check(value) for check, value in zip(checks, match.groups(), strict=True))
        ):
            return documented
    return None


def served_by(app: falcon.App[Any, Any]) -> set[tuple[str, str]]:
    """(path template, method) of every responder the app's router really holds; Falcon's own
    405 and OPTIONS responders left out."""
    found: set[tuple[str, str]] = set()
    pending: list[Any] = list(app._router._roots)  # Falcon has no public way to list its routes
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.resource is None:
            continue
        for method, responder in node.method_map.items():
            if getattr(responder, "__self__", None) is node.resource:
                found.add((str(node.uri_template), method))
    return found


def media_range(media_type: str, content: Mapping[str, Any]) -> str | None:
    """The key of ``content`` (a media type or range such as ``image/*``) ``media_type`` falls
    under, the most specific first."""
    for candidate in (media_type, media_type.split("/")[0] + "/*", "*/*"):
        if candidate in content:
            return candidate
    return None


def is_binary(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "string" and schema.get("format") == "binary"


def file_path(url: str) -> str:
    """The path this app serves a stored object's URL at: ``/files/<key>`` itself (local storage
    with relative links), or for the in-memory storage's ``memory://objects/<key>``."""
    if url.startswith("/files/"):
        return url
    assert url.startswith("memory://objects/"), url
    return "/files/" + url.removeprefix("memory://objects/")


#: (documented path, method, status) of every response checked against the document.
CHECKED: set[tuple[str, str, int]] = set()


def _own_error_body(
    document: Mapping[str, Any], method: str, path: str, result: falcon.testing.Result
) -> bool:
    """The operation documents a body other than problem+json for this error status, and the
    answer is one (WeChat Pay's ``{code, message}``)."""
    documented = operation_of(method, path)
    if documented is None:
        return False
    media_type = (result.headers.get("content-type") or "").split(";")[0]
    responses = document["paths"][documented][method.lower()]["responses"]
    content = responses.get(str(result.status_code), {}).get("content", {})
    return media_type != PROBLEM and media_type in content


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

    def delete(self, path: str, **options: Any) -> falcon.testing.Result:
        return self.request("DELETE", path, **options)

    def upload(
        self, path: str, data: bytes, content_type: str, *, method: str = "POST", **options: Any
    ) -> falcon.testing.Result:
        """Send ``data`` as the raw body (a file upload)."""
        return self.request(method, path, body=data, content_type=content_type, **options)

    def check(self, method: str, path: str, result: falcon.testing.Result) -> None:
        """The answer is one its operation documents; an error is problem+json unless the
        operation documents another body for that status (a gateway's own answer format)."""
        media_type = (result.headers.get("content-type") or "").split(";")[0]
        if result.status_code >= 400 and not _own_error_body(self.document, method, path, result):
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
            f"does not declare (it declares {sorted(responses)}): "
            f"{result.content[:500].decode('utf-8', 'replace')}"
        )
        content = responses[status].get("content")
        if content is None:
            assert not result.content, f"{method} {path}: {status} declares no body"
        else:
            declared = media_range(media_type, content)
            assert declared, f"{method} {path}: {media_type!r} not in {list(content)}"
            schema = content[declared]["schema"]
            if declared.startswith("text/"):  # text, as a string
                validate(result.content.decode("utf-8"), schema, self.document)
            else:
                validate(
                    result.content if is_binary(schema) else result.json, schema, self.document
                )
        CHECKED.add((documented, method, result.status_code))


# --- files ---------------------------------------------------------------------------------------


def image(image_format: str, size: tuple[int, int] = (2, 2), color: int = 0xC81E1E) -> bytes:
    """A tiny valid image (or PDF: Pillow writes a one-page document) in ``image_format``."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=image_format)
    return buffer.getvalue()


PNG = image("PNG")
JPEG = image("JPEG")
GIF = image("GIF")
WEBP = image("WEBP")
PDF = image("PDF")
#: Uploadable files by the content type their bytes say they are.
FILES = {
    "image/png": PNG,
    "image/jpeg": JPEG,
    "image/gif": GIF,
    "image/webp": WEBP,
    "application/pdf": PDF,
}
#: A PNG whose second half is missing, and one whose pixel data fails its checksum.
TRUNCATED_PNG = PNG[: len(PNG) // 2]
CORRUPT_PNG = PNG[:45] + bytes([PNG[45] ^ 0xFF]) + PNG[46:]


def padded_pdf(size: int) -> bytes:
    """A PDF of exactly ``size`` bytes (a comment after its end: readers ignore it)."""
    assert size >= len(PDF) + 2
    return PDF + b"%" + b"x" * (size - len(PDF) - 2) + b"\n"


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


# --- races over HTTP on the real databases -------------------------------------------------------


def race(workers: int, attempt: Callable[[int], falcon.testing.Result]) -> Counter[str]:
    """Run ``attempt(i)`` on ``workers`` threads released at once; count the answers as
    ``"<status> <code>"``."""
    barrier = threading.Barrier(workers)

    def run(i: int) -> str:
        barrier.wait()
        result = attempt(i)
        code = result.json.get("code", "") if result.status_code >= 400 else ""
        return f"{result.status_code} {code}".strip()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Counter(pool.map(run, range(workers)))


def pooled_world(
    engine_factory: Callable[..., Engine], openapi_document: dict[str, Any], racers: int
) -> World:
    """A world on its own pooled engine: enough connections for every racer at once."""
    engine = engine_factory(pool_size=racers + 2, max_overflow=0, pool_timeout=120)
    clock = ManualClock(NOW)
    services = build_services(
        lambda: SqlUnitOfWork(engine),
        clock,
        hasher=fast_hasher(),
        max_upload_bytes=MAX_UPLOAD_BYTES,
    )
    app = create_app(services, max_body_bytes=MAX_BODY_BYTES)
    return build_world(services, Api(falcon.testing.TestClient(app), openapi_document), clock)
