"""The reminders outbox in memory (the unit of work's lock is the one writer: a claim is never
contended)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.booking.appointments import AppointmentStatus
from medbook.domain.booking.reminders import Reminder, ReminderKind, ReminderStatus
from medbook.ports.reminders import ReminderCandidate

TABLES = ("reminders",)


class MemoryReminders(MemoryTable):
    def candidates(self, start: dt.date, end: dt.date) -> Sequence[ReminderCandidate]:
        uow = self._uow
        have: dict[int, set[ReminderKind]] = {}
        for reminder in self._all():
            have.setdefault(reminder.appointment_id, set()).add(reminder.kind)
        found = []
        for appointment in sorted(uow.appointments._all(), key=lambda a: a.id):
            recorded = frozenset(have.get(appointment.id, ()))
            if (
                appointment.status is not AppointmentStatus.BOOKED
                or not start <= appointment.date <= end
                or len(recorded) == len(ReminderKind)
            ):
                continue
            doctor = uow.doctors.get(appointment.doctor_id)
            assert doctor is not None
            hospital = uow.hospitals.get(doctor.hospital_id) if doctor.hospital_id else None
            found.append(
                ReminderCandidate(
                    appointment.id,
                    appointment.patient_id,
                    appointment.doctor_id,
                    appointment.date,
                    appointment.period,
                    appointment.number,
                    appointment.booked_at,
                    doctor.name,
                    doctor.hospital_id,
                    hospital.name if hospital else None,
                    hospital.timezone if hospital else None,
                    recorded,
                )
            )
        return found

    def add_new(self, new: Sequence[Reminder]) -> int:
        existing = {(r.appointment_id, r.kind) for r in self._all()}
        stored = 0
        for reminder in new:
            if (reminder.appointment_id, reminder.kind) not in existing:
                self._insert(reminder)
                existing.add((reminder.appointment_id, reminder.kind))
                stored += 1
        return stored

    def claim(self, now: dt.datetime, limit: int) -> Sequence[Reminder]:
        pending = [r for r in self._all() if r.status is ReminderStatus.PENDING and r.due_at <= now]
        return sorted(pending, key=lambda r: (r.due_at, r.id))[:limit]

    def save(self, reminder: Reminder) -> None:
        self._save(reminder)

    def of_appointment(self, appointment_id: int) -> Sequence[Reminder]:
        found = [r for r in self._all() if r.appointment_id == appointment_id]
        return sorted(found, key=lambda r: r.id)
