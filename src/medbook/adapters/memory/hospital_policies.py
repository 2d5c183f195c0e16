"""What each hospital sets for itself, in memory."""

from __future__ import annotations

from collections.abc import Iterable

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.booking.attendance import HospitalPolicy

TABLES = ("hospital_policies",)


class MemoryHospitalPolicies(MemoryTable):
    def get(self, hospital_id: int) -> HospitalPolicy | None:
        found: HospitalPolicy | None = self.rows.get(hospital_id)
        return found

    def many(self, hospital_ids: Iterable[int]) -> dict[int, HospitalPolicy]:
        return {i: self.rows[i] for i in set(hospital_ids) if i in self.rows}

    def save(self, policy: HospitalPolicy) -> None:
        self.rows[policy.hospital_id] = policy  # frozen: no copy needed
