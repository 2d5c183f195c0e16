"""Reminders sent by separate processes: three ``medbook remind --once`` at once against MariaDB
send each reminder exactly once (each process's time given with ``--at``: a controlled clock, no
sleeps), and ``medbook worker`` stops gracefully on SIGTERM."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import time
import zoneinfo
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import clean_environment, empty_mariadb, medbook_command, run_at_once

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import Services, Settings, bootstrap
from medbook.domain import Period, WeeklySchedule
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.actors import Actor, Role

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)  # Wednesday 08:30 in Shanghai
THURSDAY = dt.date(2026, 11, 26)
DOCTORS, PER_DOCTOR = 3, 50
WORKERS = 3
RUN_TIMEOUT = 120


def _book_a_morning(services: Services) -> list[int]:
    """Three doctors' Thursday mornings full (50 patients each); patient 1 then cancels."""
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital", timezone="Asia/Shanghai")
    assert hospital.id is not None
    department = directory.add_department(hospital.id, "Cardiology")
    assert department.id is not None
    booked = []
    for d in range(DOCTORS):
        doctor = directory.add_doctor(
            hospital.id, department.id, name=f"Dr {d}", phone=f"1390000000{d}"
        )
        assert doctor.id is not None
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(PER_DOCTOR, 0))
        directory.set_verified(doctor.id, True)
        for n in range(PER_DOCTOR):
            patient = d * PER_DOCTOR + n + 1
            made = services.booking.book(patient, doctor.id, THURSDAY, Period.MORNING)
            booked.append(made.id or 0)
    services.booking.cancel(1, booked[0])
    return booked[1:]


def _run_at(env: dict[str, str], workdir: Path, at: dt.datetime) -> list[tuple[int, str, str]]:
    """``WORKERS`` processes of ``medbook remind --once --at AT`` started together; each one's
    exit code, stdout and stderr."""
    # Small batches: many short claims each, so the three interleave (SKIP LOCKED).
    command = [*medbook_command(), "remind", "--once", "--at", at.isoformat(), "--batch", "5"]
    return run_at_once(command, env, workdir, WORKERS, RUN_TIMEOUT)


def _sent_by(results: list[tuple[int, str, str]]) -> list[int]:
    counts = []
    for code, out, err in results:
        assert code == 0, f"medbook remind failed ({code}): {out}\n{err[-3000:]}"
        match = re.search(r"sent (\d+)", out)
        assert match, out
        counts.append(int(match[1]))
    return counts


def _channel_lines(results: list[tuple[int, str, str]]) -> Counter[tuple[str, str]]:
    """(appointment, kind) of every line the log channel wrote, in every process's log."""
    found: Counter[tuple[str, str]] = Counter()
    for _, _, err in results:
        for line in err.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            message = str(record.get("message", ""))
            match = re.fullmatch(r"reminder (\w+) of appointment (\d+) to patient \d+", message)
            if match:
                found[(match[2], match[1])] += 1
    return found


@pytest.mark.mariadb
def test_three_processes_at_once_send_each_reminder_exactly_once(
    mariadb_database: str, tmp_path: Path
) -> None:
    url = mariadb_database
    empty_mariadb(url)
    services = bootstrap(Settings(tmp_path, url), clock=ManualClock(NOW))
    try:
        kept = _book_a_morning(services)
        env = clean_environment(tmp_path, {"MEDBOOK_DATABASE_URL": url})

        evening = _run_at(env, tmp_path, dt.datetime(2026, 11, 25, 18, 0, tzinfo=SHANGHAI))
        before = _run_at(env, tmp_path, dt.datetime(2026, 11, 26, 6, 0, tzinfo=SHANGHAI))
        after = _run_at(env, tmp_path, dt.datetime(2026, 11, 26, 7, 0, tzinfo=SHANGHAI))

        inbox: Counter[tuple[str, str]] = Counter()
        for patient in range(1, DOCTORS * PER_DOCTOR + 1):
            for notice in services.notifications.of_actor(Actor(patient, Role.PATIENT)):
                if notice.kind is NotificationKind.APPOINTMENT_REMINDER:
                    inbox[(str(notice.data["appointment_id"]), str(notice.data["reminder"]))] += 1
    finally:
        services.close()
        empty_mariadb(url)

    expected = Counter(
        {(str(a), kind): 1 for a in kept for kind in ("evening_before", "before_start")}
    )
    assert sum(_sent_by(evening)) == len(kept) == DOCTORS * PER_DOCTOR - 1
    assert sum(_sent_by(before)) == len(kept)
    assert _sent_by(after) == [0] * WORKERS
    assert inbox == expected
    assert _channel_lines(evening) + _channel_lines(before) == expected


def test_the_worker_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    env = clean_environment(tmp_path, {"MEDBOOK_DATA_DIR": str(tmp_path / "data")})
    migrated = subprocess.run(
        [*medbook_command(), "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    worker = subprocess.Popen(
        [*medbook_command(), "worker", "--interval", "0.2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        log = tmp_path / "worker.log"
        deadline = time.monotonic() + 30
        seen = ""
        assert worker.stderr is not None
        while time.monotonic() < deadline and "worker step settle refunds" not in seen:
            line = worker.stderr.readline()
            if not line:
                break
            seen += line
        assert "worker step reminders: RunResult(recorded=0, sent=0, skipped=0)" in seen, seen
        worker.send_signal(signal.SIGTERM)
        _, rest = worker.communicate(timeout=15)
        log.write_text(seen + rest)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    assert worker.returncode == 0, (seen + rest)[-3000:]
    assert "stopping after the round in progress" in rest and "worker stopped" in rest
    assert "Traceback" not in seen + rest
