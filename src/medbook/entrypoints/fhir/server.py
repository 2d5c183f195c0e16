"""A FHIR R4 server over medbook's services, without HTTP: read, search, book, and the
CapabilityStatement of exactly those.

``FhirServer(services, base_url)`` answers dicts of FHIR JSON. Every answer goes through the same
services as the v1 API, with the same rules: the directory and open slots are public; a patient
reads their own appointments, observations and demographics; a doctor reads their own
appointments, and a patient's observations and demographics only under an active family-doctor
contract, each observation read written to the patient's access log (``HealthFileService``).
Refusals are the services' domain errors (``NotFound``, ``Forbidden``, ``SessionFull``…) or a
``FhirError`` for what is wrong with the FHIR request itself; ``outcome.operation_outcome`` turns
either into an OperationOutcome.

The table ``KINDS`` is what the server does: the dispatch reads it, and so does the
CapabilityStatement, which therefore lists exactly what is implemented.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from medbook.domain.booking.sessions import OfferedSession
from medbook.domain.directory.model import DEFAULT_TIMEZONE, Doctor, Hospital
from medbook.domain.records.vitals import VitalSign
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    DoctorNotFound,
    Forbidden,
    InvalidValue,
    NotFound,
    Unauthenticated,
)
from medbook.entrypoints.fhir import resources as r
from medbook.entrypoints.fhir.search import (
    DateParam,
    FhirError,
    bad_parameter,
    date_params,
    reference_id,
    single,
    token,
)
from medbook.ports.booking import AppointmentView

if TYPE_CHECKING:
    from medbook.bootstrap import Services

Resource = r.Resource
Params = Mapping[str, Sequence[str]]

FHIR_VERSION = "4.0.1"
#: When this CapabilityStatement was last changed (its ``date``, which FHIR requires).
CAPABILITY_DATE = "2026-12-02"
#: Search parameters every search takes and ignores: the answer's format is always JSON.
IGNORED = frozenset({"_format"})
#: The zone a date without an offset is read in when no hospital's zone applies (observations).
SERVER_ZONE = zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)


@frozen
class SearchParam:
    name: str
    type: str  # FHIR's search parameter type: reference, date, token, string
    documentation: str
    required: bool = False


Reader = Callable[["FhirServer", Actor | None, str], Resource]
Searcher = Callable[["FhirServer", Actor | None, Params], list[Resource]]


@frozen
class Kind:
    """One resource type: how it is read, searched (None: not searchable) and with what."""

    read: Reader
    documentation: str
    search: Searcher | None = None
    params: tuple[SearchParam, ...] = ()
    create: bool = False


class ResourceNotFound(NotFound):
    """No resource of that type and id, or none the caller may see."""

    code = "resource_not_found"


def _not_found(resource_type: str, resource_id: str) -> NotFound:
    return ResourceNotFound(f"no {resource_type} {resource_id!r}")


def _number(resource_type: str, resource_id: str) -> int:
    found = r.number_id(resource_id)
    if found is None:
        raise _not_found(resource_type, resource_id)
    return found


def _need_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthenticated("send a bearer token: Authorization: Bearer <token>")
    return actor


def _patient_or_doctor(actor: Actor | None, what: str) -> Actor:
    """The caller, who must be logged in as a patient or a doctor (401, else 403)."""
    me = _need_actor(actor)
    if me.role not in (Role.PATIENT, Role.DOCTOR):
        raise Forbidden(f"only patients and doctors {what}")
    return me


def _without_slash(url: str) -> str:
    return url.rstrip("/")


@define
class FhirServer:
    services: Services
    #: The absolute URL of this FHIR base (``https://api.example.org/fhir/R4``): entries'
    #: ``fullUrl`` and the bundle's ``self`` link; empty, both are left out.
    base_url: str = field(default="", converter=_without_slash)

    # --- the interactions ------------------------------------------------------------------------

    def metadata(self) -> Resource:
        return capability_statement(self.base_url)

    def read(self, actor: Actor | None, resource_type: str, resource_id: str) -> Resource:
        return _kind(resource_type).read(self, actor, resource_id)

    def search(
        self, actor: Actor | None, resource_type: str, params: Params, self_url: str = ""
    ) -> Resource:
        kind = _kind(resource_type)
        if kind.search is None:
            raise FhirError(
                405,
                "not-supported",
                f"{resource_type} cannot be searched here",
                code="not_searchable",
                allow=("POST",) if kind.create else (),
            )
        known = {p.name for p in kind.params}
        for name in params:
            if name not in known and name not in IGNORED:
                raise FhirError(
                    400,
                    "not-supported",
                    f"{resource_type} is not searched by {name!r} here "
                    f"(it is by: {', '.join(sorted(known))})",
                    expression=name,
                    code="unknown_search_parameter",
                )
        for param in kind.params:
            if param.required and param.name not in params:
                raise bad_parameter(param.name, f"a {resource_type} search needs it")
        found = kind.search(self, actor, params)
        return self.bundle(found, self_url)

    def check_create(self, actor: Actor | None, resource_type: str) -> Actor:
        """Who may create a ``resource_type``, asked before its body is read: only an
        Appointment can be created, by a patient (401, 403, 404, 405 otherwise)."""
        kind = _kind(resource_type)
        if not kind.create:
            raise FhirError(
                405,
                "not-supported",
                f"{resource_type} cannot be created here",
                code="not_creatable",
                allow=("GET",) if kind.search is not None else (),
            )
        me = _need_actor(actor)
        if me.role is not Role.PATIENT:
            raise Forbidden("only a patient books an appointment")
        return me

    def create(self, actor: Actor | None, resource_type: str, resource: object) -> Resource:
        """Create a resource: only an Appointment, which books its slot."""
        return self._book(self.check_create(actor, resource_type), resource)

    def bundle(self, found: Sequence[Resource], self_url: str = "") -> Resource:
        entries = []
        for resource in found:
            entry: Resource = {"resource": resource, "search": {"mode": "match"}}
            if self.base_url:
                entry = {"fullUrl": self.url_of(resource), **entry}
            entries.append(entry)
        bundle: Resource = {"resourceType": "Bundle", "type": "searchset", "total": len(found)}
        if self_url:
            bundle["link"] = [{"relation": "self", "url": self_url}]
        if entries:  # FHIR's JSON has no empty arrays
            bundle["entry"] = entries
        return bundle

    def url_of(self, resource: Resource) -> str:
        return f"{self.base_url}/{resource['resourceType']}/{resource['id']}"

    # --- the directory ---------------------------------------------------------------------------

    @property
    def _policy(self) -> Any:
        return self.services.booking.policy

    def _organization(self, actor: Actor | None, resource_id: str) -> Resource:
        return r.organization(self._hospital("Organization", resource_id))

    def _location(self, actor: Actor | None, resource_id: str) -> Resource:
        return r.location(self._hospital("Location", resource_id))

    def _hospital(self, resource_type: str, resource_id: str) -> Hospital:
        try:
            return self.services.directory.hospital(_number(resource_type, resource_id))
        except NotFound:
            raise _not_found(resource_type, resource_id) from None

    def _organizations(self, actor: Actor | None, params: Params) -> list[Resource]:
        return [r.organization(h) for h in self.services.directory.hospitals()]

    def _healthcare_service(self, actor: Actor | None, resource_id: str) -> Resource:
        parsed = r.parse_healthcare_service_id(resource_id)
        if parsed is None:
            raise _not_found("HealthcareService", resource_id)
        kind, number = parsed
        directory = self.services.directory
        try:
            if kind == "department":
                department = directory.department(number)
                return r.department_service(department, directory.hospital(department.hospital_id))
            service = self.services.orders.service(number).service
            return r.care_service(service, directory.hospital(service.hospital_id))
        except NotFound:
            raise _not_found("HealthcareService", resource_id) from None

    def _card(self, resource_type: str, resource_id: str) -> Any:
        try:
            return self.services.directory.public_card(_number(resource_type, resource_id))
        except NotFound:
            raise _not_found(resource_type, resource_id) from None

    def _practitioner(self, actor: Actor | None, resource_id: str) -> Resource:
        return r.practitioner(self._card("Practitioner", resource_id).doctor)

    def _practitioner_role(self, actor: Actor | None, resource_id: str) -> Resource:
        card = self._card("PractitionerRole", resource_id)
        return r.practitioner_role(card.doctor, card.hospital, card.department, self._policy)

    def _practitioners(self, actor: Actor | None, params: Params) -> list[Resource]:
        name = single("name", params["name"])
        try:
            doctors = self.services.directory.doctors_named(name)
        except InvalidValue as error:
            raise bad_parameter("name", error.message.split(": ", 1)[-1]) from None
        return [r.practitioner(d) for d in doctors]

    def _schedule(self, actor: Actor | None, resource_id: str) -> Resource:
        return self._schedule_of(self._card("Schedule", resource_id))

    def _schedule_of(self, card: Any) -> Resource:
        horizon = None
        if card.hospital is not None:
            tz = card.hospital.tz
            first, last = self._policy.open_dates(self.services.clock.now(), tz)
            horizon = (
                max(self.services.clock.now().astimezone(tz), _midnight(first, tz)),
                _midnight(last + dt.timedelta(days=1), tz),
            )
        return r.schedule(card.doctor, card.hospital, card.department, horizon)

    def _schedules(self, actor: Actor | None, params: Params) -> list[Resource]:
        doctor_id = reference_id(
            "actor", single("actor", params["actor"]), "Practitioner", self.base_url
        )
        try:
            card = self.services.directory.public_card(doctor_id)
        except NotFound:
            return []
        return [self._schedule_of(card)]

    # --- slots -----------------------------------------------------------------------------------

    def _slot(self, actor: Actor | None, resource_id: str) -> Resource:
        session = r.parse_slot_id(resource_id)
        if session is None:
            raise _not_found("Slot", resource_id)
        try:
            card = self.services.directory.public_card(session.doctor_id)
            state = self.services.booking.session_state(session)
        except NotFound:
            raise _not_found("Slot", resource_id) from None
        if state is None or card.hospital is None:
            raise _not_found("Slot", resource_id)  # a session the doctor does not keep
        times = r.SessionTimes.of(self._policy, session, card.hospital.tz)
        return r.slot(state.places, times, is_open=state.open, on_leave=state.on_leave)

    def _slot_of(self, places: OfferedSession, tz: dt.tzinfo) -> Resource:
        return r.slot(places, r.SessionTimes.of(self._policy, places.session, tz), is_open=True)

    def _slots(self, actor: Actor | None, params: Params) -> list[Resource]:
        doctor_id = reference_id(
            "schedule", single("schedule", params["schedule"]), "Schedule", self.base_url
        )
        statuses = _choices("status", params.get("status", ()), {"free", "busy"})
        date_params("start", params.get("start", ()), dt.UTC)  # refused before any lookup
        try:
            card = self.services.directory.public_card(doctor_id)
        except DoctorNotFound:
            return []
        if card.hospital is None:
            return []
        tz = card.hospital.tz
        starts = date_params("start", params.get("start", ()), tz)
        first, last = self._policy.open_dates(self.services.clock.now(), tz)
        lows = [first] + [p.earliest.astimezone(tz).date() for p in starts if p.earliest]
        highs = [last] + [p.latest.astimezone(tz).date() for p in starts if p.latest]
        low, high = max(lows), min(highs)
        if low > high:
            return []
        found = []
        for places in self.services.booking.offered_sessions(doctor_id, low, high):
            resource = self._slot_of(places, tz)
            start = r.SessionTimes.of(self._policy, places.session, tz).start
            if all(p.matches(start) for p in starts) and (
                statuses is None or resource["status"] in statuses
            ):
                found.append(resource)
        return found

    # --- appointments ----------------------------------------------------------------------------

    def _appointment(self, actor: Actor | None, resource_id: str) -> Resource:
        me = _patient_or_doctor(actor, "have appointments")
        number = _number("Appointment", resource_id)
        view = self.services.booking.appointment_as(me, number)
        return self._appointment_of(view, me, {})

    def _appointment_of(
        self, view: AppointmentView, me: Actor, places: dict[int, tuple[Doctor, Hospital | None]]
    ) -> Resource:
        booked = view.appointment
        if booked.doctor_id not in places:
            doctor = self.services.directory.doctor(booked.doctor_id)
            hospital = (
                self.services.directory.hospital(doctor.hospital_id)
                if doctor.hospital_id is not None
                else None
            )
            places[booked.doctor_id] = (doctor, hospital)
        doctor, hospital = places[booked.doctor_id]
        tz = hospital.tz if hospital else SERVER_ZONE
        return r.appointment(
            booked,
            r.SessionTimes.of(self._policy, booked.session, tz),
            doctor_name=view.doctor_name,
            hospital=hospital,
            patient_name=view.patient_name if me.role is Role.DOCTOR else None,
        )

    def _appointments(self, actor: Actor | None, params: Params) -> list[Resource]:
        me = _patient_or_doctor(actor, "have appointments")
        patient = _reference_param(params, "patient", "Patient", self.base_url)
        practitioner = _reference_param(params, "practitioner", "Practitioner", self.base_url)
        if me.role is Role.PATIENT and patient not in (None, me.id):
            raise Forbidden("a patient searches their own appointments only")
        if me.role is Role.DOCTOR and practitioner not in (None, me.id):
            raise Forbidden("a doctor searches their own appointments only")
        statuses = _choices("status", params.get("status", ()), set(r.APPOINTMENT_STATUS.values()))
        dates = list(params.get("date", ()))
        places: dict[int, tuple[Doctor, Hospital | None]] = {}
        parsed: dict[str, list[DateParam]] = {}
        found = []
        for view in self.services.booking.appointments_as(me):
            booked = view.appointment
            if patient is not None and booked.patient_id != patient:
                continue
            if practitioner is not None and booked.doctor_id != practitioner:
                continue
            resource = self._appointment_of(view, me, places)
            if statuses is not None and resource["status"] not in statuses:
                continue
            if dates:
                _, hospital = places[booked.doctor_id]
                zone = hospital.timezone if hospital else DEFAULT_TIMEZONE
                if zone not in parsed:
                    parsed[zone] = date_params("date", dates, zoneinfo.ZoneInfo(zone))
                start = r.SessionTimes.of(
                    self._policy, booked.session, zoneinfo.ZoneInfo(zone)
                ).start
                if not all(p.matches(start) for p in parsed[zone]):
                    continue
            found.append(resource)
        return found

    def _book(self, me: Actor, resource: object) -> Resource:
        """Book the slot a proposed Appointment names, for the patient who sends it."""
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "Appointment":
            raise FhirError(
                400, "structure", "send an Appointment resource", expression="resourceType"
            )
        status = resource.get("status")
        if status not in ("proposed", "pending", "booked"):
            raise FhirError(
                422,
                "value",
                "a new appointment is proposed, pending or booked",
                expression="Appointment.status",
            )
        slots = resource.get("slot")
        if not isinstance(slots, list) or len(slots) != 1 or not isinstance(slots[0], Mapping):
            raise FhirError(
                422, "required", "name exactly one Slot to book", expression="Appointment.slot"
            )
        session = r.parse_slot_id(self._referenced("Appointment.slot", slots[0], {"Slot"})[1])
        if session is None:
            raise FhirError(422, "value", "that Slot does not exist", expression="Appointment.slot")
        participants = resource.get("participant")
        if not isinstance(participants, list) or not participants:
            raise FhirError(
                422,
                "required",
                "name the patient as a participant",
                expression="Appointment.participant",
            )
        patients, practitioners = set(), set()
        for participant in participants:
            actor = participant.get("actor") if isinstance(participant, Mapping) else None
            if not isinstance(actor, Mapping) or not isinstance(actor.get("reference"), str):
                raise FhirError(
                    422,
                    "required",
                    "each participant references its actor",
                    expression="Appointment.participant.actor",
                )
            kind, actor_id = self._referenced("Appointment.participant.actor", actor, PARTICIPANTS)
            if kind == "Patient":
                patients.add(actor_id)
            elif kind == "Practitioner":
                practitioners.add(actor_id)
        if patients != {str(me.id)}:
            raise FhirError(
                403,
                "forbidden",
                "a patient books for themselves: name yourself, and only yourself, as the Patient",
                expression="Appointment.participant.actor",
                code="forbidden",
            )
        if practitioners - {str(session.doctor_id)}:
            raise FhirError(
                422,
                "business-rule",
                "the Practitioner is not the one whose Slot this is",
                expression="Appointment.participant.actor",
            )
        view = self.services.booking.book_as(me, session.doctor_id, session.date, session.period)
        return self._appointment_of(view, me, {})

    def _referenced(
        self, expression: str, value: Mapping[str, Any], types: Set[str]
    ) -> tuple[str, str]:
        """(type, id) of a reference (``{"reference": "Slot/…"}``) to a resource of one of
        ``types`` on this server; a 422 naming ``expression`` for any other."""
        text = value.get("reference")
        if not isinstance(text, str):
            raise FhirError(422, "required", "give the reference", expression=expression)
        local = r.local_reference(text, self.base_url)
        if local is None or local[0] not in types:
            raise FhirError(
                422,
                "value",
                f"reference a {' or '.join(sorted(types))} of this server ({text[:100]!r} is not)",
                expression=expression,
            )
        return local

    # --- patients and observations ---------------------------------------------------------------

    def _patient(self, actor: Actor | None, resource_id: str) -> Resource:
        me = _patient_or_doctor(actor, "read patients")
        number = _number("Patient", resource_id)
        person = self.services.health.patient_as(me, number)
        return r.patient(person, with_contact=me.role is Role.PATIENT)

    def _observation(self, actor: Actor | None, resource_id: str) -> Resource:
        me = _patient_or_doctor(actor, "read observations")
        number = _number("Observation", resource_id)
        return r.observation(self.services.health.vital_as(me, number))

    def _observations(self, actor: Actor | None, params: Params) -> list[Resource]:
        me = _patient_or_doctor(actor, "read observations")
        patient = _reference_param(params, "patient", "Patient", self.base_url)
        if me.role is Role.DOCTOR and patient is None:
            raise bad_parameter("patient", "a doctor names the patient")
        codes = _codes(params.get("code", ()))
        dates = date_params("date", params.get("date", ()), SERVER_ZONE)
        kinds = {r.VITAL_CODES[code] for code in codes} if codes is not None else None
        earliest = [p.earliest for p in dates if p.earliest is not None]
        latest = [p.latest for p in dates if p.latest is not None]
        start, end = (max(earliest) if earliest else None), (min(latest) if latest else None)
        if start is not None and end is not None and end <= start:
            return []
        vitals: Sequence[VitalSign] = self.services.health.vitals_as(
            me,
            patient,
            next(iter(kinds)) if kinds is not None and len(kinds) == 1 else None,
            start,
            end,
        )
        return [
            r.observation(v)
            for v in vitals
            if (codes is None or codes & set(r.observation_codes(v)))
            and all(p.matches(v.measured_at) for p in dates)
        ]


def _midnight(date: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(), tzinfo=tz)


def _reference_param(
    params: Params, name: str, resource_type: str, base_url: str = ""
) -> int | None:
    if name not in params:
        return None
    return reference_id(name, single(name, params[name]), resource_type, base_url)


#: Who may take part in an appointment booked here.
PARTICIPANTS = frozenset({"Patient", "Practitioner", "Location"})


def _choices(name: str, values: Sequence[str], allowed: set[str]) -> set[str] | None:
    """The codes of a token parameter over a fixed set (comma-separated: any of them)."""
    if not values:
        return None
    found = set()
    for value in single(name, values).split(","):
        if value not in allowed:
            raise bad_parameter(name, f"{value!r} is not one of {sorted(allowed)}")
        found.add(value)
    return found


def _codes(values: Sequence[str]) -> set[str] | None:
    """The LOINC codes of ``code`` (``http://loinc.org|8867-4`` or ``8867-4``; a comma: any)."""
    if not values:
        return None
    found = set()
    for value in single("code", values).split(","):
        system, code = token("code", value)
        if system not in (None, r.LOINC) or code not in r.VITAL_CODES:
            raise bad_parameter("code", f"{value!r} is not a vital sign medbook records")
        found.add(code)
    return found


KINDS: dict[str, Kind] = {
    "Organization": Kind(
        FhirServer._organization,
        "A hospital.",
        search=FhirServer._organizations,
    ),
    "Location": Kind(FhirServer._location, "A hospital's site: its address and position."),
    "HealthcareService": Kind(
        FhirServer._healthcare_service,
        "A department (department-<id>) or a home-visit service (service-<id>).",
    ),
    "Practitioner": Kind(
        FhirServer._practitioner,
        "A doctor their hospital approved.",
        search=FhirServer._practitioners,
        params=(
            SearchParam(
                "name",
                "string",
                "The doctor's name, or a word of it, starts with this (without case).",
                required=True,
            ),
        ),
    ),
    "PractitionerRole": Kind(
        FhirServer._practitioner_role,
        "A doctor's rank, specialty, hospital and department, and the hours they keep.",
    ),
    "Schedule": Kind(
        FhirServer._schedule,
        "A doctor's sessions open for booking (one schedule per doctor).",
        search=FhirServer._schedules,
        params=(
            SearchParam("actor", "reference", "The doctor: Practitioner/<id>.", required=True),
        ),
    ),
    "Slot": Kind(
        FhirServer._slot,
        "One session of a doctor open for booking: free while places are left, else busy.",
        search=FhirServer._slots,
        params=(
            SearchParam("schedule", "reference", "Schedule/<id>.", required=True),
            SearchParam(
                "start",
                "date",
                "The slot's start (eq, ne, gt, ge, lt, le; repeat for a range; without an "
                "offset, in the hospital's time zone).",
            ),
            SearchParam("status", "token", "free or busy (a comma: either)."),
        ),
    ),
    "Appointment": Kind(
        FhirServer._appointment,
        "A patient's place in a doctor's session. Create one (POST, status proposed) with the "
        "Slot and the patient to book it.",
        search=FhirServer._appointments,
        create=True,
        params=(
            SearchParam("patient", "reference", "Patient/<id>: a patient's own only."),
            SearchParam("practitioner", "reference", "Practitioner/<id>: a doctor's own only."),
            SearchParam(
                "date",
                "date",
                "The appointment's start (prefixes as for Slot.start; in the hospital's zone).",
            ),
            SearchParam("status", "token", "booked, cancelled, fulfilled or noshow."),
        ),
    ),
    "Patient": Kind(
        FhirServer._patient,
        "The minimum necessary: to the patient, and to a doctor under a family-doctor contract.",
    ),
    "Observation": Kind(
        FhirServer._observation,
        "A vital sign (LOINC, UCUM); a doctor's read is in the patient's access log.",
        search=FhirServer._observations,
        params=(
            SearchParam(
                "patient",
                "reference",
                "Patient/<id>: a patient's own; a doctor's under an active contract (required).",
            ),
            SearchParam("code", "token", "A LOINC code (http://loinc.org|8867-4); a comma: any."),
            SearchParam(
                "date",
                "date",
                "When it was measured (prefixes as for Slot.start; without an offset, "
                "Asia/Shanghai).",
            ),
        ),
    ),
}


def _kind(resource_type: str) -> Kind:
    found = KINDS.get(resource_type)
    if found is None:
        raise FhirError(
            404,
            "not-supported",
            f"this server has no resource type {resource_type!r}",
            code="unknown_resource_type",
        )
    return found


def capability_statement(base_url: str = "") -> Resource:
    """What this server does, made from ``KINDS``: nothing more, nothing less."""
    from medbook import __version__

    rest_resources = []
    for name, kind in KINDS.items():
        interactions = [{"code": "read"}]
        if kind.search is not None:
            interactions.append({"code": "search-type"})
        if kind.create:
            interactions.append({"code": "create"})
        entry: Resource = {
            "type": name,
            "documentation": kind.documentation,
            "interaction": interactions,
        }
        if kind.params:
            entry["searchParam"] = [
                {"name": p.name, "type": p.type, "documentation": p.documentation}
                for p in kind.params
            ]
        rest_resources.append(entry)
    statement: Resource = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": "medbook",
        "kind": "instance",
        "software": {"name": "medbook", "version": __version__},
        "implementation": {"description": "medbook's FHIR R4 interface"},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read and search; an Appointment is created to book its Slot. "
                "Unknown search parameters are refused (strict handling).",
                "security": {
                    "description": "The directory and open slots are public. Appointments, "
                    "patients and observations need a medbook bearer token (POST "
                    "/v1/sessions): a patient's own; a doctor's own appointments, and a "
                    "patient's observations under a family-doctor contract, audited.",
                },
                "resource": rest_resources,
            }
        ],
    }
    if base_url:
        statement["implementation"]["url"] = base_url.rstrip("/")
    return statement
