"""The directory's ports: hospitals, departments and doctors, and its unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from medbook.domain.directory.model import Department, Doctor, Hospital
from medbook.ports.booking_ledger import PlacesRepository
from medbook.ports.transaction import Transaction


class HospitalRepository(Protocol):
    def add(self, hospital: Hospital) -> Hospital:
        """Store a new hospital and give it its id."""
        ...

    def get(self, hospital_id: int) -> Hospital | None: ...

    def many(self, hospital_ids: Iterable[int]) -> dict[int, Hospital]:
        """The hospitals of those ids that exist, in one query."""
        ...

    def list(self) -> Sequence[Hospital]: ...


class DepartmentRepository(Protocol):
    def add(self, department: Department) -> Department: ...

    def get(self, department_id: int) -> Department | None: ...

    def of_hospital(self, hospital_id: int) -> Sequence[Department]: ...


class DoctorRepository(Protocol):
    def add(self, doctor: Doctor) -> Doctor: ...

    def get(
        self, doctor_id: int, *, for_update: bool = False, for_share: bool = False
    ) -> Doctor | None:
        """``for_update``: hold the doctor's row until the transaction ends (read-modify-write);
        ``for_share``: keep it from changing meanwhile (others may share)."""
        ...

    def get_in_zone(
        self, doctor_id: int, *, for_share: bool = False
    ) -> tuple[Doctor, str | None] | None:
        """The doctor and their hospital's IANA time zone (None before they join one), in one
        read; ``for_share`` as in ``get`` (the hospital's row is kept from changing too)."""
        ...

    def save(self, doctor: Doctor) -> None:
        """Write back a changed doctor (profile, schedule, verification)."""
        ...

    def of_department(
        self, department_id: int, *, verified_only: bool = True
    ) -> Sequence[Doctor]: ...

    def of_hospital(self, hospital_id: int, *, verified: bool | None = None) -> Sequence[Doctor]:
        """A hospital's doctors by id, approved or not (``verified`` picks one kind)."""
        ...

    def named(self, prefix: str, *, limit: int) -> Sequence[Doctor]:
        """Verified doctors whose name, or a word of it, starts with ``prefix`` (letters compared
        without case; ``%`` and ``_`` are plain characters), by id, at most ``limit``."""
        ...


class DirectoryReads(Protocol):
    """What any context may read of the directory inside its own transaction."""

    @property
    def hospitals(self) -> HospitalRepository: ...
    @property
    def departments(self) -> DepartmentRepository: ...
    @property
    def doctors(self) -> DoctorRepository: ...


class DirectoryUnitOfWork(DirectoryReads, Transaction, Protocol):
    """The directory's transaction. A new weekly schedule resizes the sessions' places ledger
    under the same locks as booking, so the ledger is part of it."""

    @property
    def places(self) -> PlacesRepository: ...
