"""The directory in memory: hospitals, their departments, and doctors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.directory.model import Department, Doctor, Hospital
from medbook.domain.shared.errors import DepartmentExists

TABLES = ("hospitals", "departments", "doctors")


class MemoryHospitals(MemoryTable):
    def add(self, hospital: Hospital) -> Hospital:
        return self._insert(hospital)  # type: ignore[no-any-return]

    def get(self, hospital_id: int) -> Hospital | None:
        return self._get(hospital_id)  # type: ignore[no-any-return]

    def many(self, hospital_ids: Iterable[int]) -> dict[int, Hospital]:
        found = (self._get(i) for i in set(hospital_ids))
        return {h.id: h for h in found if h is not None}

    def list(self) -> Sequence[Hospital]:
        return sorted(self._all(), key=lambda h: h.id)


class MemoryDepartments(MemoryTable):
    def add(self, department: Department) -> Department:
        if any(
            d.hospital_id == department.hospital_id and d.name == department.name
            for d in self.rows.values()
        ):
            raise DepartmentExists(f"the hospital already has a department {department.name!r}")
        return self._insert(department)  # type: ignore[no-any-return]

    def get(self, department_id: int) -> Department | None:
        return self._get(department_id)  # type: ignore[no-any-return]

    def of_hospital(self, hospital_id: int) -> Sequence[Department]:
        return [d for d in self._all() if d.hospital_id == hospital_id]


class MemoryDoctors(MemoryTable):
    def add(self, doctor: Doctor) -> Doctor:
        return self._insert(doctor)  # type: ignore[no-any-return]

    def get(
        self, doctor_id: int, *, for_update: bool = False, for_share: bool = False
    ) -> Doctor | None:
        return self._get(doctor_id)  # type: ignore[no-any-return]

    def get_in_zone(
        self, doctor_id: int, *, for_share: bool = False
    ) -> tuple[Doctor, str | None] | None:
        doctor: Doctor | None = self._get(doctor_id)
        if doctor is None:
            return None
        hospital = self._uow.staged["hospitals"].get(doctor.hospital_id)
        return doctor, hospital.timezone if hospital is not None else None

    def save(self, doctor: Doctor) -> None:
        self._save(doctor)

    def of_hospital(self, hospital_id: int, *, verified: bool | None = None) -> Sequence[Doctor]:
        return [
            d
            for d in self._all()
            if d.hospital_id == hospital_id and verified in (None, d.verified)
        ]

    def named(self, prefix: str, *, limit: int) -> Sequence[Doctor]:
        wanted = prefix.lower()
        found = [
            d
            for d in self._all()
            if d.verified
            and (
                d.name.lower().startswith(wanted)
                or any(word.startswith(wanted) for word in d.name.lower().split(" ")[1:])
            )
        ]
        return sorted(found, key=lambda d: d.id)[:limit]

    def of_department(self, department_id: int, *, verified_only: bool = True) -> Sequence[Doctor]:
        return [
            d
            for d in self._all()
            if d.department_id == department_id and (d.verified or not verified_only)
        ]
