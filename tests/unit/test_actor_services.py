"""The directory's and booking's methods for an authenticated actor: who may do what, and what
they are shown."""

from __future__ import annotations

import datetime as dt

import pytest
from unit_support import NOW, TODAY, TOMORROW, Boom, MakeDoctor, failing, ident, local

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.domain import (
    AppointmentStatus,
    CancelledBy,
    Department,
    Doctor,
    GeoPoint,
    Hospital,
    Period,
    Rank,
    Sex,
    WeeklySchedule,
)
from medbook.domain.accounts.model import Patient
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    AlreadyOnLeave,
    AppointmentNotFound,
    DoctorNotFound,
    Forbidden,
    InvalidValue,
    OutsideWindow,
)
from medbook.services import BookingService, DirectoryService
from medbook.services.directory import DoctorProfileChanges

MORNING, AFTERNOON = Period.MORNING, Period.AFTERNOON
DAY_AFTER = TOMORROW + dt.timedelta(days=1)


def add_patient(store: MemoryStore, name: str, phone: str) -> Actor:
    with store.unit_of_work() as uow:
        patient = uow.patients.add(Patient(name, phone, created_at=NOW))
        uow.commit()
    return Actor(ident(patient), Role.PATIENT)


def add_registered_doctor(store: MemoryStore, phone: str = "13700000009") -> Actor:
    """A doctor who signed up and has not chosen a hospital yet."""
    with store.unit_of_work() as uow:
        doctor = uow.doctors.add(Doctor.register(name="Dr Zhao", phone=phone))
        uow.commit()
    return Actor(ident(doctor), Role.DOCTOR)


def notifications(store: MemoryStore) -> list[Notification]:
    return sorted(store.tables["notifications"].values(), key=lambda n: n.id)


def as_doctor(doctor: Doctor) -> Actor:
    return Actor(ident(doctor), Role.DOCTOR)


def admin_of(hospital: Hospital) -> Actor:
    return Actor(900, Role.ADMIN, ident(hospital))


@pytest.fixture
def other_hospital(directory: DirectoryService) -> Hospital:
    return directory.add_hospital("Huashan Hospital", "12 Wulumuqi Rd")


@pytest.fixture
def neurology(directory: DirectoryService, other_hospital: Hospital) -> Department:
    return directory.add_department(ident(other_hospital), "Neurology")


@pytest.fixture
def wang(store: MemoryStore) -> Actor:
    return add_patient(store, "Wang Fang", "13900000001")


@pytest.fixture
def zhao(store: MemoryStore) -> Actor:
    return add_patient(store, "Zhao Lei", "13900000002")


# --- departments ---------------------------------------------------------------------------------


def test_the_hospitals_admin_adds_a_department(
    directory: DirectoryService, hospital: Hospital, department: Department
) -> None:
    added = directory.add_department_as(admin_of(hospital), ident(hospital), "Oncology", "tumours")

    assert (added.hospital_id, added.name, added.description) == (
        ident(hospital),
        "Oncology",
        "tumours",
    )
    assert [d.name for d in directory.departments(ident(hospital))] == ["Cardiology", "Oncology"]


@pytest.mark.parametrize(
    "actor",
    [
        Actor(900, Role.ADMIN, 12345),
        Actor(900, Role.ADMIN, None),
        Actor(900, Role.DOCTOR),
        Actor(900, Role.PATIENT),
    ],
    ids=["another-hospitals-admin", "admin-of-no-hospital", "doctor", "patient"],
)
def test_no_one_else_adds_a_department(
    directory: DirectoryService, hospital: Hospital, actor: Actor
) -> None:
    with pytest.raises(Forbidden):
        directory.add_department_as(actor, ident(hospital), "Oncology")

    assert directory.departments(ident(hospital)) == []


def test_an_admin_cannot_add_a_department_to_another_hospital(
    directory: DirectoryService, hospital: Hospital, other_hospital: Hospital
) -> None:
    with pytest.raises(Forbidden):
        directory.add_department_as(admin_of(hospital), ident(other_hospital), "Oncology")

    assert directory.departments(ident(other_hospital)) == []


# --- a doctor's own profile ----------------------------------------------------------------------


def test_a_registered_doctor_chooses_a_hospital_and_department(
    store: MemoryStore, directory: DirectoryService, hospital: Hospital, department: Department
) -> None:
    actor = add_registered_doctor(store)

    updated = directory.update_my_profile(
        actor, DoctorProfileChanges(hospital_id=ident(hospital), department_id=ident(department))
    )

    stored = directory.doctor(actor.id)
    assert (stored.hospital_id, stored.department_id) == (ident(hospital), ident(department))
    assert updated.hospital_id == ident(hospital)
    assert not stored.verified


def test_a_department_of_another_hospital_is_refused_naming_the_department(
    directory: DirectoryService, doctor: Doctor, other_hospital: Hospital, neurology: Department
) -> None:
    with pytest.raises(InvalidValue) as caught:
        directory.update_my_profile(
            as_doctor(doctor), DoctorProfileChanges(department_id=ident(neurology))
        )

    assert caught.value.field == "department_id"
    stored = directory.doctor(ident(doctor))
    assert (stored.hospital_id, stored.department_id, stored.verified) == (
        doctor.hospital_id,
        doctor.department_id,
        True,
    )


def test_a_new_hospital_without_one_of_its_departments_is_refused(
    directory: DirectoryService, doctor: Doctor, other_hospital: Hospital
) -> None:
    # The doctor's current department belongs to the old hospital.
    with pytest.raises(InvalidValue) as caught:
        directory.update_my_profile(
            as_doctor(doctor), DoctorProfileChanges(hospital_id=ident(other_hospital))
        )

    assert caught.value.field == "department_id"
    assert directory.doctor(ident(doctor)).hospital_id == doctor.hospital_id


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (DoctorProfileChanges(hospital_id=404, department_id=1), "hospital_id"),
        (DoctorProfileChanges(department_id=404), "department_id"),
    ],
)
def test_an_unknown_hospital_or_department_is_refused_naming_it(
    directory: DirectoryService, doctor: Doctor, changes: DoctorProfileChanges, field: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        directory.update_my_profile(as_doctor(doctor), changes)

    assert caught.value.field == field
    assert directory.doctor(ident(doctor)).department_id == doctor.department_id


def test_a_hospital_needs_a_department_and_a_department_a_hospital(
    store: MemoryStore, directory: DirectoryService, hospital: Hospital, department: Department
) -> None:
    actor = add_registered_doctor(store)

    with pytest.raises(InvalidValue) as no_department:
        directory.update_my_profile(actor, DoctorProfileChanges(hospital_id=ident(hospital)))
    with pytest.raises(InvalidValue) as no_hospital:
        directory.update_my_profile(actor, DoctorProfileChanges(department_id=ident(department)))

    assert (no_department.value.field, no_hospital.value.field) == ("department_id", "hospital_id")
    assert directory.doctor(actor.id).hospital_id is None


def test_moving_to_another_hospital_needs_approval_again(
    directory: DirectoryService, doctor: Doctor, other_hospital: Hospital, neurology: Department
) -> None:
    assert doctor.verified

    directory.update_my_profile(
        as_doctor(doctor),
        DoctorProfileChanges(hospital_id=ident(other_hospital), department_id=ident(neurology)),
    )

    stored = directory.doctor(ident(doctor))
    assert (stored.hospital_id, stored.department_id) == (ident(other_hospital), ident(neurology))
    assert not stored.verified
    with pytest.raises(DoctorNotFound):
        directory.public_doctor(ident(doctor))


def test_moving_within_the_hospital_keeps_the_approval(
    directory: DirectoryService, doctor: Doctor, hospital: Hospital
) -> None:
    oncology = directory.add_department(ident(hospital), "Oncology")

    directory.update_my_profile(
        as_doctor(doctor),
        DoctorProfileChanges(hospital_id=ident(hospital), department_id=ident(oncology)),
    )

    stored = directory.doctor(ident(doctor))
    assert (stored.department_id, stored.verified) == (ident(oncology), True)


def test_a_partial_update_keeps_the_other_fields(
    directory: DirectoryService, doctor: Doctor
) -> None:
    actor = as_doctor(doctor)
    directory.update_my_profile(
        actor,
        DoctorProfileChanges(
            gender=Sex.FEMALE,
            staff_number="RJ-0042",
            rank=Rank.ATTENDING,
            specialty="arrhythmia",
            birth_date=dt.date(1980, 5, 1),
        ),
    )

    directory.update_my_profile(actor, DoctorProfileChanges(rank=Rank.CHIEF))

    stored = directory.doctor(ident(doctor))
    assert (stored.rank, stored.gender, stored.staff_number) == (
        Rank.CHIEF,
        Sex.FEMALE,
        "RJ-0042",
    )
    assert (stored.specialty, stored.birth_date) == ("arrhythmia", dt.date(1980, 5, 1))
    assert (stored.hospital_id, stored.department_id) == (doctor.hospital_id, doctor.department_id)
    assert (stored.name, stored.phone, stored.schedule) == (
        doctor.name,
        doctor.phone,
        doctor.schedule,
    )
    # A new rank is a qualification the hospital has not vouched for yet: approval again.
    assert stored.verified is False


def test_editing_what_the_hospital_does_not_vouch_for_keeps_the_approval(
    directory: DirectoryService, doctor: Doctor
) -> None:
    directory.update_my_profile(
        as_doctor(doctor),
        DoctorProfileChanges(gender=Sex.MALE, specialty="sports injuries", rank=doctor.rank),
    )

    assert directory.doctor(ident(doctor)).verified is True


def test_an_invalid_staff_number_is_refused_and_nothing_changes(
    directory: DirectoryService, doctor: Doctor
) -> None:
    with pytest.raises(InvalidValue) as caught:
        directory.update_my_profile(
            as_doctor(doctor), DoctorProfileChanges(staff_number="123456789", rank=Rank.CHIEF)
        )

    assert caught.value.field == "staff_number"
    stored = directory.doctor(ident(doctor))
    assert (stored.staff_number, stored.rank) == (None, Rank.RESIDENT)


@pytest.mark.parametrize("role", [Role.PATIENT, Role.ADMIN])
def test_only_a_doctor_edits_a_doctor_profile(
    directory: DirectoryService, doctor: Doctor, role: Role
) -> None:
    with pytest.raises(Forbidden):
        directory.update_my_profile(
            Actor(ident(doctor), role, doctor.hospital_id), DoctorProfileChanges(rank=Rank.CHIEF)
        )

    assert directory.doctor(ident(doctor)).rank is Rank.RESIDENT


def test_a_doctor_sets_their_own_schedule(
    directory: DirectoryService, make_doctor: MakeDoctor
) -> None:
    mine, theirs = make_doctor(), make_doctor(name="Dr Sun")
    schedule = WeeklySchedule.every_day(5, 0)

    updated = directory.set_my_schedule(as_doctor(mine), schedule)

    assert updated.schedule == directory.doctor(ident(mine)).schedule == schedule
    assert directory.doctor(ident(theirs)).schedule == WeeklySchedule.every_day(2, 2)


@pytest.mark.parametrize("role", [Role.PATIENT, Role.ADMIN])
def test_only_a_doctor_sets_a_schedule(
    directory: DirectoryService, doctor: Doctor, role: Role
) -> None:
    with pytest.raises(Forbidden):
        directory.set_my_schedule(
            Actor(ident(doctor), role, doctor.hospital_id), WeeklySchedule.off()
        )

    assert directory.doctor(ident(doctor)).schedule == WeeklySchedule.every_day(2, 2)


# --- public profiles and the hospitals near a point ----------------------------------------------


def test_a_verified_doctor_is_public(directory: DirectoryService, doctor: Doctor) -> None:
    assert directory.public_doctor(ident(doctor)) == doctor


def test_an_unverified_doctor_is_not_found(
    directory: DirectoryService, make_doctor: MakeDoctor
) -> None:
    hidden = make_doctor(verified=False)

    with pytest.raises(DoctorNotFound):
        directory.public_doctor(ident(hidden))
    with pytest.raises(DoctorNotFound):
        directory.public_doctor(404)


def test_a_verified_doctor_in_no_hospital_is_not_found(
    store: MemoryStore, directory: DirectoryService
) -> None:
    actor = add_registered_doctor(store)
    directory.set_verified(actor.id, True)

    with pytest.raises(DoctorNotFound):
        directory.public_doctor(actor.id)


@pytest.fixture
def three_hospitals(directory: DirectoryService) -> tuple[Hospital, Hospital, Hospital]:
    """One in Shanghai, one in Beijing (about 1070 km apart), one with no known position."""
    shanghai = directory.add_hospital("Ruijin Hospital", location=GeoPoint(31.2115, 121.4651))
    unplaced = directory.add_hospital("Clinic Without Address")
    beijing = directory.add_hospital("Peking Union Hospital", location=GeoPoint(39.9129, 116.4166))
    return shanghai, unplaced, beijing


def test_hospitals_near_a_point_come_nearest_first_and_unplaced_last(
    directory: DirectoryService, three_hospitals: tuple[Hospital, Hospital, Hospital]
) -> None:
    shanghai, unplaced, beijing = three_hospitals

    from_beijing = directory.hospitals_near(39.9042, 116.4074)
    from_shanghai = directory.hospitals_near(31.2304, 121.4737)

    assert [n.hospital for n in from_beijing] == [beijing, shanghai, unplaced]
    assert [n.hospital for n in from_shanghai] == [shanghai, beijing, unplaced]
    near, far, nowhere = (n.distance_km for n in from_beijing)
    assert near is not None and near < 2
    assert far is not None and 1000 < far < 1150
    assert nowhere is None


@pytest.mark.parametrize(("lat", "lng", "missing"), [(31.2, None, "lng"), (None, 121.4, "lat")])
def test_half_a_position_is_refused_naming_the_missing_half(
    directory: DirectoryService, lat: float | None, lng: float | None, missing: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        directory.hospitals_near(lat, lng)
    assert refused.value.field == missing


@pytest.mark.parametrize(("lat", "lng"), [(None, None)])
def test_without_a_position_every_hospital_comes_without_a_distance(
    directory: DirectoryService,
    three_hospitals: tuple[Hospital, Hospital, Hospital],
    lat: float | None,
    lng: float | None,
) -> None:
    found = directory.hospitals_near(lat, lng)

    assert [n.hospital for n in found] == list(three_hospitals)
    assert [n.distance_km for n in found] == [None, None, None]


def test_an_impossible_position_is_refused_naming_it(directory: DirectoryService) -> None:
    with pytest.raises(InvalidValue) as caught:
        directory.hospitals_near(91.0, 121.4)

    assert caught.value.field == "lat"


# --- booking as a patient ------------------------------------------------------------------------


def test_a_patient_books_and_sees_the_names_beside_the_appointment(
    booking: BookingService, doctor: Doctor, wang: Actor
) -> None:
    view = booking.book_as(wang, ident(doctor), TOMORROW, MORNING)

    assert view.appointment.patient_id == wang.id
    assert (view.appointment.status, view.appointment.number) == (AppointmentStatus.BOOKED, 1)
    assert (view.appointment.date, view.appointment.period) == (TOMORROW, MORNING)
    assert (view.patient_name, view.patient_phone) == ("Wang Fang", "13900000001")
    assert (view.doctor_name, view.hospital, view.department) == (
        "Dr Li",
        "Ruijin Hospital",
        "Cardiology",
    )
    assert booking.appointments_of_patient(wang.id) == [view.appointment]


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.ADMIN])
def test_only_a_patient_books(booking: BookingService, doctor: Doctor, role: Role) -> None:
    with pytest.raises(Forbidden):
        booking.book_as(
            Actor(ident(doctor), role, doctor.hospital_id), ident(doctor), TOMORROW, MORNING
        )

    assert booking.appointments_of_doctor(ident(doctor)) == []


def test_a_patient_cancels_their_appointment(
    booking: BookingService, doctor: Doctor, wang: Actor
) -> None:
    booked = booking.book_as(wang, ident(doctor), TOMORROW, MORNING)

    view = booking.cancel_as(wang, ident(booked.appointment))

    assert view.appointment.status is AppointmentStatus.CANCELLED
    assert view.appointment.cancelled_by is CancelledBy.PATIENT
    assert view.patient_name == "Wang Fang"
    assert booking.appointment(ident(booked.appointment)).status is AppointmentStatus.CANCELLED


def test_a_patient_cannot_cancel_another_patients_appointment(
    booking: BookingService, doctor: Doctor, wang: Actor, zhao: Actor
) -> None:
    booked = booking.book_as(wang, ident(doctor), TOMORROW, MORNING)

    with pytest.raises(AppointmentNotFound):
        booking.cancel_as(zhao, ident(booked.appointment))

    assert booking.appointment(ident(booked.appointment)).status is AppointmentStatus.BOOKED


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.ADMIN])
def test_only_a_patient_cancels_through_the_actor_api(
    booking: BookingService, doctor: Doctor, wang: Actor, role: Role
) -> None:
    booked = booking.book_as(wang, ident(doctor), TOMORROW, MORNING)

    # The same id as the patient's, in another role: the role alone refuses it.
    with pytest.raises(Forbidden):
        booking.cancel_as(Actor(wang.id, role, 1), ident(booked.appointment))

    assert booking.appointment(ident(booked.appointment)).status is AppointmentStatus.BOOKED


# --- listings ------------------------------------------------------------------------------------


def test_a_patient_lists_only_their_own_appointments(
    booking: BookingService, make_doctor: MakeDoctor, wang: Actor, zhao: Actor
) -> None:
    li, sun = make_doctor(), make_doctor(name="Dr Sun")
    first = booking.book_as(wang, ident(li), TOMORROW, MORNING)
    second = booking.book_as(wang, ident(sun), DAY_AFTER, AFTERNOON)
    booking.book_as(zhao, ident(li), TOMORROW, MORNING)

    mine = booking.appointments_as(wang)
    on_the_day = booking.appointments_as(wang, DAY_AFTER)

    assert [v.appointment for v in mine] == [first.appointment, second.appointment]
    assert [v.doctor_name for v in mine] == ["Dr Li", "Dr Sun"]
    assert {v.patient_name for v in mine} == {"Wang Fang"}
    assert [v.appointment for v in on_the_day] == [second.appointment]


def test_a_doctor_lists_the_appointments_with_them(
    booking: BookingService, make_doctor: MakeDoctor, wang: Actor, zhao: Actor
) -> None:
    li, sun = make_doctor(), make_doctor(name="Dr Sun")
    booking.book_as(wang, ident(li), TOMORROW, MORNING)
    booking.book_as(zhao, ident(li), TOMORROW, MORNING)
    booking.book_as(wang, ident(sun), TOMORROW, MORNING)

    theirs = booking.appointments_as(as_doctor(li))

    assert [(v.patient_name, v.patient_phone) for v in theirs] == [
        ("Wang Fang", "13900000001"),
        ("Zhao Lei", "13900000002"),
    ]
    assert {v.appointment.doctor_id for v in theirs} == {ident(li)}
    assert {(v.hospital, v.department) for v in theirs} == {("Ruijin Hospital", "Cardiology")}


def test_an_admin_does_not_list_appointments(
    booking: BookingService, doctor: Doctor, hospital: Hospital, wang: Actor
) -> None:
    booking.book_as(wang, ident(doctor), TOMORROW, MORNING)

    with pytest.raises(Forbidden):
        booking.appointments_as(admin_of(hospital))


# --- leave ---------------------------------------------------------------------------------------


def test_a_doctors_leave_tells_each_cancelled_patient(
    store: MemoryStore,
    booking: BookingService,
    clock: ManualClock,
    doctor: Doctor,
    wang: Actor,
    zhao: Actor,
) -> None:
    first = booking.book_as(wang, ident(doctor), TOMORROW, MORNING).appointment
    second = booking.book_as(zhao, ident(doctor), TOMORROW, MORNING).appointment
    booking.book_as(wang, ident(doctor), TOMORROW, AFTERNOON)  # another session: untouched
    clock.advance(dt.timedelta(hours=1))

    taken = booking.take_leave_as(as_doctor(doctor), TOMORROW, MORNING)

    assert taken.affected_patient_ids == (wang.id, zhao.id)
    sent = notifications(store)
    assert [(n.recipient_role, n.recipient_id) for n in sent] == [
        (Role.PATIENT, wang.id),
        (Role.PATIENT, zhao.id),
    ]
    assert {n.kind for n in sent} == {NotificationKind.APPOINTMENT_CANCELLED_BY_LEAVE}
    assert [n.data for n in sent] == [
        {
            "appointment_id": ident(appointment),
            "doctor_id": ident(doctor),
            "date": "2026-11-26",
            "period": "morning",
        }
        for appointment in (first, second)
    ]
    assert {n.created_at for n in sent} == {NOW + dt.timedelta(hours=1)}
    assert all(not n.read and n.title and "Dr Li" in n.body for n in sent)


def test_a_leave_without_bookings_tells_no_one(
    store: MemoryStore, booking: BookingService, doctor: Doctor
) -> None:
    taken = booking.take_leave_as(as_doctor(doctor), TOMORROW, MORNING)

    assert taken.cancelled == ()
    assert notifications(store) == []


@pytest.mark.parametrize("role", [Role.PATIENT, Role.ADMIN])
def test_only_a_doctor_takes_leave(
    store: MemoryStore, booking: BookingService, doctor: Doctor, wang: Actor, role: Role
) -> None:
    booked = booking.book_as(wang, ident(doctor), TOMORROW, MORNING)

    with pytest.raises(Forbidden):
        booking.take_leave_as(Actor(ident(doctor), role, doctor.hospital_id), TOMORROW, MORNING)

    assert booking.appointment(ident(booked.appointment)).status is AppointmentStatus.BOOKED
    assert store.tables["leaves"] == {}
    assert notifications(store) == []


@pytest.mark.parametrize(
    ("repository", "method", "after"),
    [("notifications", "add", 1), ("places", "release", 0)],
    ids=["second-notice-fails", "giving-back-places-fails"],
)
def test_a_failed_leave_writes_no_notification(
    store: MemoryStore,
    booking: BookingService,
    clock: ManualClock,
    doctor: Doctor,
    wang: Actor,
    zhao: Actor,
    repository: str,
    method: str,
    after: int,
) -> None:
    for patient in (wang, zhao):
        booking.book_as(patient, ident(doctor), TOMORROW, MORNING)
    broken = BookingService(failing(store, repository, method, after), clock)

    with pytest.raises(Boom):
        broken.take_leave_as(as_doctor(doctor), TOMORROW, MORNING)

    assert notifications(store) == []
    assert store.tables["leaves"] == {}
    statuses = [v.appointment.status for v in booking.appointments_as(as_doctor(doctor))]
    assert statuses == [AppointmentStatus.BOOKED, AppointmentStatus.BOOKED]


def test_a_refused_leave_writes_no_notification(
    store: MemoryStore,
    booking: BookingService,
    clock: ManualClock,
    doctor: Doctor,
    wang: Actor,
    zhao: Actor,
) -> None:
    booking.book_as(wang, ident(doctor), TOMORROW, MORNING)
    booking.book_as(zhao, ident(doctor), TODAY, AFTERNOON)
    booking.take_leave_as(as_doctor(doctor), TOMORROW, MORNING)
    clock.set(local(TODAY, 14))  # today's afternoon session has started

    with pytest.raises(AlreadyOnLeave):
        booking.take_leave_as(as_doctor(doctor), TOMORROW, MORNING)
    with pytest.raises(OutsideWindow):
        booking.take_leave_as(as_doctor(doctor), TODAY, AFTERNOON)

    assert [n.recipient_id for n in notifications(store)] == [wang.id]
