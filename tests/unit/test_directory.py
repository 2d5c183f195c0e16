"""Hospital, Department, Doctor, GeoPoint: the directory's own rules, and entity identity."""

from __future__ import annotations

import datetime as dt

import pytest
from unit_support import NOW, TOMORROW

from medbook.domain import (
    Appointment,
    Department,
    Doctor,
    GeoPoint,
    Hospital,
    Period,
    Rank,
    WeeklySchedule,
)
from medbook.domain.shared.errors import DepartmentMismatch, InvalidValue

RUIJIN = Hospital("Ruijin Hospital", id=1)
HUASHAN = Hospital("Huashan Hospital", id=2)
CARDIOLOGY = Department(hospital_id=1, name="Cardiology", id=10)
NEUROLOGY = Department(hospital_id=2, name="Neurology", id=20)


def doctor(**profile: object) -> Doctor:
    profile = {"name": "Dr Wang", "phone": "13912345678", **profile}
    return Doctor.join(RUIJIN, CARDIOLOGY, **profile)  # type: ignore[arg-type]


# --- doctors ------------------------------------------------------------------------------------


def test_a_doctor_joins_a_department_of_their_hospital() -> None:
    joined = doctor(rank=Rank.CHIEF, staff_number="A1234567")

    assert (joined.hospital_id, joined.department_id) == (1, 10)
    assert joined.rank is Rank.CHIEF
    assert joined.staff_number == "A1234567"
    assert joined.schedule == WeeklySchedule.off()
    assert not joined.verified and not joined.bookable


def test_a_verified_doctor_is_bookable() -> None:
    joined = doctor()
    joined.verified = True

    assert joined.bookable


def test_a_doctor_cannot_join_a_department_of_another_hospital() -> None:
    with pytest.raises(DepartmentMismatch) as caught:
        Doctor.join(RUIJIN, NEUROLOGY, name="Dr Wang", phone="13912345678")

    assert caught.value.field == "department_id"
    assert caught.value.code == "department_mismatch"
    assert isinstance(caught.value, InvalidValue)


def test_a_doctor_cannot_move_to_a_department_of_another_hospital() -> None:
    joined = doctor()

    with pytest.raises(DepartmentMismatch):
        joined.move_to(RUIJIN, NEUROLOGY)

    assert (joined.hospital_id, joined.department_id) == (1, 10)
    joined.move_to(HUASHAN, NEUROLOGY)
    assert (joined.hospital_id, joined.department_id) == (2, 20)


@pytest.mark.parametrize("phone", ["13012345678", "13912345678", "19999999999", "15800000000"])
def test_mainland_mobile_numbers_are_accepted(phone: str) -> None:
    assert doctor(phone=phone).phone == phone


@pytest.mark.parametrize(
    "phone",
    [
        "12012345678",  # second digit 2
        "10012345678",  # second digit 0
        "23912345678",  # does not start with 1
        "1391234567",  # 10 digits
        "139123456789",  # 12 digits
        "1391234567a",
        "+8613912345678",
        "139 1234 5678",
        "13912345678\n",
        "",
    ],
)
def test_other_phone_numbers_are_refused(phone: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        doctor(phone=phone)

    assert caught.value.field == "phone"


@pytest.mark.parametrize(
    "phone",
    [
        "1391234567\uff18",  # a full-width 8 at the end
        "13\uff1912345678",  # a full-width 9 inside
        "139\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic digits
    ],
    ids=["fullwidth_last", "fullwidth_inside", "arabic_indic"],
)
def test_phone_numbers_with_non_ascii_digits_are_refused(phone: str) -> None:
    # An SMS gateway cannot dial these, although each character is a Unicode decimal digit.
    with pytest.raises(InvalidValue) as caught:
        doctor(phone=phone)

    assert caught.value.field == "phone"


@pytest.mark.parametrize("staff_number", ["1", "12345678"])
def test_a_staff_number_has_one_to_eight_characters(staff_number: str) -> None:
    assert doctor(staff_number=staff_number).staff_number == staff_number


@pytest.mark.parametrize("staff_number", ["", "123456789"])
def test_a_longer_or_empty_staff_number_is_refused(staff_number: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        doctor(staff_number=staff_number)

    assert caught.value.field == "staff_number"


@pytest.mark.parametrize("name", ["", "   ", "x" * 51], ids=["empty", "blank", "51_chars"])
def test_a_doctors_name_is_not_blank_nor_too_long(name: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        doctor(name=name)

    assert caught.value.field == "name"


# --- hospitals and places -----------------------------------------------------------------------


def test_a_hospital_is_in_shanghai_time_unless_told_otherwise() -> None:
    assert Hospital("Ruijin Hospital").timezone == "Asia/Shanghai"
    assert Hospital("Ruijin Hospital").tz.utcoffset(dt.datetime(2026, 11, 25)) == dt.timedelta(
        hours=8
    )
    assert Hospital("Kashgar Hospital", timezone="Asia/Urumqi").timezone == "Asia/Urumqi"


@pytest.mark.parametrize("timezone", ["Asia/Shangai", "Mars/Olympus_Mons", "", "../../etc/passwd"])
def test_an_unknown_time_zone_is_refused(timezone: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        Hospital("Ruijin Hospital", timezone=timezone)

    assert caught.value.field == "timezone"


@pytest.mark.parametrize("name", ["", "  ", "x" * 201])
def test_a_hospitals_name_is_not_blank_nor_too_long(name: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        Hospital(name)

    assert caught.value.field == "name"


@pytest.mark.parametrize(
    ("lat", "lng"), [(0.0, 0.0), (90.0, 180.0), (-90.0, -180.0), (31.21, 121.46)]
)
def test_a_position_inside_the_ranges_is_accepted(lat: float, lng: float) -> None:
    point = GeoPoint(lat, lng)

    assert (point.lat, point.lng) == (lat, lng)


@pytest.mark.parametrize(
    ("lat", "lng", "field"),
    [(90.01, 0.0, "lat"), (-90.01, 0.0, "lat"), (0.0, 180.01, "lng"), (0.0, -180.01, "lng")],
)
def test_a_position_outside_the_ranges_is_refused(lat: float, lng: float, field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        GeoPoint(lat, lng)

    assert caught.value.field == field


def test_geopoints_are_values() -> None:
    assert GeoPoint(31.2, 121.4) == GeoPoint(31.2, 121.4)
    assert len({GeoPoint(31.2, 121.4), GeoPoint(31.2, 121.4)}) == 1


# --- entity identity ----------------------------------------------------------------------------


def test_entities_with_one_id_are_equal_whatever_their_fields() -> None:
    before = Hospital("Ruijin Hospital", id=1)
    after = Hospital("Ruijin Hospital (North Campus)", address="elsewhere", id=1)

    assert before == after
    assert hash(before) == hash(after)
    assert len({before, after}) == 1


def test_entities_with_different_ids_differ_even_with_equal_fields() -> None:
    assert Hospital("Ruijin Hospital", id=1) != Hospital("Ruijin Hospital", id=2)


def test_an_entity_without_an_id_is_only_equal_to_itself() -> None:
    first, second = Hospital("Ruijin Hospital"), Hospital("Ruijin Hospital")

    assert first == first
    assert first != second
    assert len({first, second}) == 2


def test_entities_of_different_types_are_never_equal() -> None:
    appointment = Appointment(1, 1, TOMORROW, Period.MORNING, 1, NOW, id=1)

    assert Hospital("Ruijin Hospital", id=1) != Department(1, "Cardiology", id=1)
    assert Hospital("Ruijin Hospital", id=1) != appointment
    assert appointment == Appointment(9, 9, TOMORROW, Period.AFTERNOON, 5, NOW, id=1)
