"""The in-memory logins refuse what the database's two unique keys on credentials refuse."""

from __future__ import annotations

import pytest

from medbook.adapters.memory import MemoryStore
from medbook.domain.accounts.model import Credential
from medbook.domain.shared.actors import Role
from medbook.domain.shared.errors import PhoneTaken


def test_a_taken_phone_is_phone_taken_in_that_role_only() -> None:
    with MemoryStore().unit_of_work() as uow:
        uow.credentials.add(Credential(Role.PATIENT, "13800000001", 7, "hash"))
        with pytest.raises(PhoneTaken):
            uow.credentials.add(Credential(Role.PATIENT, "13800000001", 8, "hash"))
        uow.credentials.add(Credential(Role.DOCTOR, "13800000001", 7, "hash"))


def test_a_second_login_for_one_user_is_refused_but_not_as_a_taken_phone() -> None:
    with MemoryStore().unit_of_work() as uow:
        uow.credentials.add(Credential(Role.PATIENT, "13800000001", 7, "hash"))
        with pytest.raises(ValueError, match="already has a login") as raised:
            uow.credentials.add(Credential(Role.PATIENT, "13800000002", 7, "hash"))
        assert not isinstance(raised.value, PhoneTaken)
        assert uow.credentials.find(Role.PATIENT, "13800000002") is None
