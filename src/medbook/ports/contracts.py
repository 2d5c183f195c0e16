"""Family-doctor contracts' ports: the contracts, the listing of them, and its unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from attrs import frozen

from medbook.domain.contracts.model import Contract
from medbook.ports.accounts import PatientRepository
from medbook.ports.directory import DirectoryReads
from medbook.ports.notifications import NotificationRepository
from medbook.ports.transaction import Transaction


class ContractRepository(Protocol):
    def add(self, contract: Contract) -> Contract:
        """Store a new active contract; raises ``AlreadySigned`` when the two have an active one
        (a unique key decides, also between racing transactions)."""
        ...

    def get(self, contract_id: int, *, for_update: bool = False) -> Contract | None: ...

    def save(self, contract: Contract) -> None:
        """Write back an ended contract (its pair's key is freed: the two may sign again)."""
        ...

    def active_between(self, patient_id: int, doctor_id: int) -> Contract | None: ...

    def of_patient(self, patient_id: int, *, active_only: bool = True) -> Sequence[Contract]:
        """Newest first."""
        ...

    def of_doctor(self, doctor_id: int, *, active_only: bool = True) -> Sequence[Contract]:
        """Newest first."""
        ...


@frozen
class ContractView:
    """A contract as its listing shows it: both parties' names, the doctor's hospital and
    department."""

    contract: Contract
    patient_name: str | None
    doctor_name: str
    hospital: str | None
    department: str | None


class ContractsUnitOfWork(DirectoryReads, Transaction, Protocol):
    """The contracts' transaction: its own repository, the patients (names), and the inbox (the
    doctor hears of a signing)."""

    @property
    def contracts(self) -> ContractRepository: ...
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
