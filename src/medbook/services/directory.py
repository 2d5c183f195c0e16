"""The hospital directory: hospitals, departments, doctors and their weekly schedules."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Sequence

import attrs
from attrs import define, frozen

from medbook.domain import Department, Doctor, GeoPoint, Hospital, Rank, Sex, WeeklySchedule
from medbook.domain.directory.model import DEFAULT_TIMEZONE
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    DepartmentNotFound,
    DoctorNotFound,
    HospitalNotFound,
    InvalidValue,
)
from medbook.domain.shared.geo import distance_km
from medbook.domain.shared.text import PERSON_NAME, ensure_birth_date
from medbook.ports.clock import Clock
from medbook.ports.directory import DirectoryReads, DirectoryUnitOfWork
from medbook.services.authorization import require_admin_of, require_role
from medbook.services.transactions import read_only, transactionally

#: The most doctors a search by name answers.
MAX_NAMED = 100


def hospital_of(uow: DirectoryReads, hospital_id: int) -> Hospital:
    hospital = uow.hospitals.get(hospital_id)
    if hospital is None:
        raise HospitalNotFound(f"no hospital {hospital_id}")
    return hospital


def department_of(uow: DirectoryReads, department_id: int) -> Department:
    department = uow.departments.get(department_id)
    if department is None:
        raise DepartmentNotFound(f"no department {department_id}")
    return department


def doctor_tz(uow: DirectoryReads, doctor: Doctor) -> dt.tzinfo:
    """The time zone of the doctor's hospital (the default zone before they join one)."""
    if doctor.hospital_id is None:
        return zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)
    return hospital_of(uow, doctor.hospital_id).tz


def doctor_in_zone(
    uow: DirectoryReads, doctor_id: int, *, for_share: bool = False
) -> tuple[Doctor, dt.tzinfo]:
    """The doctor and their hospital's time zone (``doctor_of`` and ``doctor_tz``) in one read."""
    found = uow.doctors.get_in_zone(doctor_id, for_share=for_share)
    if found is None:
        raise DoctorNotFound(f"no doctor {doctor_id}")
    doctor, zone = found
    if doctor.hospital_id is None:
        return doctor, zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)
    if zone is None:
        raise HospitalNotFound(f"no hospital {doctor.hospital_id}")
    return doctor, zoneinfo.ZoneInfo(zone)


def doctor_of(
    uow: DirectoryReads, doctor_id: int, *, for_update: bool = False, for_share: bool = False
) -> Doctor:
    """The doctor; ``for_update`` before changing and saving them, so no change is lost;
    ``for_share`` to lock the doctor before a session's places (the one lock order: doctor row,
    then places rows, which set_schedule follows too)."""
    doctor = uow.doctors.get(doctor_id, for_update=for_update, for_share=for_share)
    if doctor is None:
        raise DoctorNotFound(f"no doctor {doctor_id}")
    return doctor


@frozen
class DoctorCard:
    """A doctor with their hospital and department, as a profile shows them."""

    doctor: Doctor
    hospital: Hospital | None
    department: Department | None


def _card(uow: DirectoryReads, doctor: Doctor) -> DoctorCard:
    hospital = uow.hospitals.get(doctor.hospital_id) if doctor.hospital_id else None
    department = uow.departments.get(doctor.department_id) if doctor.department_id else None
    return DoctorCard(doctor, hospital, department)


@frozen
class DoctorProfileChanges:
    """A doctor's edit of their own profile; None leaves a field as it is."""

    gender: Sex | None = None
    hospital_id: int | None = None
    department_id: int | None = None
    staff_number: str | None = None
    rank: Rank | None = None
    specialty: str | None = None
    birth_date: dt.date | None = None


@frozen
class HospitalNearby:
    hospital: Hospital
    distance_km: float | None


log = logging.getLogger("medbook.directory")


@define
class DirectoryService:
    new_uow: Callable[[], DirectoryUnitOfWork]
    clock: Clock
    #: Called with the doctor's id once a new weekly schedule is committed: the waitlists
    #: settle (bootstrap adds ``WaitlistService.settle_doctor``). A failing one is logged; the
    #: schedule stands.
    schedule_changed: list[Callable[[int], object]] = attrs.field(factory=list)

    def add_hospital(
        self,
        name: str,
        address: str = "",
        location: GeoPoint | None = None,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> Hospital:
        hospital = Hospital(name, address, location, timezone)

        def work(uow: DirectoryUnitOfWork) -> Hospital:
            return uow.hospitals.add(hospital)

        return transactionally(self.new_uow, work)

    def add_department(self, hospital_id: int, name: str, description: str = "") -> Department:
        def work(uow: DirectoryUnitOfWork) -> Department:
            hospital_of(uow, hospital_id)
            return uow.departments.add(Department(hospital_id, name, description))

        return transactionally(self.new_uow, work)

    def add_doctor(
        self,
        hospital_id: int,
        department_id: int,
        *,
        name: str,
        phone: str,
        rank: Rank = Rank.RESIDENT,
        gender: Sex | None = None,
        staff_number: str | None = None,
        specialty: str = "",
        birth_date: dt.date | None = None,
    ) -> Doctor:
        """A doctor joins a department of a hospital; they stay unverified until approved."""
        if birth_date is not None:
            ensure_birth_date(birth_date, self._today())

        def work(uow: DirectoryUnitOfWork) -> Doctor:
            doctor = Doctor.join(
                hospital_of(uow, hospital_id),
                department_of(uow, department_id),
                name=name,
                phone=phone,
                rank=rank,
                gender=gender,
                staff_number=staff_number,
                specialty=specialty,
                birth_date=birth_date,
            )
            return uow.doctors.add(doctor)

        return transactionally(self.new_uow, work)

    def set_verified(self, doctor_id: int, verified: bool) -> Doctor:
        def work(uow: DirectoryUnitOfWork) -> Doctor:
            doctor = doctor_of(uow, doctor_id, for_update=True)
            doctor.verified = verified
            uow.doctors.save(doctor)
            return doctor

        return transactionally(self.new_uow, work)

    def set_schedule(self, doctor_id: int, schedule: WeeklySchedule) -> Doctor:
        """A new weekly schedule, for every session that has not passed yet.

        Sessions that already hold appointments keep at least as many places as are held: lowering
        a quota (or switching a session off) never takes a place from a patient; leave does that.
        """

        def work(uow: DirectoryUnitOfWork) -> Doctor:
            doctor = doctor_of(uow, doctor_id, for_update=True)
            doctor.schedule = schedule
            uow.doctors.save(doctor)
            today = self.clock.now().astimezone(doctor_tz(uow, doctor)).date()
            for (date, period), places in uow.places.between(doctor_id, today, dt.date.max).items():
                uow.places.lock(places.session)
                uow.places.resize(places.session, schedule.quota(date, period))
            return doctor

        changed = transactionally(self.new_uow, work)
        for hook in self.schedule_changed:
            try:
                hook(doctor_id)
            except Exception:  # the sweep settles what this did not
                log.exception("after the schedule of doctor %s changed, %r failed", doctor_id, hook)
        return changed

    def hospital(self, hospital_id: int) -> Hospital:
        return read_only(self.new_uow, lambda uow: hospital_of(uow, hospital_id))

    def hospitals(self) -> Sequence[Hospital]:
        return read_only(self.new_uow, lambda uow: uow.hospitals.list())

    def departments(self, hospital_id: int) -> Sequence[Department]:
        def query(uow: DirectoryUnitOfWork) -> Sequence[Department]:
            hospital_of(uow, hospital_id)
            return uow.departments.of_hospital(hospital_id)

        return read_only(self.new_uow, query)

    def department(self, department_id: int) -> Department:
        return read_only(self.new_uow, lambda uow: department_of(uow, department_id))

    def doctor(self, doctor_id: int) -> Doctor:
        return read_only(self.new_uow, lambda uow: doctor_of(uow, doctor_id))

    def doctors_named(self, prefix: str, *, limit: int = MAX_NAMED) -> Sequence[Doctor]:
        """Doctors anyone may see (verified) whose name or a word of it starts with ``prefix``
        (without case), by id, at most ``limit``."""
        text = PERSON_NAME.check(prefix, "name")
        return read_only(self.new_uow, lambda uow: uow.doctors.named(text, limit=limit))

    def doctors(self, department_id: int, *, verified_only: bool = True) -> Sequence[Doctor]:
        def query(uow: DirectoryUnitOfWork) -> Sequence[Doctor]:
            department_of(uow, department_id)
            return uow.doctors.of_department(department_id, verified_only=verified_only)

        return read_only(self.new_uow, query)

    # --- as an authenticated actor ---------------------------------------------------------------

    def hospitals_near(self, lat: float | None, lng: float | None) -> list[HospitalNearby]:
        """Every hospital, nearest first when a position is given (those without one last)."""
        if (lat is None) != (lng is None):
            raise InvalidValue("lng" if lng is None else "lat", "give both lat and lng, or neither")
        hospitals = self.hospitals()
        if lat is None or lng is None:
            return [HospitalNearby(h, None) for h in hospitals]
        here = GeoPoint(lat, lng)
        nearby = [
            HospitalNearby(h, distance_km(here, h.location) if h.location else None)
            for h in hospitals
        ]
        return sorted(nearby, key=lambda n: (n.distance_km is None, n.distance_km or 0.0))

    def add_department_as(
        self, actor: Actor, hospital_id: int, name: str, description: str = ""
    ) -> Department:
        require_admin_of(actor, hospital_id)
        return self.add_department(hospital_id, name, description)

    def hospital_doctors_as(
        self, actor: Actor, hospital_id: int, verified: bool | None = None
    ) -> Sequence[DoctorCard]:
        """An admin's view of their hospital's doctors, approved or awaiting approval
        (``verified`` picks one kind), each with its department's name, in one transaction."""
        require_admin_of(actor, hospital_id)

        def query(uow: DirectoryUnitOfWork) -> Sequence[DoctorCard]:
            hospital = uow.hospitals.get(hospital_id)
            if hospital is None:
                raise HospitalNotFound(f"no hospital {hospital_id}")
            departments = {d.id: d for d in uow.departments.of_hospital(hospital_id)}
            return [
                DoctorCard(d, hospital, departments.get(d.department_id))
                for d in uow.doctors.of_hospital(hospital_id, verified=verified)
            ]

        return read_only(self.new_uow, query)

    def card(self, doctor: Doctor) -> DoctorCard:
        """The doctor with the names of their hospital and department, in one transaction."""
        return read_only(self.new_uow, lambda uow: _card(uow, doctor))

    def public_card(self, doctor_id: int) -> DoctorCard:
        """A doctor anyone may see (verified by a hospital) with their hospital and department,
        in one transaction."""

        def query(uow: DirectoryUnitOfWork) -> DoctorCard:
            doctor = doctor_of(uow, doctor_id)
            if not doctor.bookable:
                raise DoctorNotFound(f"no doctor {doctor_id}")
            return _card(uow, doctor)

        return read_only(self.new_uow, query)

    def public_doctor(self, doctor_id: int) -> Doctor:
        """A doctor anyone may see: verified by a hospital."""
        return self.public_card(doctor_id).doctor

    def update_my_profile(self, actor: Actor, changes: DoctorProfileChanges) -> Doctor:
        """A doctor edits their basic and professional information.

        A hospital and department must be chosen together and belong together; moving to another
        hospital needs that hospital's approval again.
        """
        require_role(actor, Role.DOCTOR)
        if changes.birth_date is not None:
            ensure_birth_date(changes.birth_date, self._today())

        def work(uow: DirectoryUnitOfWork) -> Doctor:
            doctor = doctor_of(uow, actor.id, for_update=True)
            # None keeps the current value; any id given (0 included) must name a real one.
            hospital_id = (
                changes.hospital_id if changes.hospital_id is not None else doctor.hospital_id
            )
            department_id = (
                changes.department_id if changes.department_id is not None else doctor.department_id
            )
            if changes.hospital_id is not None or changes.department_id is not None:
                if hospital_id is None or department_id is None:
                    field = "department_id" if hospital_id is not None else "hospital_id"
                    raise InvalidValue(field, "choose a hospital and one of its departments")
                hospital = uow.hospitals.get(hospital_id)
                if hospital is None:
                    raise InvalidValue("hospital_id", "no such hospital")
                department = uow.departments.get(department_id)
                if department is None:
                    raise InvalidValue("department_id", "no such department")
                doctor.move_to(hospital, department)
            doctor.revise(
                gender=changes.gender,
                staff_number=changes.staff_number,
                rank=changes.rank,
                specialty=changes.specialty,
                birth_date=changes.birth_date,
            )
            attrs.validate(doctor)
            uow.doctors.save(doctor)
            return doctor

        return transactionally(self.new_uow, work)

    def _today(self) -> dt.date:
        """Today on the mainland's calendar, for judging birth dates."""
        return self.clock.now().astimezone(zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)).date()

    def set_my_schedule(self, actor: Actor, schedule: WeeklySchedule) -> Doctor:
        require_role(actor, Role.DOCTOR)
        return self.set_schedule(actor.id, schedule)
