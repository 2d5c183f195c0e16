"""DirectoryService through the in-memory store: hospitals, departments, doctors, schedules."""

from __future__ import annotations

import contextlib

import pytest
from unit_support import TOMORROW, MakeDoctor, PlacesLeft, ident

from medbook.domain import Department, Doctor, GeoPoint, Hospital, Period, Rank, WeeklySchedule
from medbook.domain.shared.errors import (
    DepartmentMismatch,
    DepartmentNotFound,
    DoctorNotFound,
    HospitalNotFound,
    InvalidValue,
    NotOffered,
    SessionFull,
)
from medbook.services import BookingService, DirectoryService


def test_an_added_hospital_is_stored_with_an_id(directory: DirectoryService) -> None:
    added = directory.add_hospital(
        "Huashan Hospital", "12 Wulumuqi Rd", GeoPoint(31.22, 121.44), "Asia/Shanghai"
    )

    found = directory.hospital(ident(added))
    assert (found.name, found.address, found.location, found.timezone) == (
        "Huashan Hospital",
        "12 Wulumuqi Rd",
        GeoPoint(31.22, 121.44),
        "Asia/Shanghai",
    )
    assert directory.hospitals() == [found]


def test_an_invalid_hospital_is_not_stored(directory: DirectoryService) -> None:
    with pytest.raises(InvalidValue):
        directory.add_hospital("Huashan Hospital", timezone="Asia/Atlantis")

    assert directory.hospitals() == []


def test_an_unknown_hospital_is_not_found(directory: DirectoryService) -> None:
    with pytest.raises(HospitalNotFound) as caught:
        directory.hospital(404)

    assert caught.value.code == "hospital_not_found"
    with pytest.raises(HospitalNotFound):
        directory.departments(404)


def test_departments_belong_to_their_hospital(
    directory: DirectoryService, hospital: Hospital, department: Department
) -> None:
    other = directory.add_hospital("Huashan Hospital")
    neurology = directory.add_department(ident(other), "Neurology", "brain and nerves")

    assert [d.name for d in directory.departments(ident(hospital))] == ["Cardiology"]
    assert directory.departments(ident(other)) == [neurology]
    assert (neurology.hospital_id, neurology.description) == (ident(other), "brain and nerves")


def test_a_department_needs_a_known_hospital(directory: DirectoryService) -> None:
    with pytest.raises(HospitalNotFound):
        directory.add_department(404, "Cardiology")


def test_an_added_doctor_is_stored_unverified(
    directory: DirectoryService, hospital: Hospital, department: Department
) -> None:
    added = directory.add_doctor(
        ident(hospital), ident(department), name="Dr Zhang", phone="13700000001", rank=Rank.CHIEF
    )

    found = directory.doctor(ident(added))
    assert (found.name, found.phone, found.rank) == ("Dr Zhang", "13700000001", Rank.CHIEF)
    assert (found.hospital_id, found.department_id) == (ident(hospital), ident(department))
    assert not found.verified
    assert found.schedule == WeeklySchedule.off()


def test_a_new_doctor_cannot_make_themselves_verified(
    directory: DirectoryService, hospital: Hospital, department: Department
) -> None:
    # Whatever the profile says, a joining doctor is unlisted until their hospital approves them:
    # either the service refuses the field, or it ignores it.
    with contextlib.suppress(TypeError, InvalidValue):
        directory.add_doctor(
            ident(hospital), ident(department), name="Dr Sly", phone="13700000002", verified=True
        )

    assert directory.doctors(ident(department)) == []


def test_a_doctor_cannot_join_a_department_of_another_hospital(
    directory: DirectoryService, hospital: Hospital, department: Department
) -> None:
    other = directory.add_hospital("Huashan Hospital")

    with pytest.raises(DepartmentMismatch) as caught:
        directory.add_doctor(ident(other), ident(department), name="Dr Zhang", phone="13700000001")

    assert caught.value.field == "department_id"
    assert directory.doctors(ident(department), verified_only=False) == []


def test_a_doctor_needs_a_known_department(directory: DirectoryService, hospital: Hospital) -> None:
    with pytest.raises(DepartmentNotFound):
        directory.add_doctor(ident(hospital), 404, name="Dr Zhang", phone="13700000001")


def test_an_unknown_doctor_is_not_found(directory: DirectoryService) -> None:
    with pytest.raises(DoctorNotFound):
        directory.doctor(404)
    with pytest.raises(DoctorNotFound):
        directory.set_verified(404, True)
    with pytest.raises(DoctorNotFound):
        directory.set_schedule(404, WeeklySchedule.every_day(1, 1))


def test_the_listing_hides_unverified_doctors(
    directory: DirectoryService, department: Department, make_doctor: MakeDoctor
) -> None:
    shown = make_doctor(name="Dr Shown")
    hidden = make_doctor(name="Dr Hidden", verified=False)

    assert directory.doctors(ident(department)) == [shown]
    assert set(directory.doctors(ident(department), verified_only=False)) == {shown, hidden}

    directory.set_verified(ident(hidden), True)
    assert set(directory.doctors(ident(department))) == {shown, hidden}

    directory.set_verified(ident(shown), False)
    assert directory.doctors(ident(department)) == [hidden]


def test_the_listing_of_an_unknown_department_is_not_found(directory: DirectoryService) -> None:
    with pytest.raises(DepartmentNotFound):
        directory.doctors(404)


def test_a_new_schedule_is_stored(directory: DirectoryService, doctor: Doctor) -> None:
    schedule = WeeklySchedule.from_mapping(
        {day: {"morning": 0, "afternoon": 0} for day in WeeklySchedule.off().to_mapping()}
        | {"wednesday": {"morning": 30, "afternoon": 0}, "sunday": {"morning": 0, "afternoon": 5}}
    )

    returned = directory.set_schedule(ident(doctor), schedule)

    assert returned.schedule == schedule
    assert directory.doctor(ident(doctor)).schedule == schedule


def test_raising_a_quota_opens_more_places_in_a_booked_session(
    directory: DirectoryService, booking: BookingService, doctor: Doctor, places_left: PlacesLeft
) -> None:
    for patient in (1, 2):
        booking.book(patient, ident(doctor), TOMORROW, Period.MORNING)
    assert places_left(ident(doctor), TOMORROW, Period.MORNING) == 0

    directory.set_schedule(ident(doctor), WeeklySchedule.every_day(3, 2))

    assert places_left(ident(doctor), TOMORROW, Period.MORNING) == 1
    assert booking.book(3, ident(doctor), TOMORROW, Period.MORNING).number == 3


def test_lowering_a_quota_below_the_held_places_keeps_them(
    directory: DirectoryService, booking: BookingService, doctor: Doctor, places_left: PlacesLeft
) -> None:
    held = [booking.book(patient, ident(doctor), TOMORROW, Period.MORNING) for patient in (1, 2)]

    directory.set_schedule(ident(doctor), WeeklySchedule.every_day(1, 2))

    assert [a.status.value for a in booking.appointments_of_doctor(ident(doctor))] == [
        "booked",
        "booked",
    ]
    assert booking.appointments_of_doctor(ident(doctor)) == held
    assert places_left(ident(doctor), TOMORROW, Period.MORNING) == 0
    with pytest.raises(SessionFull):
        booking.book(3, ident(doctor), TOMORROW, Period.MORNING)


def test_a_lowered_quota_is_not_exceeded_again_after_a_cancellation(
    directory: DirectoryService, booking: BookingService, doctor: Doctor, places_left: PlacesLeft
) -> None:
    # Two held places survive lowering the quota to 1; once one is given back, the session holds
    # one patient, which is the doctor's new quota: it is full, and no third patient gets in.
    first, _ = [
        booking.book(patient, ident(doctor), TOMORROW, Period.MORNING) for patient in (1, 2)
    ]
    directory.set_schedule(ident(doctor), WeeklySchedule.every_day(1, 2))

    booking.cancel(1, ident(first))

    assert places_left(ident(doctor), TOMORROW, Period.MORNING) == 0
    with pytest.raises(SessionFull):
        booking.book(3, ident(doctor), TOMORROW, Period.MORNING)


def test_places_above_a_lowered_quota_go_as_they_are_given_back(
    directory: DirectoryService,
    booking: BookingService,
    make_doctor: MakeDoctor,
    places_left: PlacesLeft,
) -> None:
    doctor = ident(make_doctor(WeeklySchedule.every_day(3, 3)))
    held = [booking.book(patient, doctor, TOMORROW, Period.MORNING) for patient in (1, 2, 3)]
    directory.set_schedule(doctor, WeeklySchedule.every_day(1, 3))

    left = []
    for appointment in held:
        booking.cancel(appointment.patient_id, ident(appointment))
        left.append(places_left(doctor, TOMORROW, Period.MORNING))

    assert left == [0, 0, 1]
    assert booking.book(4, doctor, TOMORROW, Period.MORNING).number == 4
    with pytest.raises(SessionFull):
        booking.book(5, doctor, TOMORROW, Period.MORNING)


def test_switching_a_booked_session_off_keeps_its_appointments_but_closes_it(
    directory: DirectoryService, booking: BookingService, doctor: Doctor, places_left: PlacesLeft
) -> None:
    held = booking.book(1, ident(doctor), TOMORROW, Period.MORNING)

    directory.set_schedule(ident(doctor), WeeklySchedule.every_day(0, 2))

    assert booking.appointment(ident(held)).status.value == "booked"
    assert places_left(ident(doctor), TOMORROW, Period.MORNING) is None
    with pytest.raises(NotOffered):
        booking.book(2, ident(doctor), TOMORROW, Period.MORNING)
