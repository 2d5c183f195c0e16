"""The FHIR mapping, round-tripped: each resource read back by a reader of the tests' own (FHIR's
codes and medbook's written down here, not taken from the code under test) gives the object it
was made from; ids name what they were made from and nothing else; date search prefixes against
a model that compares local dates."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from medbook.domain.accounts.model import Patient
from medbook.domain.booking.appointments import Appointment, AppointmentStatus, CancelledBy
from medbook.domain.booking.policy import BookingPolicy
from medbook.domain.booking.sessions import OfferedSession
from medbook.domain.directory.model import Department, Doctor, Hospital, Rank
from medbook.domain.records.vitals import GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.calendar import Period, Session, WeeklySchedule
from medbook.domain.shared.entity import MAX_ID
from medbook.domain.shared.geo import GeoPoint
from medbook.domain.shared.people import Sex
from medbook.entrypoints.fhir import resources as r
from medbook.entrypoints.fhir.search import FhirError, date_param

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ZONES = [zoneinfo.ZoneInfo(z) for z in ("Asia/Shanghai", "Europe/Berlin", "America/New_York")]

# --- the oracle: FHIR's codes, as the specification writes them ----------------------------------

FHIR_STATUS = {
    "booked": AppointmentStatus.BOOKED,
    "cancelled": AppointmentStatus.CANCELLED,
    "fulfilled": AppointmentStatus.ATTENDED,
    "noshow": AppointmentStatus.NO_SHOW,
}
CANCELLATION = {"pat": CancelledBy.PATIENT, "prov-pers": CancelledBy.DOCTOR_LEAVE}
LOINC_KIND = {
    "85354-9": VitalKind.BLOOD_PRESSURE,
    "2339-0": VitalKind.BLOOD_GLUCOSE,
    "1558-6": VitalKind.BLOOD_GLUCOSE,
    "8867-4": VitalKind.HEART_RATE,
    "29463-7": VitalKind.WEIGHT,
    "8310-5": VitalKind.TEMPERATURE,
}
COMPONENTS = {"8480-6": "systolic", "8462-4": "diastolic"}
UCUM = {
    VitalKind.BLOOD_PRESSURE: "mm[Hg]",
    VitalKind.BLOOD_GLUCOSE: "mmol/L",
    VitalKind.HEART_RATE: "/min",
    VitalKind.WEIGHT: "kg",
    VitalKind.TEMPERATURE: "Cel",
}
#: Sessions by the default policy, in local time.
HOURS = {"am": (dt.time(8), dt.time(12)), "pm": (dt.time(13, 30), dt.time(17, 30))}


def _ref_id(reference: dict[str, Any], resource_type: str) -> int:
    kind, _, number = reference["reference"].partition("/")
    assert kind == resource_type
    return int(number)


sessions = st.builds(
    Session,
    st.integers(1, MAX_ID),
    st.dates(dt.date(2000, 1, 1), dt.date(2999, 12, 31)),
    st.sampled_from(Period),
)


@given(sessions)
def test_a_slot_id_names_its_session_and_reads_back_to_it(session: Session) -> None:
    text = r.slot_id(session)

    assert r.parse_slot_id(text) == session
    doctor, day, half = text.split("-")
    assert (int(doctor), day, half) == (
        session.doctor_id,
        session.date.strftime("%Y%m%d"),
        {"morning": "am", "afternoon": "pm"}[session.period.value],
    )


@given(st.text(alphabet="0123456789-apm+ \u0661", max_size=24))
def test_a_slot_id_that_reads_back_is_written_the_one_way(text: str) -> None:
    parsed = r.parse_slot_id(text)

    if parsed is not None:
        assert r.slot_id(parsed) == text


def test_ids_that_are_not_medbooks_name_nothing() -> None:
    for text in ("0", "01", "+1", "1.0", "\u0661", "2147483648", "", " 1"):
        assert r.number_id(text) is None, text
    for text in (
        "1-20260230-am",
        "1-2026121-am",
        "0-20261201-am",
        "1-20261201-noon",
        "x",
        "1-19991231-am",  # sessions are of this millennium: no date that overflows or has an
        "1-30000101-am",  # offset in seconds (local mean time before 1901)
        "1-99991231-pm",
        "1-00010101-am",
    ):
        assert r.parse_slot_id(text) is None, text
    assert r.parse_healthcare_service_id("department-7") == ("department", 7)
    assert r.parse_healthcare_service_id("service-07") is None
    assert r.parse_healthcare_service_id("ward-7") is None


appointments = st.builds(
    lambda session, patient, number, status, by: _appointment(session, patient, number, status, by),
    sessions.filter(lambda s: dt.date(2000, 1, 1) <= s.date <= dt.date(2100, 1, 1)),
    st.integers(1, MAX_ID),
    st.integers(1, 500),
    st.sampled_from(AppointmentStatus),
    st.sampled_from(CancelledBy),
)


def _appointment(
    session: Session, patient: int, number: int, status: AppointmentStatus, by: CancelledBy
) -> Appointment:
    made = Appointment.book(session, patient, number, NOW)
    made.id = 41
    if status is AppointmentStatus.CANCELLED:
        made.cancel(NOW, by)
    elif status is not AppointmentStatus.BOOKED:
        made.status = status
    return made


@given(appointments, st.sampled_from(ZONES))
def test_an_appointment_reads_back_to_what_was_booked(booked: Appointment, tz: Any) -> None:
    policy = BookingPolicy()
    hospital = Hospital("Ruijin Hospital", "197 Ruijin 2nd Road", timezone=str(tz), id=3)
    times = r.SessionTimes.of(policy, booked.session, tz)

    resource = r.appointment(
        booked, times, doctor_name="Zhang Wei", hospital=hospital, patient_name=None
    )

    start = dt.datetime.fromisoformat(resource["start"]).astimezone(tz)
    end = dt.datetime.fromisoformat(resource["end"]).astimezone(tz)
    (slot,) = resource["slot"]
    half = slot["reference"].rsplit("-", 1)[1]
    assert (start.time(), end.time()) == HOURS[half] or start.utcoffset() != end.utcoffset()
    assert start.date() == booked.date and half == (
        "am" if booked.period is Period.MORNING else "pm"
    )
    actors = {p["actor"]["reference"].split("/")[0]: p["actor"] for p in resource["participant"]}
    assert _ref_id(actors["Patient"], "Patient") == booked.patient_id
    assert _ref_id(actors["Practitioner"], "Practitioner") == booked.doctor_id
    assert _ref_id(actors["Location"], "Location") == 3
    assert FHIR_STATUS[resource["status"]] is booked.status
    number = [e["valueInteger"] for e in resource["extension"] if "queue" in e["url"]]
    assert number == [booked.number]
    if booked.status is AppointmentStatus.CANCELLED:
        code = resource["cancelationReason"]["coding"][0]["code"]
        assert CANCELLATION[code] is booked.cancelled_by
    else:
        assert "cancelationReason" not in resource
    assert dt.datetime.fromisoformat(resource["created"]) == booked.booked_at


glucose = st.decimals(Decimal("0.5"), Decimal(60), places=1)
whole = st.integers


@st.composite
def vitals(draw: st.DrawFn) -> VitalSign:
    kind = draw(st.sampled_from(VitalKind))
    context = None
    if kind is VitalKind.BLOOD_PRESSURE:
        diastolic = draw(whole(20, 199))
        values: dict[str, object] = {
            "systolic": draw(whole(max(40, diastolic + 1), 300)),
            "diastolic": diastolic,
        }
    elif kind is VitalKind.BLOOD_GLUCOSE:
        values = {"value": draw(glucose)}
        context = draw(st.sampled_from(GlucoseContext))
    elif kind is VitalKind.HEART_RATE:
        values = {"value": draw(whole(20, 300))}
    elif kind is VitalKind.WEIGHT:
        values = {"value": draw(st.decimals(Decimal("0.3"), Decimal(500), places=1))}
    else:
        values = {"value": draw(st.decimals(Decimal(25), Decimal(45), places=1))}
    measured = NOW - dt.timedelta(minutes=draw(st.integers(0, 10**6)))
    vital = VitalSign.measure(7, kind, values, measured, NOW, context)
    vital.id = draw(st.integers(1, MAX_ID))
    return vital


@given(vitals())
def test_an_observation_reads_back_to_the_reading(vital: VitalSign) -> None:
    resource = r.observation(vital)

    (coding,) = resource["code"]["coding"]
    assert coding["system"] == "http://loinc.org"
    assert LOINC_KIND[coding["code"]] is vital.kind
    assert (coding["code"] == "1558-6") == (vital.context is GlucoseContext.FASTING)
    assert _ref_id(resource["subject"], "Patient") == vital.patient_id
    assert dt.datetime.fromisoformat(resource["effectiveDateTime"]) == vital.measured_at.replace(
        microsecond=0
    )
    category = resource["category"][0]["coding"][0]
    assert (category["code"], resource["status"]) == ("vital-signs", "final")
    if vital.kind is VitalKind.BLOOD_PRESSURE:
        read = {
            COMPONENTS[c["code"]["coding"][0]["code"]]: c["valueQuantity"]
            for c in resource["component"]
        }
    else:
        read = {"value": resource["valueQuantity"]}
    assert {k: Decimal(str(q["value"])) for k, q in read.items()} == vital.values
    assert {q["code"] for q in read.values()} == {UCUM[vital.kind]}
    assert {q["system"] for q in read.values()} == {"http://unitsofmeasure.org"}


def test_the_directory_reads_back() -> None:
    hospital = Hospital("Ruijin Hospital", "197 Ruijin 2nd Road", GeoPoint(31.2122, 121.4688), id=3)
    department = Department(3, "Cardiology", "Heart", id=5)
    doctor = Doctor(
        3,
        5,
        name="Zhang Wei",
        phone="13900000001",
        rank=Rank.ATTENDING,
        gender=Sex.FEMALE,
        specialty="arrhythmia",
        schedule=WeeklySchedule.from_mapping(
            {d: {"morning": 2, "afternoon": 0} for d in ("monday", "tuesday")}
            | {
                d: {"morning": 0, "afternoon": 0}
                for d in ("wednesday", "thursday", "friday", "saturday", "sunday")
            }
        ),
        verified=True,
        id=9,
    )

    organization = r.organization(hospital)
    location = r.location(hospital)
    role = r.practitioner_role(doctor, hospital, department, BookingPolicy())
    person = r.practitioner(doctor)
    service = r.department_service(department, hospital)

    assert (organization["id"], organization["name"]) == ("3", "Ruijin Hospital")
    assert organization["address"][0]["text"] == hospital.address
    assert (location["position"]["latitude"], location["position"]["longitude"]) == (
        31.2122,
        121.4688,
    )
    assert _ref_id(location["managingOrganization"], "Organization") == 3
    assert (person["id"], person["name"][0]["text"], person["gender"]) == (
        "9",
        "Zhang Wei",
        "female",
    )
    assert role["code"][0]["coding"][0]["code"] == "attending"
    assert _ref_id(role["practitioner"], "Practitioner") == 9
    assert _ref_id(role["organization"], "Organization") == 3
    assert role["healthcareService"][0]["reference"] == "HealthcareService/department-5"
    assert role["specialty"] == [{"text": "arrhythmia"}]
    assert role["availableTime"] == [
        {
            "daysOfWeek": ["mon", "tue"],
            "availableStartTime": "08:00:00",
            "availableEndTime": "12:00:00",
        }
    ]
    assert (service["id"], service["name"]) == ("department-5", "Cardiology")


def test_a_patient_gives_the_minimum_necessary() -> None:
    person = Patient(
        "Wang Xiaoming",
        phone="13800000001",
        legal_name="王小明",
        birth_date=dt.date(1990, 3, 7),
        sex=Sex.MALE,
        id_number_last4="123X",
        id=4,
    )

    to_doctor = r.patient(person, with_contact=False)
    to_self = r.patient(person, with_contact=True)

    assert to_doctor == {
        "resourceType": "Patient",
        "id": "4",
        "active": True,
        "name": [{"use": "official", "text": "王小明"}],
        "gender": "male",
        "birthDate": "1990-03-07",
    }
    assert to_self["telecom"] == [{"system": "phone", "value": "13800000001", "use": "mobile"}]
    assert "123X" not in str(to_self)


@given(
    offered=st.builds(
        OfferedSession,
        sessions.filter(lambda s: dt.date(2000, 1, 1) <= s.date <= dt.date(2100, 1, 1)),
        st.integers(0, 500),
        st.integers(0, 500),
    ),
    is_open=st.booleans(),
    on_leave=st.booleans(),
)
def test_a_slot_is_free_exactly_when_it_is_open_with_places_left(
    offered: OfferedSession, is_open: bool, on_leave: bool
) -> None:
    times = r.SessionTimes.of(BookingPolicy(), offered.session, SHANGHAI)

    resource = r.slot(offered, times, is_open=is_open and not on_leave, on_leave=on_leave)

    free = is_open and not on_leave and offered.quota > offered.booked
    assert (resource["status"] == "free") == free
    assert (resource["status"] == "busy-unavailable") == on_leave
    assert r.parse_slot_id(resource["id"]) == offered.session
    assert _ref_id(resource["schedule"], "Schedule") == offered.session.doctor_id


# --- date search ---------------------------------------------------------------------------------


@given(
    day=st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)),
    moment=st.datetimes(
        dt.datetime(1999, 12, 1), dt.datetime(2100, 2, 1), timezones=st.just(dt.UTC)
    ),
    prefix=st.sampled_from(["", "eq", "ne", "gt", "ge", "lt", "le"]),
    tz=st.sampled_from(ZONES),
)
def test_a_day_with_a_prefix_matches_by_the_local_date(
    day: dt.date, moment: dt.datetime, prefix: str, tz: Any
) -> None:
    local = moment.astimezone(tz).date()
    expected = {
        "": local == day,
        "eq": local == day,
        "ne": local != day,
        "gt": local > day,
        "ge": local >= day,
        "lt": local < day,
        "le": local <= day,
    }[prefix]

    assert date_param("date", prefix + day.isoformat(), tz).matches(moment) is expected


def test_dates_that_do_not_exist_or_are_not_fhirs_are_refused() -> None:
    for text in (
        "2026-02-30",
        "2026-13",
        "26-01-01",
        "2026-01-01T25:00",
        "sa2026",
        "2026-1-1",
        "0001-01-01T00:00:00+14:00",  # a day before Python's first, in UTC
        "9999-12-31T23:59:59-14:00",
        "2026-01-01T10:00:00+15:00",
        "2026-01-01T10:00:00+14:59",
    ):
        try:
            date_param("date", text, SHANGHAI)
        except FhirError as error:
            assert (error.status, error.expression) == (400, "date")
        else:
            raise AssertionError(f"{text!r} was taken")


def test_a_time_with_fractions_of_a_second_is_as_precise_as_it_is_written() -> None:
    half = date_param("start", "2026-12-04T08:00:00.5+08:00", SHANGHAI)
    second = date_param("start", "2026-12-04T08:00:00+08:00", SHANGHAI)
    at_eight = dt.datetime(2026, 12, 4, 8, tzinfo=SHANGHAI)

    assert not half.matches(at_eight)
    assert half.matches(at_eight + dt.timedelta(milliseconds=500))
    assert not half.matches(at_eight + dt.timedelta(milliseconds=600))
    assert second.matches(at_eight) and not second.matches(at_eight + dt.timedelta(seconds=1))
    assert (
        date_param("start", "ge2026-12-04T08:00:00.001+08:00", SHANGHAI).matches(at_eight) is False
    )
