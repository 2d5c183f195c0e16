"""Booking throughput and latency on a real database.

    python bench/booking.py --db sqlite  --threads 8 --bookings 2000
    python bench/booking.py --db mariadb --threads 8 --bookings 2000

``--db mariadb`` creates a throwaway database on MEDBOOK_TEST_MARIADB_URL (default
root@127.0.0.1) and drops it afterwards. Patients book distinct places spread over 10 doctors x
14 days x 2 periods; ``--hot`` sends every booking to one session instead (the worst case: one
row lock for everyone).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from databases import throwaway_database

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql.migrate import upgrade
from medbook.domain import PERIODS, WeeklySchedule
from medbook.domain.shared.errors import DomainError
from medbook.services import BookingService, DirectoryService

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
DOCTORS = 10
DAYS = 14


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--hot", action="store_true", help="every booking on one session")
    args = parser.parse_args()

    url, resource = throwaway_database(args.db)
    try:
        engine = make_engine(url, pool_size=args.threads, max_overflow=0)
        upgrade(engine)
        clock = ManualClock(NOW)
        directory = DirectoryService(lambda: SqlUnitOfWork(engine), clock)
        booking = BookingService(lambda: SqlUnitOfWork(engine), clock)
        hospital = directory.add_hospital("Bench Hospital")
        department = directory.add_department(hospital.id, "Bench")
        doctor_ids = []
        for n in range(DOCTORS):
            doctor = directory.add_doctor(
                hospital.id, department.id, name=f"D{n}", phone=f"1380000{n:04d}"
            )
            directory.set_schedule(doctor.id, WeeklySchedule.every_day(500, 500))
            directory.set_verified(doctor.id, True)
            doctor_ids.append(doctor.id)
        sessions = [
            (d, NOW.date() + dt.timedelta(days=day), p)
            for d in doctor_ids
            for day in range(1, DAYS + 1)
            for p in PERIODS
        ]
        latencies: list[float] = []
        lock = threading.Lock()
        errors = 0

        def book(i: int) -> None:
            nonlocal errors
            doctor_id, date, period = sessions[0] if args.hot else sessions[i % len(sessions)]
            start = time.perf_counter()
            try:
                booking.book(100_000 + i, doctor_id, date, period)
            except DomainError:
                with lock:
                    errors += 1
            with lock:
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(book, range(args.bookings)))
        elapsed = time.perf_counter() - started

        listing = []
        for doctor_id in doctor_ids * 10:
            start = time.perf_counter()
            booking.offered_sessions(doctor_id, NOW.date(), NOW.date() + dt.timedelta(days=DAYS))
            listing.append(time.perf_counter() - start)

        quantiles = statistics.quantiles(latencies, n=100)
        print(
            f"{args.db}{' hot' if args.hot else ''}: {args.bookings} bookings on {args.threads} "
            f"threads in {elapsed:.2f} s = {args.bookings / elapsed:.0f} bookings/s; "
            f"latency p50 {quantiles[49] * 1000:.1f} ms, p95 {quantiles[94] * 1000:.1f} ms, "
            f"p99 {quantiles[98] * 1000:.1f} ms; refused {errors}; "
            f"14-day listing p50 {statistics.median(listing) * 1000:.1f} ms"
        )
        engine.dispose()
    finally:
        resource.cleanup()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
