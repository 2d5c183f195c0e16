"""A realistic city for the benchmarks (issue 13), loaded in bulk with SQLAlchemy Core into a
migrated, empty medbook database — not through the services, so 100,000 patients take seconds.

    python bench/city.py --db mariadb                      # the whole city, then drops it
    python bench/city.py --db sqlite --patients 5000 --doctors 200 --services 0
    python bench/city.py --url sqlite:////tmp/city.sqlite3 --services 0    # kept

The city: ``--hospitals`` hospitals (default 50, Asia/Shanghai) spread over a 100 km square
around Shanghai, ``--departments`` departments each (default 10), ``--doctors`` verified doctors
(default 1,000) spread over the departments, each with a weekly schedule of ``--quota`` places a
session (default 50): Monday to Friday both periods, Saturday morning, Sunday off, and one
weekday afternoon off chosen per doctor; ``--patients`` patients (default 100,000), each with a
patient login whose password is ``PASSWORD`` (one argon2 hash computed once and reused for every
row); ``--services`` home-visit services (default 100,000) of those hospitals, each at a point
drawn uniformly over the same 100 km square, with 14 dates among the next 21 days, a capacity of
1-20 places and a radius of 3-50 km.

Other benchmarks import ``load_city(engine, ...)``; it returns the ids (``City``). Ids start at 1:
the database must be empty (freshly migrated).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from databases import throwaway_database
from sqlalchemy import Engine, Table, func, insert, select

from medbook.adapters.security import Argon2Hasher
from medbook.adapters.sql import make_engine
from medbook.adapters.sql.accounts import credentials, patients
from medbook.adapters.sql.directory import departments, doctors, hospitals
from medbook.adapters.sql.migrate import upgrade
from medbook.adapters.sql.orders import care_services, service_dates
from medbook.domain import Period, WeeklySchedule
from medbook.domain.directory.model import Rank
from medbook.domain.orders.catalogue import ServiceCategory
from medbook.domain.shared.actors import Role

TIMEZONE = "Asia/Shanghai"
CENTRE = (31.23, 121.47)  # Shanghai
AREA_KM = 100.0  # the side of the square the hospitals and services are drawn over
PASSWORD = "bench city password"  # every patient's
CHUNK = 10_000
DATES_PER_SERVICE = 14
DATE_WINDOW = 21
DEPARTMENT_NAMES = [
    "Cardiology",
    "Dermatology",
    "Endocrinology",
    "Gastroenterology",
    "General Surgery",
    "Neurology",
    "Obstetrics",
    "Ophthalmology",
    "Orthopaedics",
    "Paediatrics",
    "Psychiatry",
    "Respiratory Medicine",
    "Stomatology",
    "Urology",
    "Traditional Chinese Medicine",
]


@dataclass
class City:
    """What ``load_city`` inserted: ids, each doctor's schedule, the patients' password."""

    hospital_ids: list[int]
    department_ids: list[int]
    doctor_ids: list[int]
    patient_ids: range
    service_ids: range
    schedules: dict[int, WeeklySchedule] = field(repr=False)
    password: str = PASSWORD
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.hospital_ids)} hospitals, {len(self.department_ids)} departments, "
            f"{len(self.doctor_ids)} doctors, {len(self.patient_ids)} patients, "
            f"{len(self.service_ids)} services, loaded in {self.seconds:.1f} s"
        )


def schedule_for(rng: random.Random, quota: int) -> WeeklySchedule:
    """Monday-Friday both periods, Saturday morning, Sunday off; one weekday afternoon off."""
    quotas = [quota] * 10 + [quota, 0, 0, 0]
    quotas[2 * rng.randrange(5) + 1] = 0
    return WeeklySchedule(tuple(quotas))


def _point(rng: random.Random) -> tuple[float, float]:
    """A point drawn uniformly over the AREA_KM square around CENTRE."""
    half = AREA_KM / 2
    lat = CENTRE[0] + rng.uniform(-half, half) / 111.32
    lng = CENTRE[1] + rng.uniform(-half, half) / (111.32 * math.cos(math.radians(CENTRE[0])))
    return round(lat, 6), round(lng, 6)


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(engine: Engine, table: Table, rows: Iterator[dict[str, Any]]) -> None:
    for batch in _chunks(rows):
        with engine.begin() as connection:
            connection.execute(insert(table), batch)


def load_city(
    engine: Engine,
    *,
    hospitals_count: int = 50,
    departments_per_hospital: int = 10,
    doctors_count: int = 1_000,
    patients_count: int = 100_000,
    services_count: int = 100_000,
    quota: int = 50,
    seed: int = 13,
    today: dt.date | None = None,
) -> City:
    """Insert the city into ``engine``'s migrated, empty database; its ids.

    ``today`` (default: the date now in Asia/Shanghai) is where the services' dates start.
    """
    if not 1 <= departments_per_hospital <= len(DEPARTMENT_NAMES):
        raise ValueError(f"departments_per_hospital: 1 to {len(DEPARTMENT_NAMES)}")
    with engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(hospitals)).scalar_one():
            raise ValueError("load_city wants an empty database: ids start at 1")
    rng = random.Random(seed)
    started = time.perf_counter()

    hospital_ids = list(range(1, hospitals_count + 1))
    hospital_rows = []
    for h in hospital_ids:
        lat, lng = _point(rng)
        hospital_rows.append(
            {
                "id": h,
                "name": f"City Hospital {h}",
                "address": f"{h} Bench Road",
                "lat": lat,
                "lng": lng,
                "timezone": TIMEZONE,
            }
        )
    _insert(engine, hospitals, iter(hospital_rows))

    department_ids: list[int] = []
    by_hospital: dict[int, list[int]] = {h: [] for h in hospital_ids}
    department_rows = []
    for h in hospital_ids:
        for name in rng.sample(DEPARTMENT_NAMES, departments_per_hospital):
            department_id = len(department_ids) + 1
            department_ids.append(department_id)
            by_hospital[h].append(department_id)
            department_rows.append(
                {"id": department_id, "hospital_id": h, "name": name, "description": ""}
            )
    _insert(engine, departments, iter(department_rows))

    doctor_ids = list(range(1, doctors_count + 1))
    schedules = {d: schedule_for(rng, quota) for d in doctor_ids}
    ranks = list(Rank)

    def doctor_rows() -> Iterator[dict[str, Any]]:
        for d in doctor_ids:
            h = hospital_ids[(d - 1) % hospitals_count]
            yield {
                "id": d,
                "hospital_id": h,
                "department_id": rng.choice(by_hospital[h]),
                "name": f"Doctor {d}",
                "phone": f"138{d:08d}",
                "rank": rng.choice(ranks),
                "gender": None,
                "staff_number": None,
                "specialty": "",
                "birth_date": None,
                "avatar_url": None,
                "avatar_key": None,
                "schedule": schedules[d],
                "verified": True,
            }

    _insert(engine, doctors, doctor_rows())

    password_hash = Argon2Hasher().hash(PASSWORD)  # once: every patient shares it
    patient_ids = range(1, patients_count + 1)
    created = dt.datetime.now(dt.UTC)
    _insert(
        engine,
        patients,
        (
            {"id": p, "name": f"Patient {p}", "phone": f"139{p:08d}", "created_at": created}
            for p in patient_ids
        ),
    )
    _insert(
        engine,
        credentials,
        (
            {
                "role": Role.PATIENT,
                "phone": f"139{p:08d}",
                "user_id": p,
                "password_hash": password_hash,
            }
            for p in patient_ids
        ),
    )

    service_ids = range(1, services_count + 1)
    if services_count:
        start = today or dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
        window = [start + dt.timedelta(days=1 + d) for d in range(DATE_WINDOW)]
        categories = [*ServiceCategory, None]
        strips = "lng_strip" in care_services.c
        for first in range(1, services_count + 1, CHUNK):
            services: list[dict[str, Any]] = []
            dates: list[dict[str, Any]] = []
            for service_id in range(first, min(first + CHUNK, services_count + 1)):
                lat, lng = _point(rng)
                capacity = rng.randint(1, 20)
                services.append(
                    {
                        "id": service_id,
                        "hospital_id": rng.choice(hospital_ids),
                        "name": f"Home visit {service_id}",
                        "category": rng.choice(categories),
                        "price_cents": rng.randrange(5_000, 50_000, 100),
                        "currency": "CNY",
                        "capacity": capacity,
                        "lat": lat,
                        "lng": lng,
                        "radius_km": round(rng.uniform(3, 50), 1),
                        "description": "",
                        "tips": "",
                        "precautions": "",
                        "image_url": None,
                    }
                )
                if strips:  # a column of newer schemas: computed as the adapter does
                    services[-1]["lng_strip"] = math.floor(lng * 2)
                for date in sorted(rng.sample(window, DATES_PER_SERVICE)):
                    dates.append(
                        {"service_id": service_id, "date": date, "capacity": capacity, "held": 0}
                    )
            with engine.begin() as connection:
                connection.execute(insert(care_services), services)
                connection.execute(insert(service_dates), dates)

    return City(
        hospital_ids,
        department_ids,
        doctor_ids,
        patient_ids,
        service_ids,
        schedules,
        seconds=time.perf_counter() - started,
    )


def bookable_sessions(
    city: City, today: dt.date, window_days: int = 14
) -> list[tuple[int, dt.date, Period]]:
    """Every (doctor, date, period) the doctors offer from tomorrow to ``today + window_days``
    (the default BookingPolicy window), all of them bookable whatever the hour of today."""
    sessions = []
    for doctor_id, schedule in city.schedules.items():
        for offset in range(1, window_days + 1):
            date = today + dt.timedelta(days=offset)
            for period in Period:
                if schedule.quota(date, period) > 0:
                    sessions.append((doctor_id, date, period))
    return sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--hospitals", type=int, default=50)
    parser.add_argument("--departments", type=int, default=10, help="per hospital")
    parser.add_argument("--doctors", type=int, default=1_000)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--quota", type=int, default=50)
    parser.add_argument(
        "--url", help="load into this database (migrated first, then kept) instead of a throwaway"
    )
    parser.add_argument("--keep", action="store_true", help="keep the MariaDB database")
    args = parser.parse_args()
    if args.url:
        url, resource = args.url, None
    else:
        url, resource = throwaway_database(args.db)
    engine = make_engine(url)
    try:
        upgrade(engine)
        city = load_city(
            engine,
            hospitals_count=args.hospitals,
            departments_per_hospital=args.departments,
            doctors_count=args.doctors,
            patients_count=args.patients,
            services_count=args.services,
            quota=args.quota,
        )
        print(f"{args.db}: {city.summary()}")
    finally:
        engine.dispose()
        if resource is None or (args.keep and args.db == "mariadb"):
            print(f"kept: {url}")
        else:
            resource.cleanup()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
