"""Accounts: who may log in, in which role, and who is calling."""

from __future__ import annotations

import datetime as dt

from attrs import define, field

from medbook.domain.shared.actors import Role
from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import InvalidValue
from medbook.domain.shared.people import Sex
from medbook.domain.shared.text import PERSON_NAME, nfc, nfc_or_none

PASSWORD_MIN_LENGTH = 8
#: Long enough for passphrases; the bound keeps hashing cost predictable.
PASSWORD_MAX_LENGTH = 128


def ensure_password_policy(password: str) -> str:
    """At least 8 characters and at most 128 (OWASP ASVS 2.1); any characters allowed."""
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise InvalidValue(
            "password", f"from {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters"
        )
    return password


@define(slots=False, eq=False)
class Credential(Entity):
    """What a user logs in with: a phone number unique within a role, and a password hash."""

    role: Role
    phone: str
    user_id: int
    password_hash: str
    id: int | None = None


@define(slots=False, eq=False)
class Patient(Entity):
    name: str = field(converter=nfc, validator=PERSON_NAME.validator("name"))
    phone: str = ""
    created_at: dt.datetime | None = None
    #: Set once the resident identity number was checked; only the derived facts are kept.
    legal_name: str | None = field(
        default=None, converter=nfc_or_none, validator=PERSON_NAME.validator("name")
    )
    birth_date: dt.date | None = None
    sex: Sex | None = None
    id_number_last4: str | None = None
    id: int | None = None

    @property
    def identity_verified(self) -> bool:
        return self.birth_date is not None


@define(slots=False, eq=False)
class Admin(Entity):
    """A hospital administrator: manages their hospital's departments and approves its doctors."""

    hospital_id: int
    name: str = field(converter=nfc, validator=PERSON_NAME.validator("name"))
    phone: str = ""
    id: int | None = None
