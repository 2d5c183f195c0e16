from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from medbook.ports.repositories import (
    AdminRepository,
    AppointmentRepository,
    CredentialRepository,
    DailyCountRepository,
    DepartmentRepository,
    DoctorRepository,
    HospitalRepository,
    LeaveRepository,
    NotificationRepository,
    PatientRepository,
    PlacesRepository,
)


class TransientConflict(Exception):
    """The store gave up on this transaction (deadlock, lock wait timeout, busy): run it again."""


class UnitOfWork(Protocol):
    """One transaction: everything done inside is committed together or not at all.

    ``with uow:`` begins it; leaving the block without ``commit()`` rolls it back.
    """

    @property
    def hospitals(self) -> HospitalRepository: ...
    @property
    def departments(self) -> DepartmentRepository: ...
    @property
    def doctors(self) -> DoctorRepository: ...
    @property
    def leaves(self) -> LeaveRepository: ...
    @property
    def places(self) -> PlacesRepository: ...
    @property
    def daily_counts(self) -> DailyCountRepository: ...
    @property
    def appointments(self) -> AppointmentRepository: ...
    @property
    def credentials(self) -> CredentialRepository: ...
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def admins(self) -> AdminRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
