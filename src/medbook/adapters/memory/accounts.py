"""Accounts in memory: logins (credentials), patients and hospital admins."""

from __future__ import annotations

from collections.abc import Sequence

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.accounts.model import Admin, Credential, Patient
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import PhoneTaken

TABLES = ("credentials", "patients", "admins")


class MemoryCredentials(MemoryTable):
    def add(self, credential: Credential) -> Credential:
        if self.find(credential.role, credential.phone) is not None:
            raise PhoneTaken(f"{credential.phone} already has a {credential.role.value} account")
        if self._of_user(credential.role, credential.user_id) is not None:
            # What the database's (role, user_id) key refuses: a bug of the caller, not a user's.
            raise ValueError(f"{credential.role.value} {credential.user_id} already has a login")
        return self._insert(credential)  # type: ignore[no-any-return]

    def find(self, role: Role, phone: str) -> Credential | None:
        return next((c for c in self._all() if c.role is role and c.phone == phone), None)

    def _of_user(self, role: Role, user_id: int) -> Credential | None:
        return next((c for c in self._all() if c.role is role and c.user_id == user_id), None)

    def actor(self, role: Role, user_id: int) -> Actor | None:
        if self._of_user(role, user_id) is None:
            return None
        if role is not Role.ADMIN:
            return Actor(user_id, role)
        admin = self._uow.admins.get(user_id)
        return Actor(user_id, role, admin.hospital_id) if admin is not None else None

    def save(self, credential: Credential) -> None:
        self._save(credential)


class MemoryPatients(MemoryTable):
    def add(self, patient: Patient) -> Patient:
        return self._insert(patient)  # type: ignore[no-any-return]

    def get(self, patient_id: int) -> Patient | None:
        return self._get(patient_id)  # type: ignore[no-any-return]

    def save(self, patient: Patient) -> None:
        self._save(patient)


class MemoryAdmins(MemoryTable):
    def add(self, admin: Admin) -> Admin:
        return self._insert(admin)  # type: ignore[no-any-return]

    def get(self, admin_id: int) -> Admin | None:
        return self._get(admin_id)  # type: ignore[no-any-return]

    def of_hospital(self, hospital_id: int) -> Sequence[Admin]:
        return [a for a in self._all() if a.hospital_id == hospital_id]
