"""Who acts: the roles of medbook's users, and the authenticated caller every context checks."""

from __future__ import annotations

import enum

from attrs import frozen


class Role(enum.Enum):
    PATIENT = "patient"
    DOCTOR = "doctor"
    ADMIN = "admin"  # a hospital administrator, bound to one hospital


@frozen
class Actor:
    """The authenticated caller: the id of their patient, doctor or admin record, and their role."""

    id: int
    role: Role
    hospital_id: int | None = None  # the admin's hospital

    def is_(self, role: Role, user_id: int | None = None) -> bool:
        return self.role is role and (user_id is None or self.id == user_id)
