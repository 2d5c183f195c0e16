"""Family-doctor contracts' use cases: a patient signs a verified doctor, both list their active
contracts ("my doctors", "my patients"), either ends one. The doctor hears of a signing, the
other party of an ending; an active contract lets the two chat (``ContractCheck``) and the doctor
read the patient's vital signs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from attrs import define, frozen

from medbook.domain.chat.rules import Link
from medbook.domain.contracts.model import Contract
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import ContractNotFound
from medbook.ports.chat import ChatUnitOfWork
from medbook.ports.clock import Clock
from medbook.ports.contracts import ContractsUnitOfWork, ContractView
from medbook.services.authorization import require_role
from medbook.services.directory import doctor_of
from medbook.services.transactions import read_only, transactionally


@define
class ContractService:
    new_uow: Callable[[], ContractsUnitOfWork]
    clock: Clock

    def sign_as(self, actor: Actor, doctor_id: int) -> ContractView:
        """The patient signs the doctor (verified only) as their family doctor; 409
        ``already_signed`` when they have an active contract."""
        require_role(actor, Role.PATIENT)

        def work(uow: ContractsUnitOfWork) -> ContractView:
            now = self.clock.now()
            doctor = doctor_of(uow, doctor_id)
            contract = uow.contracts.add(Contract.sign(actor.id, doctor_id, doctor.verified, now))
            view = self._view(uow, contract)
            uow.notifications.add(
                Notification(
                    Role.DOCTOR,
                    doctor_id,
                    NotificationKind.CONTRACT_SIGNED,
                    "A patient signed you as their family doctor",
                    f"{view.patient_name or 'A patient'} signed you as their family doctor.",
                    now,
                    {"contract_id": contract.id, "patient_id": actor.id},
                )
            )
            return view

        return transactionally(self.new_uow, work)

    def contracts_as(self, actor: Actor, *, active_only: bool = True) -> list[ContractView]:
        """A patient's contracts ("my doctors") or a doctor's ("my patients"), newest first."""
        require_role(actor, Role.PATIENT, Role.DOCTOR)

        def work(uow: ContractsUnitOfWork) -> list[ContractView]:
            if actor.role is Role.PATIENT:
                found = uow.contracts.of_patient(actor.id, active_only=active_only)
            else:
                found = uow.contracts.of_doctor(actor.id, active_only=active_only)
            return [self._view(uow, c) for c in found]

        return read_only(self.new_uow, work)

    def end_as(self, actor: Actor, contract_id: int) -> ContractView:
        """Either party ends the contract; the other one is told."""
        require_role(actor, Role.PATIENT, Role.DOCTOR)

        def work(uow: ContractsUnitOfWork) -> ContractView:
            now = self.clock.now()
            contract = uow.contracts.get(contract_id, for_update=True)
            if contract is None or not contract.party(actor.role, actor.id):
                raise ContractNotFound(f"no contract {contract_id}")
            contract.end(actor.role, now)
            uow.contracts.save(contract)
            view = self._view(uow, contract)
            if actor.role is Role.PATIENT:
                other, other_id = Role.DOCTOR, contract.doctor_id
                body = f"{view.patient_name or 'A patient'} ended your family-doctor contract."
            else:
                other, other_id = Role.PATIENT, contract.patient_id
                body = f"Dr. {view.doctor_name} ended your family-doctor contract."
            uow.notifications.add(
                Notification(
                    other,
                    other_id,
                    NotificationKind.CONTRACT_ENDED,
                    "A family-doctor contract ended",
                    body,
                    now,
                    {"contract_id": contract.id},
                )
            )
            return view

        return transactionally(self.new_uow, work)

    def _view(self, uow: ContractsUnitOfWork, contract: Contract) -> ContractView:
        patient = uow.patients.get(contract.patient_id)
        doctor = doctor_of(uow, contract.doctor_id)
        hospital = uow.hospitals.get(doctor.hospital_id) if doctor.hospital_id else None
        department = uow.departments.get(doctor.department_id) if doctor.department_id else None
        return ContractView(
            contract,
            patient.name if patient else None,
            doctor.name,
            hospital.name if hospital else None,
            department.name if department else None,
        )


@frozen
class ContractCheck:
    """Chat's relationship rule: an active family-doctor contract links the two."""

    def __call__(
        self, uow: ChatUnitOfWork, patient_id: int, doctor_id: int, now: dt.datetime
    ) -> Link | None:
        found = uow.contracts.active_between(patient_id, doctor_id)
        return Link.CONTRACT if found is not None else None
