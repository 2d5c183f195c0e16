"""Home-visit service search at scale (issue 10): ``services.orders.search(point)`` over many
services spread over China.

    python bench/orders_search.py --backend sqlite  --services 100000
    python bench/orders_search.py --backend mariadb --services 100000
    python bench/orders_search.py --backend sqlite  --services 100000 --profile 100

``--backend mariadb`` creates a throwaway database on MEDBOOK_TEST_MARIADB_URL (default
root@127.0.0.1) and drops it afterwards; ``sqlite`` a file in a temporary folder. The default
``--services 10000`` is a quick run.

The catalogue: ``--hospitals`` hospitals (default one per 100 services), 90% of them around
``--cities`` city centres (the 20 largest Chinese cities where they are, the others drawn over
the populated east and a few in the west; city sizes by a Zipf law of exponent 0.6, so the
largest holds ~4% of everything) with a normal spread of 0.3 degrees, 10% uniformly over
lat 18-53, lng 73-135. Each service belongs to a random hospital and has 14 dates among the next
21 days, a capacity of 1-20 places and a radius of 3-50 km. ``--layout spread`` (the default)
draws each service's point around its hospital's city centre (uniformly for the scattered
hospitals), so the nearest services come from many hospitals; ``--layout hospital`` puts every
service at its hospital's point, as ``publish_as`` does (1 point per hospital). Rows are
inserted in bulk with SQLAlchemy Core, not through the service.

Measured: ``--queries`` searches (default 500), half at points in cities (a city drawn by size,
spread 0.3 degrees), half uniformly over lat 18-53, lng 73-135, after 20 unmeasured ones. Then,
untimed, for the same points: the rows of the box's latitudes at any longitude and within the
longitude strips it spans (what the index reads), the candidates the box query returns against
those covering the point, the statements one search runs, and ``reaches_in`` alone (the light
box query). Then the plans of the box query for a point in the largest city and a sparse one.
``--profile N`` adds cProfile over N city searches; ``--analyze`` runs ANALYZE after loading (a
deployment's SQLite file never has statistics unless someone runs it; InnoDB keeps its own).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import random
import re
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from databases import throwaway_database
from sqlalchemy import Engine, event, func, insert, select

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql.directory import hospitals
from medbook.adapters.sql.engine import reader_of
from medbook.adapters.sql.migrate import upgrade
from medbook.adapters.sql.orders import care_services, service_dates
from medbook.bootstrap import build_services
from medbook.domain.orders.catalogue import (
    MAX_RADIUS_KM,
    Box,
    ServiceCategory,
    box_strips,
    flat_metric,
    longitude_strip,
    reaching,
    search_box,
)
from medbook.domain.shared.geo import GeoPoint

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in China
CHINA = (18.0, 53.0, 73.0, 135.0)  # south, north, west, east
EAST = (21.0, 42.0, 102.0, 122.0)  # where most of the other cities are drawn
SPREAD_DEG = 0.3
DATES_PER_SERVICE = 14
DATE_WINDOW = 21
CHUNK = 10_000
WARMUP = 20
#: The largest cities, roughly by size: (lat, lng).
BIG_CITIES = [
    (31.23, 121.47),  # Shanghai
    (39.90, 116.40),  # Beijing
    (29.56, 106.55),  # Chongqing
    (23.13, 113.26),  # Guangzhou
    (22.54, 114.06),  # Shenzhen
    (30.57, 104.07),  # Chengdu
    (39.34, 117.36),  # Tianjin
    (30.59, 114.31),  # Wuhan
    (34.34, 108.94),  # Xi'an
    (30.27, 120.16),  # Hangzhou
    (32.06, 118.80),  # Nanjing
    (34.75, 113.63),  # Zhengzhou
    (31.30, 120.59),  # Suzhou
    (28.23, 112.94),  # Changsha
    (41.81, 123.43),  # Shenyang
    (36.07, 120.38),  # Qingdao
    (25.04, 102.71),  # Kunming
    (36.65, 117.12),  # Jinan
    (45.80, 126.53),  # Harbin
    (23.02, 113.75),  # Dongguan
]


def _uniform(rng: random.Random, area: tuple[float, float, float, float]) -> tuple[float, float]:
    south, north, west, east = area
    return rng.uniform(south, north), rng.uniform(west, east)


def _around(rng: random.Random, centre: tuple[float, float]) -> tuple[float, float]:
    lat = min(max(rng.gauss(centre[0], SPREAD_DEG), CHINA[0]), CHINA[1])
    lng = min(max(rng.gauss(centre[1], SPREAD_DEG), CHINA[2]), CHINA[3])
    return lat, lng


def _cities(rng: random.Random, count: int) -> tuple[list[tuple[float, float]], list[float]]:
    """City centres and their sizes (weights summing to 1)."""
    centres = BIG_CITIES[:count]
    while len(centres) < count:
        centres.append(_uniform(rng, EAST if rng.random() < 0.85 else CHINA))
    weights = [1 / (rank + 1) ** 0.6 for rank in range(count)]
    total = sum(weights)
    return centres, [w / total for w in weights]


def _load(engine: Engine, args: argparse.Namespace, rng: random.Random) -> tuple[Any, float]:
    """Insert the hospitals, services and dates; the cities and the time taken."""
    centres, weights = _cities(rng, args.cities)
    started = time.perf_counter()
    homes: list[tuple[float, float] | None] = []  # each hospital's city centre (None: scattered)
    rows: list[dict[str, Any]] = []
    for n in range(args.hospitals):
        if rng.random() < 0.9:
            home = rng.choices(centres, weights)[0]
            lat, lng = _around(rng, home)
        else:
            home = None
            lat, lng = _uniform(rng, CHINA)
        homes.append(home)
        zone = "Asia/Urumqi" if lng < 90 else "Asia/Shanghai"
        rows.append(
            {
                "id": n + 1,
                "name": f"Hospital {n + 1}",
                "address": "",
                "lat": lat,
                "lng": lng,
                "timezone": zone,
            }
        )
    points = [(r["lat"], r["lng"]) for r in rows]
    with engine.begin() as connection:
        connection.execute(insert(hospitals), rows)

    tomorrow = (NOW + dt.timedelta(hours=8)).date() + dt.timedelta(days=1)
    window = [tomorrow + dt.timedelta(days=d) for d in range(DATE_WINDOW)]
    categories = [*ServiceCategory, None]
    for first in range(0, args.services, CHUNK):
        services: list[dict[str, Any]] = []
        dates: list[dict[str, Any]] = []
        for service_id in range(first + 1, min(first + CHUNK, args.services) + 1):
            h = rng.randrange(args.hospitals)
            if args.layout == "hospital":
                lat, lng = points[h]
            else:
                home = homes[h]
                lat, lng = _around(rng, home) if home else _uniform(rng, CHINA)
            capacity = rng.randint(1, 20)
            services.append(
                {
                    "id": service_id,
                    "hospital_id": h + 1,
                    "name": f"Home visit {service_id}",
                    "category": rng.choice(categories),
                    "price_cents": rng.randrange(5_000, 50_000, 100),
                    "currency": "CNY",
                    "capacity": capacity,
                    "lat": lat,
                    "lng": lng,
                    "lng_strip": longitude_strip(lng),
                    "radius_km": round(rng.uniform(3, 50), 1),
                    "description": "",
                    "tips": "",
                    "precautions": "",
                    "image_url": None,
                }
            )
            for date in sorted(rng.sample(window, DATES_PER_SERVICE)):
                held = rng.randint(0, capacity) if rng.random() < 0.3 else 0
                dates.append(
                    {"service_id": service_id, "date": date, "capacity": capacity, "held": held}
                )
        with engine.begin() as connection:
            connection.execute(insert(care_services), services)
            connection.execute(insert(service_dates), dates)
    if args.analyze:
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("ANALYZE")
            else:
                for table in ("hospitals", "care_services", "service_dates"):
                    connection.exec_driver_sql(f"ANALYZE TABLE {table}").all()
    return (centres, weights), time.perf_counter() - started


def _queries(rng: random.Random, cities: Any, count: int) -> list[tuple[str, GeoPoint]]:
    centres, weights = cities
    points = []
    for n in range(count):
        if n % 2 == 0:
            points.append(("city", GeoPoint(*_around(rng, rng.choices(centres, weights)[0]))))
        else:
            points.append(("random", GeoPoint(*_uniform(rng, CHINA))))
    return points


class Statements:
    """The statements an engine runs while ``recording``: their SQL and parameters."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.recording = False
        # A search is a read: on MySQL it runs on the reads' own pool (``reader_of``).
        for each in {engine, reader_of(engine)}:
            event.listen(each, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if self.recording:
            self.seen.append((statement, parameters))

    def during(self, work: Callable[[], object]) -> list[tuple[str, Any]]:
        self.seen, self.recording = [], True
        try:
            work()
        finally:
            self.recording = False
        return self.seen


def _q(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency(label: str, values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"  {label:<7} n={len(ms):<4} p50 {_q(ms, 0.5):7.1f} ms  p95 {_q(ms, 0.95):7.1f} ms"
        f"  p99 {_q(ms, 0.99):7.1f} ms  max {max(ms):7.1f} ms  mean {statistics.fmean(ms):6.1f} ms"
    )


def _counts(label: str, values: Sequence[int]) -> str:
    return (
        f"  {label:<26} p50 {_q(values, 0.5):>6}  p95 {_q(values, 0.95):>6}"
        f"  p99 {_q(values, 0.99):>6}  max {max(values):>6}  mean {statistics.fmean(values):8.1f}"
    )


def _in_band(engine: Engine, box: Box) -> int:
    """The index entries a range on ``lat`` alone reads: the services in the box's latitudes,
    at any longitude."""
    c = care_services.c
    with engine.connect() as connection:
        query = select(func.count()).where(c.lat.between(box.south, box.north))
        return int(connection.execute(query).scalar_one())


def _in_strips(engine: Engine, box: Box) -> int:
    """The index entries the box query's seeks read: the services in the box's latitudes within
    the longitude strips it spans."""
    c = care_services.c
    with engine.connect() as connection:
        query = select(func.count()).where(
            c.lng_strip.in_(box_strips(box)), c.lat.between(box.south, box.north)
        )
        return int(connection.execute(query).scalar_one())


def _explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        result = connection.exec_driver_sql(prefix + statement, parameters)
        columns = list(result.keys())
        lines = [" | ".join(columns)]
        lines += [" | ".join(str(v) for v in row) for row in result]
        if engine.dialect.name != "sqlite":  # run it: rows actually read at each step
            result = connection.exec_driver_sql("ANALYZE " + statement, parameters)
            columns = list(result.keys())
            lines += ["ANALYZE:", " | ".join(columns)]
            lines += [" | ".join(str(v) for v in row) for row in result]
    return lines


def _short(statement: str) -> str:
    flat = " ".join(statement.split())
    flat = re.sub(
        r"\((?:(?:\?|%s), ){3,}(?:\?|%s)\)",
        lambda m: f"(... {m.group(0).count(',') + 1} parameters)",
        flat,
    )
    flat = re.sub(r"^SELECT .*? FROM ", "SELECT ... FROM ", flat)
    return flat if len(flat) < 600 else flat[:600] + " ..."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--hospitals", type=int, help="default: one per 100 services")
    parser.add_argument("--cities", type=int, default=300)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--layout", choices=["spread", "hospital"], default="spread")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after loading")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    args.hospitals = args.hospitals or max(1, args.services // 100)

    rng = random.Random(args.seed)
    url, resource = throwaway_database(args.backend)
    try:
        engine = make_engine(url)
        upgrade(engine)
        cities, loaded = _load(engine, args, rng)
        print(
            f"{args.backend}: {args.services} services ({args.layout}), {args.hospitals}"
            f" hospitals, {args.services * DATES_PER_SERVICE} dates loaded in {loaded:.1f} s"
            f"{' (ANALYZE run)' if args.analyze else ''}"
        )
        clock = ManualClock(NOW)
        services = build_services(lambda: SqlUnitOfWork(engine), clock)
        points = _queries(rng, cities, args.queries)
        for _, point in _queries(random.Random(args.seed + 1), cities, WARMUP):
            services.orders.search(point)

        timings: dict[str, list[float]] = {"city": [], "random": []}
        cpu: dict[str, list[float]] = {"city": [], "random": []}
        results: list[int] = []
        for kind, point in points:
            started, started_cpu = time.perf_counter(), time.process_time()
            offers = services.orders.search(point)
            timings[kind].append(time.perf_counter() - started)
            cpu[kind].append(time.process_time() - started_cpu)
            results.append(len(offers))
        print(f"search(point), limit 50, {args.queries} queries:")
        print(_latency("all", timings["city"] + timings["random"]))
        for kind in ("city", "random"):
            print(_latency(kind, timings[kind]))
        print(
            "  this process's CPU per search (the database server's not included): mean"
            f" {statistics.fmean(cpu['city'] + cpu['random']) * 1000:.1f} ms"
            f" (city {statistics.fmean(cpu['city']) * 1000:.1f} ms,"
            f" random {statistics.fmean(cpu['random']) * 1000:.1f} ms)"
        )

        # Untimed: what each search did.
        statements = Statements(engine)
        earliest = (NOW - dt.timedelta(days=1)).date()
        candidates: list[int] = []
        band: list[int] = []
        strips: list[int] = []
        covered: list[int] = []
        per_search: list[int] = []
        box_times: list[float] = []
        for _, point in points:
            per_search.append(len(statements.during(lambda p=point: services.orders.search(p))))
            with SqlUnitOfWork(engine) as uow:
                started = time.perf_counter()
                box = search_box(point, MAX_RADIUS_KM)
                found = uow.care_services.reaches_in(
                    box, offered_from=earliest, metric=flat_metric(box), point=point
                )
                box_times.append(time.perf_counter() - started)
            candidates.append(len(found))
            band.append(_in_band(engine, search_box(point, MAX_RADIUS_KM)))
            strips.append(_in_strips(engine, search_box(point, MAX_RADIUS_KM)))
            covered.append(len(reaching(found, point)))
        print("per query:")
        print(_counts("results (offers)", results))
        print(_counts("rows in the latitude band", band))
        print(_counts("rows in the box's strips", strips))
        print(_counts("box candidates", candidates))
        print(_counts("covering the point", covered))
        print(_counts("statements per search", per_search))
        share = sum(covered) / max(1, sum(candidates))
        print(f"  covered / candidates overall: {share:.1%}")
        print(_latency("reaches_in", box_times) + "  (reaches_in alone: the light box query)")

        # The plans: at the largest city's centre (box query, then its dates query), and at a
        # sparse point (Urumqi: few services in its latitudes).
        plans = [(GeoPoint(*cities[0][0]), 2), (GeoPoint(43.83, 87.62), 1)]
        for point, shown in plans:
            with SqlUnitOfWork(engine) as uow:
                seen = statements.during(
                    lambda p=point, u=uow: u.care_services.reaches_in(
                        search_box(p, MAX_RADIUS_KM),
                        offered_from=earliest,
                        metric=flat_metric(search_box(p, MAX_RADIUS_KM)),
                        point=p,
                    )
                )
            names = ["box query"][:shown]
            for name, (statement, parameters) in zip(names, seen, strict=False):
                print(f"{name} at {point.lat}, {point.lng}: {_short(statement)}")
                for line in _explain(engine, statement, parameters):
                    print(f"    {line}")

        if args.profile:
            city_points = [p for kind, p in points if kind == "city"][: args.profile]
            profiler = cProfile.Profile()
            profiler.enable()
            for point in city_points:
                services.orders.search(point)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(25)
            print(f"cProfile over {len(city_points)} city searches:")
            print(out.getvalue())
        engine.dispose()
    finally:
        resource.cleanup()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
