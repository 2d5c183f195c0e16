"""What the no-show check (issue 16) costs a booking: CPU per booking, single-threaded, with the
check and with it taken out, alternating, on a fresh database each run.

    python bench/booking_checks.py --db sqlite  --runs 4
    python bench/booking_checks.py --db mariadb --runs 4

Each run: a hospital (no policy set: the check still reads it), 20 doctors with 100 places a
session, one booking per doctor to make the sessions' ledger rows, then 800 bookings of
distinct patients timed with ``time.process_time`` (this process's CPU: the client side, which
is what bounds bookings; docs/performance.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from databases import throwaway_database

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql.migrate import upgrade
from medbook.bootstrap import build_services
from medbook.domain import Period, WeeklySchedule
from medbook.services.booking import BookingService

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 26)
DOCTORS, BOOKINGS = 20, 800


def run(kind: str, check: bool) -> float:
    url, cleanup = throwaway_database(kind)
    original = BookingService._check_attendance_record
    if not check:
        BookingService._check_attendance_record = lambda *args: None  # type: ignore[method-assign]
    try:
        engine = make_engine(url)
        upgrade(engine)
        services = build_services(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
        hospital = services.directory.add_hospital("Ruijin Hospital").id or 0
        department = services.directory.add_department(hospital, "Cardiology").id or 0
        doctors = []
        for n in range(DOCTORS):
            doctor = services.directory.add_doctor(
                hospital, department, name=f"Dr {n}", phone=f"139{n:08d}"
            )
            services.directory.set_schedule(doctor.id or 0, WeeklySchedule.every_day(100, 100))
            services.directory.set_verified(doctor.id or 0, True)
            doctors.append(doctor.id or 0)
            services.booking.book(100_000 + n, doctor.id or 0, DAY, Period.MORNING)
            services.booking.book(200_000 + n, doctor.id or 0, DAY, Period.AFTERNOON)
        started = time.process_time()
        for patient in range(3, 3 + BOOKINGS):
            period = Period.MORNING if patient % 2 else Period.AFTERNOON
            services.booking.book(patient, doctors[patient % DOCTORS], DAY, period)
        spent = time.process_time() - started
        engine.dispose()
        return spent / BOOKINGS * 1000
    finally:
        BookingService._check_attendance_record = original  # type: ignore[method-assign]
        cleanup.cleanup()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    for n in range(args.runs):
        check = n % 2 == 0
        cost = run(args.db, check)
        print(f"run {n + 1}: {'with' if check else 'without'} the check: {cost:.2f} ms CPU/booking")


if __name__ == "__main__":
    main()
