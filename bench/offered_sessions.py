"""What 1,000 doctors offer over 14 days, in the domain alone (issue 13, deliverable 4): the
sessions each weekly schedule switches on, less leave and what the booking window closes, each
with its places from the ledger or the schedule.

    python bench/offered_sessions.py
    python bench/offered_sessions.py --doctors 1000 --days 14 --runs 30
    python bench/offered_sessions.py --each     # the window rule asked afresh for every session

The city: ``--doctors`` doctors, each with a weekly schedule where a day's morning or afternoon is
on with probability 0.8 (quota 5-50), leave on 5% of the sessions in the span, and a ledger row for
60% of the offered sessions (a session someone booked: a quota of its own and 0-quota held). The
span starts today (Asia/Shanghai); the booking window is BookingPolicy's default. Timed: one call
of ``offered_between`` per doctor, the same call ``BookingService.offered_sessions`` makes after
its reads, for all doctors; the median and the worst of ``--runs`` runs (after 3 unmeasured ones).
Prints the sessions offered, to show the work is the same in every run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
import zoneinfo

from medbook.domain import Period, WeeklySchedule
from medbook.domain.booking.policy import BookingPolicy
from medbook.domain.booking.sessions import OfferedSession, offered_between
from medbook.domain.shared.calendar import PERIODS, Session

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def city(
    doctors: int, start: dt.date, end: dt.date, seed: int
) -> list[
    tuple[
        int,
        WeeklySchedule,
        set[tuple[dt.date, Period]],
        dict[tuple[dt.date, Period], OfferedSession],
    ]
]:
    rng = random.Random(seed)
    built = []
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    for doctor_id in range(1, doctors + 1):
        week = {
            day: {
                period.value: rng.randint(5, 50) if rng.random() < 0.8 else 0 for period in PERIODS
            }
            for day in WEEKDAYS
        }
        schedule = WeeklySchedule.from_mapping(week)
        leaves, ledger = set(), {}
        for day in days:
            for period in PERIODS:
                quota = schedule.quota(day, period)
                if quota == 0:
                    continue
                if rng.random() < 0.05:
                    leaves.add((day, period))
                elif rng.random() < 0.6:
                    session = Session(doctor_id, day, period)
                    ledger[(day, period)] = OfferedSession(session, quota, rng.randint(0, quota))
        built.append((doctor_id, schedule, leaves, ledger))
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doctors", type=int, default=1000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--each",
        action="store_true",
        help="ask the window rule afresh for every session (is_bookable_time), as before issue 13",
    )
    args = parser.parse_args()

    now = dt.datetime.now(dt.UTC)
    start = now.astimezone(SHANGHAI).date()
    end = start + dt.timedelta(days=args.days - 1)
    policy = BookingPolicy()
    doctors = city(args.doctors, start, end, args.seed)

    def all_doctors() -> int:
        if args.each:
            is_open = lambda session: policy.is_bookable_time(session, now, SHANGHAI)  # noqa: E731
        else:
            is_open = policy.bookable_times(now, SHANGHAI)  # once per listing, as the service does
        offered = 0
        for doctor_id, schedule, leaves, ledger in doctors:
            offered += len(
                offered_between(
                    doctor_id, schedule, start, end, leaves=leaves, ledger=ledger, is_open=is_open
                )
            )
        return offered

    for _ in range(3):
        all_doctors()
    times, counts = [], set()
    for _ in range(args.runs):
        began = time.perf_counter()
        counts.add(all_doctors())
        times.append(time.perf_counter() - began)
    print(
        f"{args.doctors} doctors x {args.days} days: {counts.pop()} sessions offered; "
        f"median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms "
        f"over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
