"""A family-doctor contract: one patient and one doctor, from its signing until either ends it.

    active ──end (by the patient or the doctor)──▶ ended

One contract is active per patient and doctor at a time (the database keeps it so: a unique key
on the pair that only active contracts fill); an ended contract stays as history, and the two may
sign again. While active, it lets the doctor read the patient's vital signs and lets the two chat.
"""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define

from medbook.domain.shared.actors import Role
from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import ContractNotActive, DoctorNotFound


class ContractStatus(enum.Enum):
    ACTIVE = "active"
    ENDED = "ended"


@define(slots=False, eq=False)
class Contract(Entity):
    patient_id: int
    doctor_id: int
    signed_at: dt.datetime
    status: ContractStatus = ContractStatus.ACTIVE
    ended_at: dt.datetime | None = None
    ended_by: Role | None = None
    id: int | None = None

    @classmethod
    def sign(
        cls, patient_id: int, doctor_id: int, doctor_verified: bool, now: dt.datetime
    ) -> Contract:
        """A new active contract. Only a doctor their hospital verified can be signed; to a
        patient, an unverified doctor does not exist (as for booking)."""
        if not doctor_verified:
            raise DoctorNotFound(f"no doctor {doctor_id}")
        return cls(patient_id, doctor_id, now)

    @property
    def is_active(self) -> bool:
        return self.status is ContractStatus.ACTIVE

    def end(self, by: Role, now: dt.datetime) -> None:
        """Either party ends it; an ended contract cannot end again."""
        if not self.is_active:
            raise ContractNotActive(f"contract {self.id} has ended already")
        if by not in (Role.PATIENT, Role.DOCTOR):
            raise ValueError("only the patient or the doctor ends a contract")
        self.status, self.ended_at, self.ended_by = ContractStatus.ENDED, now, by

    def party(self, role: Role, user_id: int) -> bool:
        """Whether that user is this contract's patient or doctor."""
        return (role is Role.PATIENT and user_id == self.patient_id) or (
            role is Role.DOCTOR and user_id == self.doctor_id
        )
