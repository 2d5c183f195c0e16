"""Accounts' ports: logins, patients and admins, and its unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from medbook.domain.accounts.model import Admin, Credential, Patient
from medbook.domain.shared.actors import Actor, Role
from medbook.ports.directory import DirectoryReads
from medbook.ports.transaction import Transaction


class CredentialRepository(Protocol):
    def add(self, credential: Credential) -> Credential:
        """Store a credential; raises ``PhoneTaken`` when the phone is taken in that role."""
        ...

    def find(self, role: Role, phone: str) -> Credential | None: ...

    def actor(self, role: Role, user_id: int) -> Actor | None:
        """Who acts under this login, as stored now (an admin's hospital from the admin's row,
        never from a token); None when the login no longer exists. One read: it runs on every
        authenticated request."""
        ...

    def save(self, credential: Credential) -> None:
        """Write back a changed password hash."""
        ...


class PatientRepository(Protocol):
    def add(self, patient: Patient) -> Patient: ...

    def get(self, patient_id: int) -> Patient | None: ...

    def save(self, patient: Patient) -> None: ...


class AdminRepository(Protocol):
    def add(self, admin: Admin) -> Admin: ...

    def get(self, admin_id: int) -> Admin | None: ...

    def of_hospital(self, hospital_id: int) -> Sequence[Admin]: ...


class AccountsUnitOfWork(DirectoryReads, Transaction, Protocol):
    """Accounts' transaction: doctors are directory records with a login, so it reaches them."""

    @property
    def credentials(self) -> CredentialRepository: ...
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def admins(self) -> AdminRepository: ...
