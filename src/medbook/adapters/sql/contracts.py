"""Family-doctor contracts' table and repository.

One active contract per patient and doctor: ``active_patient_id`` holds the patient's id while
the contract is active and NULL once it has ended, under a unique key on (doctor, active patient)
— NULLs never collide, so ended contracts stay as history and the two may sign again (the same
device as the appointments' holder).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    Table,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.errors import is_duplicate_key
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.contracts.model import Contract, ContractStatus
from medbook.domain.shared.actors import Role
from medbook.domain.shared.errors import AlreadySigned

contracts = Table(
    "contracts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, ForeignKey("patients.id"), nullable=False),
    Column("doctor_id", Integer, ForeignKey("doctors.id"), nullable=False),
    Column("status", value_enum(ContractStatus, "contract_status"), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("ended_by", value_enum(Role, "role"), nullable=True),
    Column("active_patient_id", Integer, nullable=True),
    UniqueConstraint("doctor_id", "active_patient_id", name="uq_contracts_active_pair"),
    CheckConstraint(
        "(status = 'active' AND active_patient_id = patient_id AND ended_at IS NULL)"
        " OR (status = 'ended' AND active_patient_id IS NULL AND ended_at IS NOT NULL)",
        name="active_matches_status",
    ),
    Index(None, "patient_id", "id"),
    Index(None, "doctor_id", "id"),
)

_FIELDS = ("patient_id", "doctor_id", "status", "signed_at", "ended_at", "ended_by")


def _to_row(contract: Contract) -> dict[str, Any]:
    row = {name: getattr(contract, name) for name in _FIELDS}
    row["active_patient_id"] = contract.patient_id if contract.is_active else None
    return row


def _from_row(row: Row[Any]) -> Contract:
    return Contract(**{name: getattr(row, name) for name in _FIELDS}, id=row.id)


class SqlContracts(Repository):
    def add(self, contract: Contract) -> Contract:
        try:
            # A failed INSERT undoes only itself, on MariaDB and SQLite alike.
            contract.id = self._insert(contracts, _to_row(contract))
        except IntegrityError as error:
            if is_duplicate_key(error):
                raise AlreadySigned(
                    f"patient {contract.patient_id} has signed doctor {contract.doctor_id} already"
                ) from None
            raise
        return contract

    def get(self, contract_id: int, *, for_update: bool = False) -> Contract | None:
        query = select(contracts).where(contracts.c.id == contract_id)
        row = self.connection.execute(query.with_for_update() if for_update else query).first()
        return _from_row(row) if row else None

    def save(self, contract: Contract) -> None:
        self.connection.execute(
            update(contracts).where(contracts.c.id == contract.id).values(_to_row(contract))
        )

    def active_between(self, patient_id: int, doctor_id: int) -> Contract | None:
        c = contracts.c
        row = self.connection.execute(
            select(contracts).where(c.doctor_id == doctor_id, c.active_patient_id == patient_id)
        ).first()
        return _from_row(row) if row else None

    def of_patient(self, patient_id: int, *, active_only: bool = True) -> Sequence[Contract]:
        return self._list(contracts.c.patient_id == patient_id, active_only)

    def of_doctor(self, doctor_id: int, *, active_only: bool = True) -> Sequence[Contract]:
        return self._list(contracts.c.doctor_id == doctor_id, active_only)

    def _list(self, owner: Any, active_only: bool) -> list[Contract]:
        c = contracts.c
        query = select(contracts).where(owner)
        if active_only:
            query = query.where(c.status == ContractStatus.ACTIVE)
        return [_from_row(row) for row in self.connection.execute(query.order_by(c.id.desc()))]
