"""Family-doctor contracts in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.contracts.model import Contract
from medbook.domain.shared.errors import AlreadySigned

TABLES = ("contracts",)


class MemoryContracts(MemoryTable):
    def add(self, contract: Contract) -> Contract:
        if self.active_between(contract.patient_id, contract.doctor_id) is not None:
            raise AlreadySigned(
                f"patient {contract.patient_id} has signed doctor {contract.doctor_id} already"
            )
        return self._insert(contract)  # type: ignore[no-any-return]

    def get(self, contract_id: int, *, for_update: bool = False) -> Contract | None:
        return self._get(contract_id)  # type: ignore[no-any-return]

    def save(self, contract: Contract) -> None:
        self._save(contract)

    def active_between(self, patient_id: int, doctor_id: int) -> Contract | None:
        return next(
            (
                c
                for c in self._all()
                if c.is_active and (c.patient_id, c.doctor_id) == (patient_id, doctor_id)
            ),
            None,
        )

    def of_patient(self, patient_id: int, *, active_only: bool = True) -> Sequence[Contract]:
        return self._list(lambda c: c.patient_id == patient_id, active_only)

    def of_doctor(self, doctor_id: int, *, active_only: bool = True) -> Sequence[Contract]:
        return self._list(lambda c: c.doctor_id == doctor_id, active_only)

    def _list(self, owned: Callable[[Contract], bool], active_only: bool) -> list[Contract]:
        found = [c for c in self._all() if owned(c) and (c.is_active or not active_only)]
        return sorted(found, key=lambda c: c.id, reverse=True)
