"""The health file's use cases: vital signs (recorded by the patient; read by the patient and by
their contracted doctors, each doctor's read written to the access log in the same transaction)
and the access log the patient reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from attrs import define, field, frozen

from medbook.domain.records.access import AccessEntry, AccessKind
from medbook.domain.records.diet import DietRules, Recommendation, recommend
from medbook.domain.records.vitals import GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import Forbidden, InvalidValue, NoContract
from medbook.ports.clock import Clock
from medbook.ports.records import RecordsUnitOfWork
from medbook.services.authorization import require_role
from medbook.services.transactions import read_only, transactionally

#: The most readings one listing answers (newest first).
MAX_VITALS = 1000


@frozen
class AccessView:
    """An access log entry with the reader's name, as the patient reads it."""

    entry: AccessEntry
    reader_name: str | None


@define
class HealthFileService:
    new_uow: Callable[[], RecordsUnitOfWork]
    clock: Clock
    #: The diet rules (bootstrap gives the ones shipped with medbook); None: no recommendations.
    diet: DietRules | None = field(default=None, kw_only=True)

    def record_vital_as(
        self,
        actor: Actor,
        kind: VitalKind,
        values: Mapping[str, object],
        measured_at: dt.datetime,
        context: GlucoseContext | None = None,
    ) -> VitalSign:
        require_role(actor, Role.PATIENT)
        vital = VitalSign.measure(actor.id, kind, values, measured_at, self.clock.now(), context)
        stored: VitalSign = transactionally(self.new_uow, lambda uow: uow.vitals.add(vital))
        return stored

    def vitals_as(
        self,
        actor: Actor,
        patient_id: int | None = None,
        kind: VitalKind | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> Sequence[VitalSign]:
        """The patient's own readings; or, for a doctor, a patient's under an active contract
        (``no_contract`` otherwise), the read written to the patient's access log."""
        if start is not None and end is not None and end <= start:
            raise InvalidValue("to", "must be after from")
        if actor.role is Role.PATIENT:
            if patient_id not in (None, actor.id):
                raise Forbidden("a patient reads their own vital signs only")
            return read_only(
                self.new_uow,
                lambda uow: uow.vitals.of_patient(
                    actor.id, kind=kind, start=start, end=end, limit=MAX_VITALS
                ),
            )
        require_role(actor, Role.DOCTOR)
        if patient_id is None:
            raise InvalidValue("patient_id", "a doctor names the patient")
        wanted = patient_id

        def work(uow: RecordsUnitOfWork) -> Sequence[VitalSign]:
            if uow.contracts.active_between(wanted, actor.id) is None:
                raise NoContract(f"no active contract with patient {wanted}")
            found = uow.vitals.of_patient(wanted, kind=kind, start=start, end=end, limit=MAX_VITALS)
            detail: dict[str, str | int | None] = {
                "kind": kind.value if kind else None,
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
                "count": len(found),
            }
            uow.access_log.add(
                AccessEntry(
                    wanted, Role.DOCTOR, actor.id, AccessKind.VITALS, self.clock.now(), detail
                )
            )
            return found

        return transactionally(self.new_uow, work)

    def diet_as(self, actor: Actor, height_cm: int | None = None) -> list[Recommendation]:
        """Diet recommendations from the patient's readings of the rules' window, each with
        its reason (the default when none applies)."""
        require_role(actor, Role.PATIENT)
        if self.diet is None:
            raise RuntimeError("no diet rules were given to the health file service")
        rules, now = self.diet, self.clock.now()
        recent = read_only(
            self.new_uow,
            lambda uow: uow.vitals.of_patient(actor.id, start=now - rules.window, limit=MAX_VITALS),
        )
        return recommend(rules, recent, now, height_cm)

    def access_log_as(self, actor: Actor) -> list[AccessView]:
        """Who else read the patient's file, and what, newest first."""
        require_role(actor, Role.PATIENT)

        def work(uow: RecordsUnitOfWork) -> list[AccessView]:
            entries = uow.access_log.of_patient(actor.id)
            names: dict[tuple[Role, int], str | None] = {}
            for e in entries:
                key = (e.reader_role, e.reader_id)
                if key not in names:
                    doctor = uow.doctors.get(e.reader_id) if e.reader_role is Role.DOCTOR else None
                    names[key] = doctor.name if doctor else None
            return [AccessView(e, names[(e.reader_role, e.reader_id)]) for e in entries]

        return read_only(self.new_uow, work)
