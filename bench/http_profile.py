"""Where one HTTP request's time goes, in process: CPU per request and the database round trips of
the two hot endpoints, ``GET /v1/doctors/{id}/sessions`` and ``POST /v1/appointments``.

    python bench/http_profile.py --db mariadb
    python bench/http_profile.py --db mariadb --requests 2000
    python bench/http_profile.py --db mariadb --driver mysqldb     # mysqlclient, not PyMySQL
    python bench/http_profile.py --db sqlite
    python bench/http_profile.py --db mariadb --pyinstrument post   # a call tree of the POSTs

The whole app (``create_app`` on ``bootstrap``'s services, middleware and authentication
included) is called through Falcon's test client in this process, so no socket, gunicorn or
load generator shares the CPU with it: the CPU time per request is steady on a noisy machine,
where wall-clock throughput is not (``bench/http.py`` measures that, with wrk). Round trips are
counted in the driver itself (every command it sends: queries, COMMIT and ROLLBACK, pings), so
the pool's pre-ping and reset-on-return are in the count. ``--driver`` picks the MariaDB driver:
PyMySQL (the default) or mysqlclient (``mysql+mysqldb``, the optional C driver).

Every POST books a new patient into a session with places left; every GET lists one doctor's
sessions for 7 days. Printed: CPU (user + system) per request, round trips and statements per
request, for each endpoint after ``--warmup`` unmeasured requests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import resource
import secrets
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import falcon.testing
from databases import throwaway_database
from sqlalchemy import event, make_url

from medbook.adapters.security import JwtTokens
from medbook.adapters.sql import engine as engine_module
from medbook.adapters.sql.accounts import credentials, patients
from medbook.bootstrap import Settings, bootstrap, migrate
from medbook.domain import PERIODS, WeeklySchedule
from medbook.domain.shared.actors import Actor, Role
from medbook.entrypoints.http.app import create_app

DOCTORS = 20


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RoundTrips:
    """Counts what the driver sends (by command) and what SQLAlchemy executes (statements)."""

    def __init__(self, engine: Any) -> None:
        self.commands: Counter[str] = Counter()
        self.statements = 0
        # Reads have a pool of their own on MySQL (an older medbook, measured for comparison,
        # has none).
        reader_of = getattr(engine_module, "reader_of", lambda same: same)
        for each in {engine, reader_of(engine)}:
            event.listen(each, "before_cursor_execute", self._statement)
        if engine.dialect.driver == "pymysql":
            self._count_pymysql()
        elif engine.dialect.driver == "mysqldb":
            self._count_mysqldb()

    def _count_pymysql(self) -> None:
        import pymysql.connections

        original = pymysql.connections.Connection._execute_command
        counter = self.commands

        def counted(connection: Any, command: int, sql: Any) -> Any:
            text = sql.decode() if isinstance(sql, bytes) else str(sql)
            verb = text.split(None, 1)[0].upper() if text else f"command {command}"
            counter["ping" if command == 14 else verb] += 1
            return original(connection, command, sql)

        pymysql.connections.Connection._execute_command = counted  # type: ignore[method-assign]

    def _count_mysqldb(self) -> None:
        """Queries go through ``Connection.query``; ping, COMMIT and ROLLBACK are C calls."""
        import MySQLdb.connections

        connection_class = MySQLdb.connections.Connection
        counter = self.commands
        query = connection_class.query

        def counted(connection: Any, sql: Any) -> Any:
            text = sql.decode() if isinstance(sql, bytes) else str(sql)
            counter[text.split(None, 1)[0].upper() if text else "query"] += 1
            return query(connection, sql)

        def call(name: str, word: str) -> Any:
            original = getattr(connection_class, name)

            def counted_call(connection: Any, *args: Any) -> Any:
                counter[word] += 1
                return original(connection, *args)

            return counted_call

        connection_class.query = counted
        for name, word in (("ping", "ping"), ("commit", "COMMIT"), ("rollback", "ROLLBACK")):
            setattr(connection_class, name, call(name, word))

    def _statement(self, *args: Any) -> None:
        self.statements += 1

    def reset(self) -> None:
        self.commands.clear()
        self.statements = 0


def _sessions(doctor_ids: list[int], start: dt.date, days: int) -> Iterator[tuple[int, str, str]]:
    for day in range(days):
        for doctor_id in doctor_ids:
            for period in PERIODS:
                yield doctor_id, (start + dt.timedelta(days=day)).isoformat(), period.value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="mariadb")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--pyinstrument", choices=["get", "post"])
    parser.add_argument(
        "--driver",
        choices=["pymysql", "mysqldb"],
        default="pymysql",
        help="the MariaDB driver: PyMySQL, or mysqlclient (pip install 'medbook[mysqlclient]')",
    )
    args = parser.parse_args()

    url, resource_ = throwaway_database(args.db)
    if args.db == "mariadb":
        server = make_url(url)
        server = server.set(drivername=f"{server.get_backend_name()}+{args.driver}")
        url = server.render_as_string(hide_password=False)
    data = tempfile.TemporaryDirectory()
    secret = secrets.token_urlsafe(48)
    try:
        environ = {
            "MEDBOOK_DATABASE_URL": url,
            "MEDBOOK_DATA_DIR": data.name,
            "MEDBOOK_JWT_SECRET": secret,
        }
        settings = Settings.from_env({**os.environ, **environ})
        migrate(settings)
        services = bootstrap(settings)
        engine = getattr(services, "engine", None) or _engine_of(services)
        trips = RoundTrips(engine)
        tokens = JwtTokens(secret.encode())
        now = services.clock.now()

        directory = services.directory
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
        total = args.requests + args.warmup
        patient_ids = _patients(engine, total, now)
        app = create_app(services)
        client = falcon.testing.TestClient(app)
        start = (now + dt.timedelta(days=1)).date()
        places = itertools.cycle(list(_sessions(doctor_ids, start, 2)))

        def post(n: int) -> None:
            doctor_id, date, period = next(places)
            token = tokens.issue(Actor(patient_ids[n], Role.PATIENT), now)
            result = client.simulate_post(
                "/v1/appointments",
                json={"doctor_id": doctor_id, "date": date, "period": period},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert result.status_code == 201, result.text

        getter = tokens.issue(Actor(patient_ids[0], Role.PATIENT), now)
        end = (start + dt.timedelta(days=6)).isoformat()

        def get(n: int) -> None:
            result = client.simulate_get(
                f"/v1/doctors/{doctor_ids[n % DOCTORS]}/sessions",
                params={"from": start.isoformat(), "to": end},
                headers={"Authorization": f"Bearer {getter}"},
            )
            assert result.status_code == 200, result.text

        driver = f" ({engine.dialect.driver})" if args.db == "mariadb" else ""
        print(f"{args.db}{driver}: {args.requests} requests each, after {args.warmup} unmeasured")
        for name, call in (("get", get), ("post", post)):
            _measure(name, call, args, trips)
        services.close()
    finally:
        resource_.cleanup()  # type: ignore[attr-defined]
        data.cleanup()


def _measure(
    name: str, call: Callable[[int], None], args: argparse.Namespace, trips: RoundTrips
) -> None:
    for n in range(args.warmup):
        call(n)
    trips.reset()
    profiler = None
    if args.pyinstrument == name:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
    before = _cpu()
    for n in range(args.warmup, args.warmup + args.requests):
        call(n)
    spent = _cpu() - before
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    per = args.requests
    commands = ", ".join(f"{k} {v / per:.1f}" for k, v in trips.commands.most_common())
    print(
        f"  {name.upper():4} CPU {spent / per * 1000:.2f} ms/request; "
        f"statements {trips.statements / per:.1f}; round trips "
        f"{sum(trips.commands.values()) / per:.1f} ({commands or 'n/a'})"
    )


def _patients(engine: Any, count: int, now: dt.datetime) -> list[int]:
    """``count`` patients with logins, inserted in bulk (one made-up hash: nobody logs in)."""
    with engine.begin() as connection:
        first = connection.execute(
            patients.insert().values(name="P0", phone="13900000000", created_at=now)
        ).inserted_primary_key[0]
        connection.execute(
            patients.insert(),
            [{"name": f"P{n}", "phone": f"139{n:08d}", "created_at": now} for n in range(1, count)],
        )
        ids = list(range(first, first + count))
        connection.execute(
            credentials.insert(),
            [
                {
                    "role": Role.PATIENT,
                    "phone": f"139{n:08d}",
                    "user_id": ids[n],
                    "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$bench$bench",
                }
                for n in range(count)
            ],
        )
    return ids


def _engine_of(services: Any) -> Any:
    """The SQL engine behind the services' unit of work."""
    uow = services.new_uow()
    return uow.engine


if __name__ == "__main__":
    main()
