"""Family-doctor contracts on the in-memory store: signing, listing from both sides, ending by
either party, signing again, the notifications, and chat opening between the two."""

from __future__ import annotations

import datetime as dt

import pytest

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import Services, in_memory
from medbook.domain import GeoPoint
from medbook.domain.accounts.model import Patient
from medbook.domain.contracts.model import Contract, ContractStatus
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import DomainError

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)


@pytest.fixture
def world() -> tuple[Services, ManualClock, list[Actor], list[Actor], int]:
    clock = ManualClock(NOW)
    services = in_memory(clock)
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital", "", GeoPoint(31.2, 121.5))
    department = directory.add_department(hospital.id or 0, "General practice")
    doctors = []
    for n in range(2):
        doctor = directory.add_doctor(
            hospital.id or 0, department.id or 0, name=f"Dr {n}", phone=f"1390000000{n}"
        )
        directory.set_verified(doctor.id or 0, True)
        doctors.append(Actor(doctor.id or 0, Role.DOCTOR))
    unverified = directory.add_doctor(
        hospital.id or 0, department.id or 0, name="Dr New", phone="13900000009"
    )
    with services.new_uow() as uow:
        people = [uow.patients.add(Patient(f"Patient {n}", f"1380000000{n}")) for n in range(2)]
        uow.commit()
    patients = [Actor(p.id or 0, Role.PATIENT) for p in people]
    return services, clock, patients, doctors, unverified.id or 0


def _code(work: object) -> str:
    assert callable(work)
    with pytest.raises(DomainError) as refused:
        work()
    return refused.value.code


def test_a_patient_signs_a_doctor_who_hears_of_it(world) -> None:  # type: ignore[no-untyped-def]
    services, _, (ann, _), (doctor, _), _ = world
    view = services.contracts.sign_as(ann, doctor.id)
    assert view.contract.status is ContractStatus.ACTIVE and view.contract.signed_at == NOW
    assert (view.patient_name, view.doctor_name, view.hospital, view.department) == (
        "Patient 0",
        "Dr 0",
        "Ruijin Hospital",
        "General practice",
    )
    (notice,) = services.notifications.of_actor(doctor)
    assert notice.kind is NotificationKind.CONTRACT_SIGNED
    assert notice.data == {"contract_id": view.contract.id, "patient_id": ann.id}


def test_one_active_contract_per_pair_and_only_verified_doctors(world) -> None:  # type: ignore[no-untyped-def]
    services, _, (ann, bob), (doctor, other), unverified = world
    services.contracts.sign_as(ann, doctor.id)
    assert _code(lambda: services.contracts.sign_as(ann, doctor.id)) == "already_signed"
    assert _code(lambda: services.contracts.sign_as(ann, unverified)) == "doctor_not_found"
    assert _code(lambda: services.contracts.sign_as(ann, 999)) == "doctor_not_found"
    assert _code(lambda: services.contracts.sign_as(doctor, other.id)) == "forbidden"
    services.contracts.sign_as(bob, doctor.id)  # another patient: fine
    services.contracts.sign_as(ann, other.id)  # another doctor: fine
    assert [v.doctor_name for v in services.contracts.contracts_as(ann)] == ["Dr 1", "Dr 0"]
    assert [v.patient_name for v in services.contracts.contracts_as(doctor)] == [
        "Patient 1",
        "Patient 0",
    ]


@pytest.mark.parametrize("ender", ["patient", "doctor"])
def test_either_party_ends_it_the_other_is_told_and_the_two_may_sign_again(  # type: ignore[no-untyped-def]
    world, ender: str
) -> None:
    services, clock, (ann, bob), (doctor, other), _ = world
    signed = services.contracts.sign_as(ann, doctor.id).contract
    clock.advance(dt.timedelta(days=30))
    by, told = (ann, doctor) if ender == "patient" else (doctor, ann)
    # Nobody else may end it, and its existence is private to them.
    for stranger in (bob, other):
        assert _code(lambda s=stranger: services.contracts.end_as(s, signed.id)) == (
            "contract_not_found"
        )
    ended = services.contracts.end_as(by, signed.id or 0).contract
    assert (ended.status, ended.ended_by, ended.ended_at) == (
        ContractStatus.ENDED,
        by.role,
        NOW + dt.timedelta(days=30),
    )
    assert _code(lambda: services.contracts.end_as(by, signed.id)) == "contract_not_active"
    assert NotificationKind.CONTRACT_ENDED in {
        n.kind for n in services.notifications.of_actor(told)
    }
    assert services.contracts.contracts_as(ann) == []
    assert [v.contract.id for v in services.contracts.contracts_as(ann, active_only=False)] == [
        signed.id
    ]
    again = services.contracts.sign_as(ann, doctor.id).contract
    assert again.id != signed.id and again.is_active


def test_a_contract_opens_chat_between_the_two(world) -> None:  # type: ignore[no-untyped-def]
    services, _, (ann, _), (doctor, _), _ = world
    assert _code(lambda: services.chat.start_conversation_as(ann, doctor.id)) == "no_relationship"
    services.contracts.sign_as(ann, doctor.id)
    started = services.chat.start_conversation_as(ann, doctor.id)
    assert started.created and started.conversation.doctor_id == doctor.id


def test_an_ended_contract_cannot_end_again_and_admins_never_end_one() -> None:
    contract = Contract.sign(1, 2, True, NOW)
    with pytest.raises(ValueError, match="patient or the doctor"):
        contract.end(Role.ADMIN, NOW)
    contract.end(Role.DOCTOR, NOW)
    with pytest.raises(DomainError) as again:
        contract.end(Role.PATIENT, NOW)
    assert again.value.code == "contract_not_active"
    assert contract.party(Role.PATIENT, 1) and contract.party(Role.DOCTOR, 2)
    assert not contract.party(Role.PATIENT, 2) and not contract.party(Role.ADMIN, 1)
