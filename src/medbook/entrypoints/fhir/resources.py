"""medbook's objects as HL7 FHIR R4 resources (JSON, as dicts), and the ids that name them.

Every resource has a stable logical id made from medbook's own ids, and references between them
use those ids, so a client can follow ``Appointment.slot`` to a ``Slot``, ``Slot.schedule`` to a
``Schedule`` and ``Schedule.actor`` to a ``Practitioner`` without any lookup table:

- ``Organization/<hospital>`` and ``Location/<hospital>`` (a hospital is one site);
- ``HealthcareService/department-<id>`` and ``HealthcareService/service-<id>`` (a home visit);
- ``Practitioner/<doctor>``, ``PractitionerRole/<doctor>`` (one role: their hospital and
  department) and ``Schedule/<doctor>`` (the sessions they keep);
- ``Slot/<doctor>-<yyyymmdd>-<am|pm>``: one session (``Slot``'s start and end are the session's
  in the hospital's time zone; ``free`` while places are left, else ``busy``);
- ``Appointment/<id>``, ``Patient/<id>``, ``Observation/<id>`` (a vital sign).

Nothing here reads a store: the server (``server.py``) gathers what a resource needs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from attrs import frozen

from medbook.domain.accounts.model import Patient
from medbook.domain.booking.appointments import Appointment, AppointmentStatus, CancelledBy
from medbook.domain.booking.policy import BookingPolicy
from medbook.domain.booking.sessions import OfferedSession
from medbook.domain.directory.model import Department, Doctor, Hospital, Rank
from medbook.domain.orders.catalogue import CareService
from medbook.domain.records.vitals import KINDS, GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.calendar import PERIODS, WEEKDAYS, Period, Session
from medbook.domain.shared.entity import parse_id
from medbook.domain.shared.people import Sex

Resource = dict[str, Any]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CANCELLATION_REASON = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
#: medbook's own code systems and extensions (URNs: they name, they do not resolve).
RANK_SYSTEM = "urn:medbook:fhir:doctor-rank"
ERROR_SYSTEM = "urn:medbook:fhir:error"
CARE_CATEGORY_SYSTEM = "urn:medbook:fhir:care-service-category"
QUEUE_NUMBER = "urn:medbook:fhir:queue-number"
PLACES_LEFT = "urn:medbook:fhir:places-left"
GLUCOSE_CONTEXT = "urn:medbook:fhir:glucose-context"

APPOINTMENT_STATUS = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.ATTENDED: "fulfilled",
    AppointmentStatus.NO_SHOW: "noshow",
}
#: Why an appointment was cancelled: by the patient, or by the doctor's leave (personal reasons).
CANCELLED_BY = {
    CancelledBy.PATIENT: ("pat", "Patient"),
    CancelledBy.DOCTOR_LEAVE: ("prov-pers", "Provider: personal"),
}
RANK_DISPLAY = {
    Rank.RESIDENT: "Resident physician",
    Rank.ATTENDING: "Attending physician",
    Rank.ASSOCIATE_CHIEF: "Associate chief physician",
    Rank.CHIEF: "Chief physician",
}
GENDER = {Sex.FEMALE: "female", Sex.MALE: "male"}
VITAL_DISPLAY = {
    "85354-9": "Blood pressure panel with all children optional",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "2339-0": "Glucose [Mass/volume] in Blood",
    "1558-6": "Fasting glucose [Mass/volume] in Serum or Plasma",
    "8867-4": "Heart rate",
    "29463-7": "Body weight",
    "8310-5": "Body temperature",
}
#: The unit's human form beside its UCUM code.
UNIT_DISPLAY = {"mm[Hg]": "mmHg", "mmol/L": "mmol/L", "/min": "beats/minute", "kg": "kg"}
UNIT_DISPLAY["Cel"] = "°C"

_PERIOD_CODE = {Period.MORNING: "am", Period.AFTERNOON: "pm"}
_SLOT_ID = re.compile(r"([1-9][0-9]{0,9})-([0-9]{8})-(am|pm)")
_PREFIXED_ID = re.compile(r"(department|service)-([1-9][0-9]{0,9})")


# --- ids -----------------------------------------------------------------------------------------


def number_id(text: str) -> int | None:
    """A logical id written as medbook writes it (``12``, not ``012`` nor ``+12``); else None."""
    return parse_id(text)


#: The years a Slot id may name: sessions are booked now, never in another millennium (and every
#: such date has a whole-minute UTC offset and a day after it).
SLOT_YEARS = range(2000, 3000)


def slot_id(session: Session) -> str:
    day = session.date
    return (
        f"{session.doctor_id}-{day.year:04d}{day.month:02d}{day.day:02d}-"
        + _PERIOD_CODE[session.period]
    )


def parse_slot_id(text: str) -> Session | None:
    """The session a ``Slot`` id names; None for text that names none."""
    match = _SLOT_ID.fullmatch(text)
    if match is None:
        return None
    doctor_id = number_id(match[1])
    digits = match[2]
    try:
        date = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
    if doctor_id is None or date.year not in SLOT_YEARS:
        return None
    return Session(doctor_id, date, Period.MORNING if match[3] == "am" else Period.AFTERNOON)


def healthcare_service_id(kind: str, number: int) -> str:
    return f"{kind}-{number}"


def parse_healthcare_service_id(text: str) -> tuple[str, int] | None:
    """("department" | "service", id) of a ``HealthcareService`` id; None for any other."""
    match = _PREFIXED_ID.fullmatch(text)
    if match is None:
        return None
    number = number_id(match[2])
    return None if number is None else (match[1], number)


_LOCAL = re.compile(r"([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})")


def local_reference(text: str, base_url: str = "") -> tuple[str, str] | None:
    """(type, id) of a reference to a resource of this server: ``Type/id``, or the absolute URL
    of one under ``base_url``; None for anything else (another server's, a malformed one)."""
    if base_url and text.startswith(base_url + "/"):
        text = text[len(base_url) + 1 :]
    match = _LOCAL.fullmatch(text)
    return None if match is None else (match[1], match[2])


def reference(resource_type: str, resource_id: object, display: str | None = None) -> Resource:
    found: Resource = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        found["display"] = display
    return found


# --- times ---------------------------------------------------------------------------------------


def instant(value: dt.datetime) -> str:
    """An aware time as FHIR writes it (seconds, with its offset; UTC as ``Z``)."""
    assert value.tzinfo is not None, "FHIR times carry their offset"
    text = value.replace(microsecond=0).isoformat()
    return text.removesuffix("+00:00") + ("Z" if text.endswith("+00:00") else "")


@frozen
class SessionTimes:
    """When a session runs, in its hospital's time zone."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, policy: BookingPolicy, session: Session, tz: dt.tzinfo) -> SessionTimes:
        return cls(policy.session_start(session, tz), policy.session_end(session, tz))


# --- the directory -------------------------------------------------------------------------------


def organization(hospital: Hospital) -> Resource:
    found: Resource = {
        "resourceType": "Organization",
        "id": str(hospital.id),
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "prov",
                        "display": "Healthcare Provider",
                    }
                ]
            }
        ],
        "name": hospital.name,
    }
    if hospital.address:
        found["address"] = [{"use": "work", "type": "physical", "text": hospital.address}]
    return found


def location(hospital: Hospital) -> Resource:
    found: Resource = {
        "resourceType": "Location",
        "id": str(hospital.id),
        "status": "active",
        "name": hospital.name,
        "mode": "instance",
        "managingOrganization": reference("Organization", hospital.id, hospital.name),
        "extension": [_timezone_extension(hospital.timezone)],
    }
    if hospital.address:
        found["address"] = {"use": "work", "type": "physical", "text": hospital.address}
    if hospital.location is not None:
        found["position"] = {
            "latitude": hospital.location.lat,
            "longitude": hospital.location.lng,
        }
    return found


def _timezone_extension(zone: str) -> Resource:
    """The hospital's IANA time zone (the R5 core extension, also used on R4 servers)."""
    return {"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": zone}


def department_service(department: Department, hospital: Hospital) -> Resource:
    assert department.id is not None
    found: Resource = {
        "resourceType": "HealthcareService",
        "id": healthcare_service_id("department", department.id),
        "active": True,
        "providedBy": reference("Organization", hospital.id, hospital.name),
        "location": [reference("Location", hospital.id, hospital.name)],
        "name": department.name,
        "appointmentRequired": True,
    }
    if department.description:
        found["comment"] = department.description
    return found


def care_service(service: CareService, hospital: Hospital | None) -> Resource:
    """A home-visit service: where it reaches (its hospital and radius) and what it costs."""
    assert service.id is not None
    found: Resource = {
        "resourceType": "HealthcareService",
        "id": healthcare_service_id("service", service.id),
        "active": True,
        "providedBy": reference(
            "Organization", service.hospital_id, hospital.name if hospital else None
        ),
        "category": [
            {
                "coding": [{"system": CARE_CATEGORY_SYSTEM, "code": "home-visit"}],
                "text": "Home visit",
            }
        ],
        "name": service.name,
        "coverageArea": [{"display": f"within {service.radius_km:g} km of the hospital"}],
        "appointmentRequired": True,
        "extraDetails": (
            f"{service.price.cents // 100}.{service.price.cents % 100:02d} "
            f"{service.price.currency} per visit; {service.capacity} places a day"
        ),
    }
    if service.category is not None:
        found["type"] = [
            {
                "coding": [{"system": CARE_CATEGORY_SYSTEM, "code": service.category.value}],
                "text": service.category.value.replace("_", " "),
            }
        ]
    if service.description:
        found["comment"] = service.description
    if hospital is not None:
        found["location"] = [reference("Location", hospital.id, hospital.name)]
    return found


def practitioner(doctor: Doctor) -> Resource:
    found: Resource = {
        "resourceType": "Practitioner",
        "id": str(doctor.id),
        "active": doctor.bookable,
        "name": [{"use": "official", "text": doctor.name}],
    }
    if doctor.gender is not None:
        found["gender"] = GENDER[doctor.gender]
    if doctor.staff_number:
        found["identifier"] = [
            {"use": "official", "type": {"text": "Staff number"}, "value": doctor.staff_number}
        ]
    if doctor.avatar_url and doctor.avatar_url.startswith(("http://", "https://")):
        found["photo"] = [{"url": doctor.avatar_url}]
    found["qualification"] = [{"code": _rank(doctor.rank)}]
    return found


def _rank(rank: Rank) -> Resource:
    return {
        "coding": [{"system": RANK_SYSTEM, "code": rank.value, "display": RANK_DISPLAY[rank]}],
        "text": RANK_DISPLAY[rank],
    }


def practitioner_role(
    doctor: Doctor,
    hospital: Hospital | None,
    department: Department | None,
    policy: BookingPolicy,
) -> Resource:
    """The doctor's one role: rank, specialty, hospital and department, and the hours of the
    sessions their weekly schedule keeps."""
    found: Resource = {
        "resourceType": "PractitionerRole",
        "id": str(doctor.id),
        "active": doctor.bookable,
        "practitioner": reference("Practitioner", doctor.id, doctor.name),
        "code": [_rank(doctor.rank)],
    }
    if hospital is not None:
        found["organization"] = reference("Organization", hospital.id, hospital.name)
        found["location"] = [reference("Location", hospital.id, hospital.name)]
    if department is not None:
        found["healthcareService"] = [
            reference("HealthcareService", f"department-{department.id}", department.name)
        ]
    if doctor.specialty:
        found["specialty"] = [{"text": doctor.specialty}]
    available = _available_times(doctor, policy)
    if available:
        found["availableTime"] = available
    return found


def _available_times(doctor: Doctor, policy: BookingPolicy) -> list[Resource]:
    days = {
        period: [WEEKDAYS[i][:3] for i in range(7) if doctor.schedule.quotas[2 * i + p] > 0]
        for p, period in enumerate(PERIODS)
    }
    times = []
    for period, weekdays in days.items():
        if not weekdays:
            continue
        start = policy.starts_at(period)
        any_day = dt.date(2001, 1, 1)  # a day without a clock change: only the wall time counts
        end = policy.session_end(Session(0, any_day, period), dt.UTC).time()
        times.append(
            {
                "daysOfWeek": weekdays,
                "availableStartTime": start.strftime("%H:%M:%S"),
                "availableEndTime": "23:59:59" if end == dt.time() else end.strftime("%H:%M:%S"),
            }
        )
    return times


def schedule(
    doctor: Doctor,
    hospital: Hospital | None,
    department: Department | None,
    horizon: tuple[dt.datetime, dt.datetime] | None,
) -> Resource:
    """The doctor's schedule: the sessions open for booking now (``horizon``: the booking
    window, in the hospital's time zone)."""
    found: Resource = {
        "resourceType": "Schedule",
        "id": str(doctor.id),
        "active": doctor.bookable,
        "actor": [
            reference("Practitioner", doctor.id, doctor.name),
            reference("PractitionerRole", doctor.id),
        ],
    }
    if hospital is not None:
        found["actor"].append(reference("Location", hospital.id, hospital.name))
    if department is not None:
        found["serviceType"] = [{"text": department.name}]
    if doctor.specialty:
        found["specialty"] = [{"text": doctor.specialty}]
    if horizon is not None:
        found["planningHorizon"] = {"start": instant(horizon[0]), "end": instant(horizon[1])}
    return found


def slot(
    offered: OfferedSession, times: SessionTimes, *, is_open: bool, on_leave: bool = False
) -> Resource:
    """A session: ``free`` while it is open for booking with places left; ``busy`` when full or
    closed (started, past, beyond the window); ``busy-unavailable`` when the doctor is on leave."""
    session = offered.session
    remaining = offered.remaining if is_open else 0
    if on_leave:
        status, comment = "busy-unavailable", "the doctor is on leave"
    elif not is_open:
        status, comment = "busy", "closed for booking"
    else:
        status = "free" if remaining > 0 else "busy"
        comment = f"{remaining} of {offered.quota} places left"
    return {
        "resourceType": "Slot",
        "id": slot_id(session),
        "schedule": reference("Schedule", session.doctor_id),
        "status": status,
        "start": instant(times.start),
        "end": instant(times.end),
        "comment": comment,
        "extension": [{"url": PLACES_LEFT, "valueUnsignedInt": remaining}],
    }


# --- booking -------------------------------------------------------------------------------------


def appointment(
    booked: Appointment,
    times: SessionTimes,
    *,
    doctor_name: str,
    hospital: Hospital | None,
    patient_name: str | None,
) -> Resource:
    session = booked.session
    found: Resource = {
        "resourceType": "Appointment",
        "id": str(booked.id),
        "status": APPOINTMENT_STATUS[booked.status],
        "start": instant(times.start),
        "end": instant(times.end),
        "created": instant(booked.booked_at),
        "slot": [reference("Slot", slot_id(session))],
        "extension": [{"url": QUEUE_NUMBER, "valueInteger": booked.number}],
        "participant": [
            {
                "actor": reference("Patient", booked.patient_id, patient_name),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": reference("Practitioner", booked.doctor_id, doctor_name),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if hospital is not None:
        found["participant"].append(
            {
                "actor": reference("Location", hospital.id, hospital.name),
                "required": "required",
                "status": "accepted",
            }
        )
    if booked.cancelled_by is not None:
        code, display = CANCELLED_BY[booked.cancelled_by]
        found["cancelationReason"] = {
            "coding": [{"system": CANCELLATION_REASON, "code": code, "display": display}]
        }
    return found


def patient(person: Patient, *, with_contact: bool) -> Resource:
    """The minimum necessary: name, sex and date of birth; the phone number only for the patient
    themselves (``with_contact``). medbook keeps no identity number (only what it proved)."""
    found: Resource = {
        "resourceType": "Patient",
        "id": str(person.id),
        "active": True,
        "name": [{"use": "official", "text": person.legal_name or person.name}],
    }
    if person.sex is not None:
        found["gender"] = GENDER[person.sex]
    if person.birth_date is not None:
        found["birthDate"] = person.birth_date.isoformat()
    if with_contact and person.phone:
        found["telecom"] = [{"system": "phone", "value": person.phone, "use": "mobile"}]
    return found


# --- the health file -----------------------------------------------------------------------------


def _loinc(code: str) -> Resource:
    return {"coding": [{"system": LOINC, "code": code, "display": VITAL_DISPLAY[code]}]}


def _quantity(value: Decimal, unit: str) -> Resource:
    return {"value": json_number(value), "unit": UNIT_DISPLAY[unit], "system": UCUM, "code": unit}


def json_number(value: Decimal) -> int | float:
    """A decimal as a JSON number with its places: 120 stays 120, 36.5 and 5.0 keep theirs (a
    reading has at most one decimal place, which a float writes back exactly)."""
    exponent = value.as_tuple().exponent
    return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)


def observation(vital: VitalSign) -> Resource:
    """A vital sign as an Observation of the vital-signs profile: LOINC code, UCUM unit; a blood
    pressure is the panel with its two components and no value of its own."""
    found: Resource = {
        "resourceType": "Observation",
        "id": str(vital.id),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": OBSERVATION_CATEGORY,
                        "code": "vital-signs",
                        "display": "Vital Signs",
                    }
                ]
            }
        ],
        "code": _loinc(vital.loinc),
        "subject": reference("Patient", vital.patient_id),
        "effectiveDateTime": instant(vital.measured_at),
        "issued": instant(vital.recorded_at),
    }
    rule = KINDS[vital.kind]
    if vital.kind is VitalKind.BLOOD_PRESSURE:
        found["component"] = [
            {
                "code": _loinc(quantity.loinc),
                "valueQuantity": _quantity(vital.values[name], quantity.unit),
            }
            for name, quantity in rule.fields.items()
        ]
    else:
        quantity = rule.fields["value"]
        found["valueQuantity"] = _quantity(vital.values["value"], quantity.unit)
    if vital.context is not None and vital.context is not GlucoseContext.FASTING:
        found["extension"] = [{"url": GLUCOSE_CONTEXT, "valueCode": vital.context.value}]
    return found


#: The LOINC codes a search may ask for, and the kind of reading each finds.
VITAL_CODES: Mapping[str, VitalKind] = {
    **{rule.loinc: kind for kind, rule in KINDS.items()},
    "1558-6": VitalKind.BLOOD_GLUCOSE,
    # A blood pressure's components: a search by either finds the panel.
    "8480-6": VitalKind.BLOOD_PRESSURE,
    "8462-4": VitalKind.BLOOD_PRESSURE,
}


def observation_codes(vital: VitalSign) -> Sequence[str]:
    """The codes a search by ``code`` finds a reading under: its own (the panel's for a blood
    pressure, whose components are found by theirs too)."""
    codes = [vital.loinc]
    if vital.kind is VitalKind.BLOOD_PRESSURE:
        codes += [q.loinc for q in KINDS[vital.kind].fields.values()]
    return codes
