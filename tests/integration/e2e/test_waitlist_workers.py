"""Waitlists settled by separate processes: three ``medbook sweep-waitlists --once`` at once
against MariaDB lapse each offer whose hold is over once, and offer its place once, to the next
patient waiting, in the order they joined (each process's time given with ``--at``: a controlled
clock, no sleeps)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import clean_environment, empty_mariadb, medbook_command, run_at_once

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import Services, Settings, bootstrap
from medbook.domain import Period, WeeklySchedule
from medbook.domain.booking.waitlist import WaitlistStatus
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.actors import Actor, Role

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)  # Wednesday 08:30 in Shanghai
THURSDAY = dt.date(2026, 11, 26)
HOLD = dt.timedelta(minutes=15)
DOCTORS, QUOTA, WAITING = 4, 3, 6
WORKERS = 3
RUN_TIMEOUT = 120


def _full_sessions_with_waitlists(services: Services) -> tuple[list[int], dict[int, list[int]]]:
    """Each doctor's Thursday morning full (``QUOTA`` patients) with ``WAITING`` more on its
    waitlist; then every doctor's first patient cancels, which offers the place to the first
    waiting. The doctors, and each doctor's waitlist entries in join order."""
    directory, booking, waitlist = services.directory, services.booking, services.waitlist
    hospital = directory.add_hospital("Ruijin Hospital", timezone="Asia/Shanghai")
    assert hospital.id is not None
    department = directory.add_department(hospital.id, "Cardiology")
    assert department.id is not None
    doctors, queues = [], {}
    patient = 0
    for d in range(DOCTORS):
        doctor = directory.add_doctor(
            hospital.id, department.id, name=f"Dr {d}", phone=f"1390000000{d}"
        )
        assert doctor.id is not None
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(QUOTA, 0))
        directory.set_verified(doctor.id, True)
        held = []
        for _ in range(QUOTA):
            patient += 1
            held.append(booking.book(patient, doctor.id, THURSDAY, Period.MORNING))
        queue = []
        for _ in range(WAITING):
            patient += 1
            entry = waitlist.join(patient, doctor.id, THURSDAY, Period.MORNING)
            queue.append(entry.id or 0)
        booking.cancel(held[0].patient_id, held[0].id or 0)
        doctors.append(doctor.id)
        queues[doctor.id] = queue
    return doctors, queues


def _sweep_at(env: dict[str, str], workdir: Path, at: dt.datetime) -> list[tuple[int, int]]:
    """``WORKERS`` processes of ``medbook sweep-waitlists --once --at AT`` started together; the
    offers and lapses each one reports."""
    command = [*medbook_command(), "sweep-waitlists", "--once", "--at", at.isoformat()]
    counts = []
    for code, out, err in run_at_once(command, env, workdir, WORKERS, RUN_TIMEOUT):
        assert code == 0, f"sweep failed ({code}): {out}\n{err[-3000:]}"
        match = re.search(r"(\d+) places offered, (\d+) offers lapsed", out)
        assert match, out
        counts.append((int(match[1]), int(match[2])))
    return counts


@pytest.mark.mariadb
def test_three_processes_at_once_lapse_and_offer_each_place_exactly_once(
    mariadb_database: str, tmp_path: Path
) -> None:
    url = mariadb_database
    empty_mariadb(url)
    services = bootstrap(Settings(tmp_path, url), clock=ManualClock(NOW))
    try:
        doctors, queues = _full_sessions_with_waitlists(services)
        env = clean_environment(tmp_path, {"MEDBOOK_DATABASE_URL": url})
        # Each round: the offer made a hold ago lapses, and the next in line is offered.
        rounds = [_sweep_at(env, tmp_path, NOW + HOLD * n) for n in (1, 2, 3)]
        early = _sweep_at(env, tmp_path, NOW + HOLD * 3 + dt.timedelta(minutes=5))

        entries = {
            doctor: [services.waitlist.entry_of(p, e) for p, e in _owners(services, queue)]
            for doctor, queue in queues.items()
        }
        offers: Counter[int] = Counter()
        lapses: Counter[int] = Counter()
        for found in entries.values():
            for entry in found:
                for notice in services.notifications.of_actor(
                    Actor(entry.patient_id, Role.PATIENT)
                ):
                    if notice.data.get("waitlist_entry_id") != entry.id:
                        continue
                    if notice.kind is NotificationKind.WAITLIST_OFFER:
                        offers[entry.id or 0] += 1
                    elif notice.kind is NotificationKind.WAITLIST_LAPSED:
                        lapses[entry.id or 0] += 1
        places = {
            doctor: [
                o
                for o in services.booking.offered_sessions(doctor, THURSDAY, THURSDAY)
                if o.session.period is Period.MORNING
            ]
            for doctor in doctors
        }
    finally:
        services.close()
        empty_mariadb(url)

    for counts in rounds:
        assert sum(offered for offered, _ in counts) == DOCTORS
        assert sum(lapsed for _, lapsed in counts) == DOCTORS
    assert early == [(0, 0)] * WORKERS  # the fourth offers' holds are not over yet
    for doctor, found in entries.items():
        statuses = [entry.status for entry in found]
        assert statuses == [WaitlistStatus.LAPSED] * 3 + [WaitlistStatus.OFFERED] + [
            WaitlistStatus.WAITING
        ] * (WAITING - 4), doctor
        for entry in found[:4]:
            assert offers[entry.id or 0] == 1
        for entry in found[:3]:
            assert lapses[entry.id or 0] == 1
        assert not any(offers[entry.id or 0] for entry in found[4:])
        assert [(p.booked, p.held, p.waiting) for p in places[doctor]] == [
            (QUOTA - 1, 1, WAITING - 4)
        ]


def _owners(services: Services, queue: list[int]) -> list[tuple[int, int]]:
    """(patient, entry) of each entry of a queue: patients were numbered in join order."""
    with services.new_uow() as uow:
        found = [uow.waitlist.get(entry_id) for entry_id in queue]
    return [(entry.patient_id, entry.id or 0) for entry in found if entry is not None]
