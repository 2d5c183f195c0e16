"""The hospital directory: hospitals, departments, doctors and their weekly schedules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from attrs import define

from medbook.domain import Department, Doctor, Gender, GeoPoint, Hospital, Rank, WeeklySchedule
from medbook.domain.directory import DEFAULT_TIMEZONE
from medbook.domain.errors import DepartmentNotFound, DoctorNotFound, HospitalNotFound
from medbook.ports.clock import Clock
from medbook.ports.unit_of_work import UnitOfWork
from medbook.services.transactions import UnitOfWorkFactory, read_only, transactionally


def hospital_of(uow: UnitOfWork, hospital_id: int) -> Hospital:
    hospital = uow.hospitals.get(hospital_id)
    if hospital is None:
        raise HospitalNotFound(f"no hospital {hospital_id}")
    return hospital


def department_of(uow: UnitOfWork, department_id: int) -> Department:
    department = uow.departments.get(department_id)
    if department is None:
        raise DepartmentNotFound(f"no department {department_id}")
    return department


def doctor_of(uow: UnitOfWork, doctor_id: int) -> Doctor:
    doctor = uow.doctors.get(doctor_id)
    if doctor is None:
        raise DoctorNotFound(f"no doctor {doctor_id}")
    return doctor


@define
class DirectoryService:
    new_uow: UnitOfWorkFactory
    clock: Clock

    def add_hospital(
        self,
        name: str,
        address: str = "",
        location: GeoPoint | None = None,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> Hospital:
        hospital = Hospital(name, address, location, timezone)
        return transactionally(self.new_uow, lambda uow: uow.hospitals.add(hospital))

    def add_department(self, hospital_id: int, name: str, description: str = "") -> Department:
        def work(uow: UnitOfWork) -> Department:
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
        gender: Gender | None = None,
        staff_number: str | None = None,
        specialty: str = "",
        birth_date: dt.date | None = None,
    ) -> Doctor:
        """A doctor joins a department of a hospital; they stay unverified until approved."""

        def work(uow: UnitOfWork) -> Doctor:
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
        def work(uow: UnitOfWork) -> Doctor:
            doctor = doctor_of(uow, doctor_id)
            doctor.verified = verified
            uow.doctors.save(doctor)
            return doctor

        return transactionally(self.new_uow, work)

    def set_schedule(self, doctor_id: int, schedule: WeeklySchedule) -> Doctor:
        """A new weekly schedule, for every session that has not passed yet.

        Sessions that already hold appointments keep at least as many places as are held: lowering
        a quota (or switching a session off) never takes a place from a patient; leave does that.
        """

        def work(uow: UnitOfWork) -> Doctor:
            doctor = doctor_of(uow, doctor_id)
            doctor.schedule = schedule
            uow.doctors.save(doctor)
            today = self.clock.now().astimezone(hospital_of(uow, doctor.hospital_id).tz).date()
            for (date, period), places in uow.places.between(doctor_id, today, dt.date.max).items():
                uow.places.lock(places.session)
                uow.places.resize(places.session, schedule.quota(date, period))
            return doctor

        return transactionally(self.new_uow, work)

    def hospital(self, hospital_id: int) -> Hospital:
        return read_only(self.new_uow, lambda uow: hospital_of(uow, hospital_id))

    def hospitals(self) -> Sequence[Hospital]:
        return read_only(self.new_uow, lambda uow: uow.hospitals.list())

    def departments(self, hospital_id: int) -> Sequence[Department]:
        def query(uow: UnitOfWork) -> Sequence[Department]:
            hospital_of(uow, hospital_id)
            return uow.departments.of_hospital(hospital_id)

        return read_only(self.new_uow, query)

    def doctor(self, doctor_id: int) -> Doctor:
        return read_only(self.new_uow, lambda uow: doctor_of(uow, doctor_id))

    def doctors(self, department_id: int, *, verified_only: bool = True) -> Sequence[Doctor]:
        def query(uow: UnitOfWork) -> Sequence[Doctor]:
            department_of(uow, department_id)
            return uow.doctors.of_department(department_id, verified_only=verified_only)

        return read_only(self.new_uow, query)
